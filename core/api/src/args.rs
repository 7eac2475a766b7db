//! Typed access to a request's fields (mini-redis `Parse`, over a JSON object).
//!
//! The registry has already checked every declared argument's JSON type and refused unknown
//! fields before a handler runs, so these accessors only fail on a plugin bug or on
//! range checks; they still return `bad_args` rather than panic.

use serde_json::{Map, Value};

use crate::CmdError;

/// The arguments of one request.
#[derive(Debug, Clone, Default)]
pub struct Args {
    fields: Map<String, Value>,
}

impl Args {
    /// Wraps the request's argument fields.
    pub fn new(fields: Map<String, Value>) -> Self {
        Args { fields }
    }

    /// The raw JSON of one field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    /// All fields, e.g. to forward them to another command.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// A required string.
    pub fn str(&self, name: &str) -> Result<&str, CmdError> {
        self.opt_str(name)?.ok_or_else(|| missing(name))
    }

    /// An optional string.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, CmdError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong(name, "a string")),
        }
    }

    /// An optional string with a default.
    pub fn str_or<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str, CmdError> {
        Ok(self.opt_str(name)?.unwrap_or(default))
    }

    /// A required non-negative integer.
    pub fn u64(&self, name: &str) -> Result<u64, CmdError> {
        self.opt_u64(name)?.ok_or_else(|| missing(name))
    }

    /// An optional non-negative integer.
    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>, CmdError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| wrong(name, "a non-negative integer")),
        }
    }

    /// A required integer.
    pub fn i64(&self, name: &str) -> Result<i64, CmdError> {
        match self.get(name) {
            None => Err(missing(name)),
            Some(v) => v.as_i64().ok_or_else(|| wrong(name, "an integer")),
        }
    }

    /// An optional number.
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>, CmdError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| wrong(name, "a number")),
        }
    }

    /// `(limit, offset)` of a list command declared with [`crate::Command::paged`]; a `limit`
    /// over [`crate::command::PAGE_MAX`] is `bad_args`.
    pub fn page(&self) -> Result<(u64, u64), CmdError> {
        use crate::command::{PAGE_DEFAULT, PAGE_MAX};
        let limit = self.opt_u64("limit")?.unwrap_or(PAGE_DEFAULT);
        if limit > PAGE_MAX {
            return Err(CmdError::bad_args(format!("limit is at most {PAGE_MAX}")));
        }
        Ok((limit, self.opt_u64("offset")?.unwrap_or(0)))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, CmdError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong(name, "true or false")),
        }
    }

    /// An optional boolean with a default.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, CmdError> {
        Ok(self.opt_bool(name)?.unwrap_or(default))
    }
}

fn missing(name: &str) -> CmdError {
    CmdError::bad_args(format!("missing argument `{name}`"))
}

fn wrong(name: &str, what: &str) -> CmdError {
    CmdError::bad_args(format!("argument `{name}` must be {what}"))
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

    #[test]
    fn typed_access_and_errors() {
        let a = args(json!({"name": "x", "n": 3, "neg": -1, "b": true, "nul": null}));
        assert_eq!(a.str("name").ok(), Some("x"));
        assert_eq!(a.u64("n").ok(), Some(3));
        assert!(a.u64("neg").is_err());
        assert_eq!(a.i64("neg").ok(), Some(-1));
        assert_eq!(a.bool_or("b", false).ok(), Some(true));
        assert_eq!(a.opt_str("nul").ok(), Some(None));
        assert!(a.str("missing").is_err());
        assert!(a.str("n").is_err());
        assert_eq!(args(json!({})).page().ok(), Some((100, 0)));
        assert_eq!(
            args(json!({"limit": 5, "offset": 2})).page().ok(),
            Some((5, 2))
        );
        assert!(args(json!({"limit": 1001})).page().is_err());
    }
}
