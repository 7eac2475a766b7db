//! A command's arguments, declared once as a struct (`#[derive(CommandArgs)]`): the struct is
//! the spec `help`, completion and docs show, and the parser the handler's argument comes from.
//!
//! Core checks a request against the spec before the handler runs ([`crate::check_args`]):
//! unknown fields, missing required ones, JSON kinds, choices, ranges and lengths are all
//! `bad_args` with the argument's name. [`CommandArgs::parse`] then only converts.
//!
//! ```
//! use kino_api::{ArgChoice, CommandArgs, Paging};
//!
//! /// Rate a movie.
//! #[derive(CommandArgs)]
//! pub struct Rate {
//!     /// the movie's id
//!     movie_id: u64,
//!     /// 1 (poor) to 5 (great)
//!     #[arg(range = 1..=5)]
//!     stars: u8,
//!     /// a few words
//!     #[arg(max_len = 200)]
//!     note: Option<String>,
//!     /// which ratings
//!     #[arg(default = Which::Mine)]
//!     which: Which,
//!     #[arg(flatten)]
//!     page: Paging,
//! }
//!
//! #[derive(ArgChoice, Clone, Copy)]
//! pub enum Which { Mine, All }
//!
//! let spec = Rate::spec();
//! assert_eq!(spec[1].range_text().as_deref(), Some("1-5"));
//! assert_eq!(spec[3].choices, ["mine", "all"]);
//! assert_eq!(spec.len(), 6);
//! ```

use serde_json::{Map, Value};

use crate::{ArgInfo, ArgKind, CmdError};

pub use kino_derive::{ArgChoice, CommandArgs};

/// The checked fields of one request, as core hands them to [`CommandArgs::parse`].
#[derive(Debug, Clone, Default)]
pub struct Args {
    fields: Map<String, Value>,
}

impl Args {
    /// Wraps the request's argument fields.
    pub fn new(fields: Map<String, Value>) -> Self {
        Args { fields }
    }

    /// The raw JSON of one field; `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    /// All fields (core's own use: the envelope, forwarding).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

/// A struct that is a command's arguments: its spec and its parser. Derive it.
pub trait CommandArgs: Sized {
    /// The arguments in the order usage shows them.
    fn spec() -> Vec<ArgInfo>;
    /// The struct from fields core has already checked against [`CommandArgs::spec`].
    fn parse(args: &Args) -> Result<Self, CmdError>;
}

/// No arguments.
impl CommandArgs for () {
    fn spec() -> Vec<ArgInfo> {
        Vec::new()
    }

    fn parse(_: &Args) -> Result<Self, CmdError> {
        Ok(())
    }
}

/// A type one argument can have: its JSON kind and its conversion.
pub trait ArgValue: Sized {
    /// The JSON kind core checks.
    const KIND: ArgKind;
    /// Whether a request may leave it out (`Option<T>`).
    const OPTIONAL: bool = false;

    /// The closed set of values, for enums.
    fn choices() -> Vec<String> {
        Vec::new()
    }

    /// Converts the field (`None` when absent or `null`).
    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError>;

    /// The JSON of a value, for a default shown in `help`.
    fn to_json(&self) -> Value;
}

impl<T: ArgValue> ArgValue for Option<T> {
    const KIND: ArgKind = T::KIND;
    const OPTIONAL: bool = true;

    fn choices() -> Vec<String> {
        T::choices()
    }

    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
        match value {
            None => Ok(None),
            Some(v) => T::from_arg(name, Some(v)).map(Some),
        }
    }

    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_json)
    }
}

fn present<'v>(name: &str, value: Option<&'v Value>) -> Result<&'v Value, CmdError> {
    value.ok_or_else(|| CmdError::bad_args(format!("missing argument `{name}`")))
}

fn wrong(name: &str, what: &str) -> CmdError {
    CmdError::bad_args(format!("argument `{name}` must be {what}"))
}

