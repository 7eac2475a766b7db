//! Typed services: how one plugin calls another. A plugin that offers commands to others
//! publishes a small contract crate (`kino-movies-api`, `kino-vip-api`) holding the request and
//! reply types and a [`Service`] constant naming the command; callers use [`Ctx::call`] with it
//! and never spell a command name or read a reply field by string. A caller lists the services
//! it uses in [`Plugin::requires`](crate::Plugin::requires), so a missing provider stops the
//! server at start-up instead of failing one request at run time.
//!
//! [`Ctx::call`]: crate::Ctx::call

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::CmdError;

/// A command another plugin may call, with its request type `Req` and reply type `Reply`.
///
/// `Req` serialises to the command's arguments (a struct with named fields, or `()` for
/// none); `Reply` deserialises from the command's `data`. The contract crate owns both, so the
/// provider and every caller compile against the same shapes.
pub struct Service<Req, Reply> {
    name: &'static str,
    types: PhantomData<fn(Req) -> Reply>,
}

impl<Req, Reply> Service<Req, Reply> {
    /// Names the command, e.g. `Service::new("movies.lookup")`.
    pub const fn new(name: &'static str) -> Self {
        Service {
            name,
            types: PhantomData,
        }
    }

    /// The command's registry name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The untyped form, for [`Plugin::requires`](crate::Plugin::requires).
    pub const fn id(&self) -> ServiceId {
        ServiceId(self.name)
    }
}

impl<Req: Serialize, Reply: DeserializeOwned> Service<Req, Reply> {
    /// The request as the command's argument object. `()` and `None` mean no arguments.
    pub fn encode(&self, req: &Req) -> Result<Map<String, Value>, CmdError> {
        match serde_json::to_value(req) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(other) => Err(CmdError::internal(format!(
                "{}: a request must be an object, not {other}",
                self.name
            ))),
            Err(e) => Err(CmdError::internal(format!("{}: request: {e}", self.name))),
        }
    }

    /// The reply from the command's `data`; a shape the contract does not describe is a bug
    /// in the provider, so `internal`.
    pub fn decode(&self, data: Value) -> Result<Reply, CmdError> {
        serde_json::from_value(data)
            .map_err(|e| CmdError::internal(format!("{} answered off contract: {e}", self.name)))
    }
}

impl<Req, Reply> Clone for Service<Req, Reply> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Reply> Copy for Service<Req, Reply> {}

impl<Req, Reply> fmt::Debug for Service<Req, Reply> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Service").field(&self.name).finish()
    }
}

/// A service's name without its types: what a plugin declares it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceId(pub &'static str);

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize)]
    struct Req {
        id: u64,
        q: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Reply {
        ok: bool,
    }

    const S: Service<Req, Reply> = Service::new("x.y");
    const NONE: Service<(), Reply> = Service::new("x.z");

    #[test]
    fn encodes_requests_and_refuses_replies_off_contract() {
        let m = S.encode(&Req { id: 3, q: None }).unwrap();
        assert_eq!(Value::Object(m), serde_json::json!({"id": 3, "q": null}));
        assert!(NONE.encode(&()).unwrap().is_empty());
        assert_eq!(
            S.decode(serde_json::json!({"ok": true})).unwrap(),
            Reply { ok: true }
        );
        let err = S.decode(serde_json::json!({"ok": "yes"})).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::Internal);
        // The detail is logged; the client gets the fixed message.
        assert_eq!(err.message, "internal server error");
    }
}
