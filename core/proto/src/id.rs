//! A request's `id`, kept as the exact JSON text the client sent.
//!
//! Parsing an `id` into a `Value` and printing it back loses what a client may rely on: an
//! integer past `u64::MAX` becomes a float, `1e400` does not parse at all, and `1.0` becomes
//! `1.0` or `1` depending on the path. Keeping the raw text echoes every `id` byte for byte and
//! costs one small allocation, the same as the `Value` did.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// The `id` of a request as it arrived, echoed unchanged in its reply.
#[derive(Clone)]
pub struct Id(Box<RawValue>);

impl Id {
    /// The JSON `null`, for replies to requests without a readable `id`.
    pub fn null() -> Id {
        Id(RawValue::NULL.to_owned())
    }

    /// An id holding `value` (clients and tests that build their own ids).
    pub fn from_value(value: &Value) -> Id {
        serde_json::value::to_raw_value(value).map_or_else(|_| Id::null(), Id)
    }

    /// The exact JSON text, e.g. `18446744073709551615123` or `"abc"`.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The id as a `Value`, when it fits one (`1e400` does not).
    pub fn to_value(&self) -> Option<Value> {
        serde_json::from_str(self.0.get()).ok()
    }
}

impl From<Box<RawValue>> for Id {
    fn from(raw: Box<RawValue>) -> Id {
        Id(raw)
    }
}

impl Default for Id {
    fn default() -> Id {
        Id::null()
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.0.get() == other.0.get()
    }
}

impl PartialEq<Value> for Id {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().as_ref() == Some(other)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_exact_text() {
        for text in [
            "18446744073709551615123",
            "1e400",
            "1.0",
            "\"a\\u0062\"",
            "[1, 2]",
        ] {
            let id: Id = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&id).unwrap(), text);
        }
    }

    #[test]
    fn compares_with_values() {
        assert_eq!(Id::from_value(&json!(7)), json!(7));
        assert_eq!(Id::null(), Value::Null);
        let huge: Id = serde_json::from_str("1e400").unwrap();
        assert_ne!(huge, Value::Null);
    }
}