/// The error for a string outside an enum's choices (core refuses these first).
pub fn not_a_choice(name: &str, choices: &[String]) -> CmdError {
    wrong(name, &format!("one of {}", choices.join(", ")))
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl ArgValue for $t {
            const KIND: ArgKind = ArgKind::Uint;

            fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
                let n = present(name, value)?
                    .as_u64()
                    .ok_or_else(|| wrong(name, "a non-negative integer"))?;
                <$t>::try_from(n).map_err(|_| wrong(name, &format!("at most {}", <$t>::MAX)))
            }

            fn to_json(&self) -> Value {
                Value::from(*self)
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);

impl ArgValue for i64 {
    const KIND: ArgKind = ArgKind::Int;

    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
        present(name, value)?
            .as_i64()
            .ok_or_else(|| wrong(name, "an integer"))
    }

    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ArgValue for f64 {
    const KIND: ArgKind = ArgKind::Number;

    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
        present(name, value)?
            .as_f64()
            .ok_or_else(|| wrong(name, "a number"))
    }

    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ArgValue for bool {
    const KIND: ArgKind = ArgKind::Bool;

    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
        present(name, value)?
            .as_bool()
            .ok_or_else(|| wrong(name, "true or false"))
    }

    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ArgValue for String {
    const KIND: ArgKind = ArgKind::String;

    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
        match present(name, value)? {
            Value::String(s) => Ok(s.clone()),
            _ => Err(wrong(name, "a string")),
        }
    }

    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}

/// Any JSON, for commands that check the shape themselves (the legacy protocol's loose types).
impl ArgValue for Value {
    const KIND: ArgKind = ArgKind::Any;

    fn from_arg(name: &str, value: Option<&Value>) -> Result<Self, CmdError> {
        present(name, value).cloned()
    }

    fn to_json(&self) -> Value {
        self.clone()
    }
}

/// The spec of one argument of type `T` (the derive's building block).
pub fn spec_of<T: ArgValue>(name: &str, doc: &str) -> ArgInfo {
    let mut a = ArgInfo::new(name, T::KIND, !T::OPTIONAL, doc);
    a.choices = T::choices();
    a
}

/// The `limit` and `offset` of every list command, flattened into its arguments: at most
/// [`crate::PAGE_MAX`] rows, [`crate::PAGE_DEFAULT`] when not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CommandArgs)]
pub struct Paging {
    /// at most this many
    #[arg(default = crate::PAGE_DEFAULT, range = ..=crate::PAGE_MAX)]
    pub limit: u64,
    /// skip this many of the newest
    #[arg(default = 0u64)]
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => Args::new(m),
            _ => Args::default(),
        }
    }

    #[derive(CommandArgs, Debug, PartialEq)]
    struct Sample {
        /// a name
        name: String,
        #[arg(rename = "n")]
        count: Option<u8>,
        #[arg(default = true)]
        b: bool,
        #[arg(secret, max_len = 8)]
        pin: Option<String>,
    }

    #[test]
    fn the_derive_parses_and_describes() {
        let s = Sample::parse(&args(json!({"name": "x", "n": 3, "nul": null}))).unwrap();
        assert_eq!(
            s,
            Sample {
                name: "x".into(),
                count: Some(3),
                b: true,
                pin: None
            }
        );
        assert!(Sample::parse(&args(json!({"name": "x", "n": 300}))).is_err());
        assert!(Sample::parse(&args(json!({}))).is_err());
        let spec = Sample::spec();
        let names: Vec<_> = spec.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["name", "n", "b", "pin"]);
        assert_eq!(spec[0].doc, "a name");
        assert!(spec[0].required && !spec[1].required && !spec[2].required);
        assert_eq!(spec[2].default, Some(json!(true)));
        assert!(spec[3].secret);
        assert_eq!(spec[3].max_len, Some(8));
    }

    #[test]
    fn paging_has_one_rule() {
        assert_eq!(
            Paging::parse(&args(json!({}))).ok(),
            Some(Paging {
                limit: 100,
                offset: 0
            })
        );
        let spec = Paging::spec();
        assert_eq!(spec[0].max, Some(1000));
        assert_eq!(spec[0].default, Some(json!(100)));
    }
}
