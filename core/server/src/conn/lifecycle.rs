//! A connection's request lifecycle: one value, changed only by the transitions here.

use kino_api::Identity;

use super::{Conn, Held, Sending};

/// Where the connection's one request is. Requests run one at a time, so this single value
/// replaces what were separate flags (`in_flight`, `held`, `sending`, `caller`) that had to be
/// kept consistent by hand from several files; it changes only through the methods below.
pub(super) enum Lifecycle {
    /// No request: the next frame may be parsed.
    Idle,
    /// A handler is running (on the loop, a worker or an upload thread), or its reply is
    /// being queued.
    Running { caller: Option<Identity> },
    /// The reply waits on the loop's timer (the free-download wait).
    Held {
        held: Held,
        caller: Option<Identity>,
    },
    /// The reply's body streams from a pump thread.
    Sending {
        sending: Sending,
        caller: Option<Identity>,
    },
    /// The body went out; its completion hook runs on a worker, and the next request waits
    /// for it (a client asking for its records right after a download sees that download).
    Completing,
}

impl Conn {
    /// A request was parsed and checked: it runs as `caller`.
    pub fn begin(&mut self, caller: Option<Identity>) {
        self.state = Lifecycle::Running { caller };
    }

    /// The request ended: its whole reply is queued (or the hook after its body ran).
    pub fn finish(&mut self) {
        self.state = Lifecycle::Idle;
    }

    /// The reply waits for its deadline.
    pub fn hold(&mut self, held: Held) {
        let caller = self.take_caller();
        self.state = Lifecycle::Held { held, caller };
    }

    /// The deadline passed: the held reply, to be sent now.
    pub fn take_held(&mut self) -> Option<Held> {
        match std::mem::replace(&mut self.state, Lifecycle::Idle) {
            Lifecycle::Held { held, caller } => {
                self.state = Lifecycle::Running { caller };
                Some(held)
            }
            other => {
                self.state = other;
                None
            }
        }
    }

    /// The reply's body starts streaming.
    pub fn start_sending(&mut self, sending: Sending) {
        let caller = self.take_caller();
        self.state = Lifecycle::Sending { sending, caller };
    }

    /// The body being streamed.
    pub fn sending_mut(&mut self) -> Option<&mut Sending> {
        match &mut self.state {
            Lifecycle::Sending { sending, .. } => Some(sending),
            _ => None,
        }
    }

    /// The body went out whole: the stream's state, for its completion hook.
    pub fn take_sending(&mut self) -> Option<Sending> {
        match std::mem::replace(&mut self.state, Lifecycle::Idle) {
            Lifecycle::Sending { sending, caller } => {
                self.state = Lifecycle::Running { caller };
                Some(sending)
            }
            other => {
                self.state = other;
                None
            }
        }
    }

    /// The completion hook was handed to a worker; [`Conn::finish`] when it reports back.
    pub fn completing(&mut self) {
        self.state = Lifecycle::Completing;
    }

    /// A request is in flight in any stage: no next one is parsed.
    pub fn in_flight(&self) -> bool {
        !matches!(self.state, Lifecycle::Idle)
    }

    /// A reply waits for its deadline.
    pub fn is_held(&self) -> bool {
        matches!(self.state, Lifecycle::Held { .. })
    }

    /// A body is streaming.
    pub fn is_sending(&self) -> bool {
        matches!(self.state, Lifecycle::Sending { .. })
    }

    /// The caller of the request in flight (for transfer slots and completion hooks).
    pub fn caller(&self) -> Option<&Identity> {
        match &self.state {
            Lifecycle::Running { caller }
            | Lifecycle::Held { caller, .. }
            | Lifecycle::Sending { caller, .. } => caller.as_ref(),
            Lifecycle::Idle | Lifecycle::Completing => None,
        }
    }

    fn take_caller(&mut self) -> Option<Identity> {
        match &mut self.state {
            Lifecycle::Running { caller }
            | Lifecycle::Held { caller, .. }
            | Lifecycle::Sending { caller, .. } => caller.take(),
            Lifecycle::Idle | Lifecycle::Completing => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn conn() -> (Conn, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, peer) = listener.accept().expect("accept");
        let stream = mio::net::TcpStream::from_std(server);
        (Conn::new(stream, peer, Instant::now()), client)
    }

    #[test]
    fn a_request_keeps_its_caller_from_running_to_sending_and_ends_idle() {
        let (mut c, _client) = conn();
        assert!(!c.in_flight() && c.quiet());
        let who = Identity {
            user_id: 7,
            name: "alice".into(),
            role: kino_api::Role::User,
        };
        c.begin(Some(who.clone()));
        assert!(c.in_flight() && !c.quiet());
        c.hold(Held {
            frame: Vec::new(),
            body: None,
            slot: None,
        });
        assert!(c.is_held() && c.in_flight());
        assert_eq!(c.caller(), Some(&who));
        assert!(c.take_held().is_some() && !c.is_held());
        assert!(c.take_held().is_none(), "a held reply is sent once");
        let poll = mio::Poll::new().expect("poll");
        let waker =
            std::sync::Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
        let (tx, _rx) = crossbeam_channel::unbounded();
        let chan = crate::workers::LoopChannel::new(tx, waker);
        let pipe = std::sync::Arc::new(crate::pipe::Pipe::new(16, chan.notifier(mio::Token(1))));
        c.start_sending(Sending {
            pipe,
            remaining: 0,
            sent: 0,
            on_complete: None,
            by_kernel: false,
        });
        assert!(c.is_sending() && c.sending_mut().is_some());
        assert_eq!(c.caller(), Some(&who));
        assert!(c.take_sending().is_some() && !c.is_sending());
        c.completing();
        assert!(c.in_flight() && c.caller().is_none());
        c.finish();
        assert!(!c.in_flight() && c.quiet());
    }
}
