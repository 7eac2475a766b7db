//! A plugin's own listener with its own framing (the mechanism the Melodia phone-app listener
//! uses), shown with a toy line protocol: `say TEXT\n` answers `TEXT\n` and closes.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use kino_api::serde_json::{json, Map, Value};
use kino_api::{
    CmdError, Command, CommandArgs, Ctx, Decoded, ErrorCode, Framing, Listener, Output, Plugin,
    Role, Setting,
};
use kino_testkit::TestServer;

struct Lines;

impl Framing for Lines {
    fn max_message(&self) -> usize {
        64
    }
    fn decode(&self, input: &[u8]) -> Decoded {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return Decoded::Incomplete;
        };
        let line = String::from_utf8_lossy(&input[..end]).to_string();
        match line.split_once(' ') {
            Some(("say", text)) => {
                let mut args = Map::new();
                args.insert("text".into(), json!(text));
                Decoded::Request {
                    consumed: end + 1,
                    command: "lines.say".into(),
                    args,
                    payload: None,
                }
            }
            Some(("steal", _)) => Decoded::Request {
                consumed: end + 1,
                command: "auth.users".into(),
                args: Map::new(),
                payload: None,
            },
            _ => Decoded::Invalid(format!("unknown line {line:?}")),
        }
    }
    fn encode(&self, result: Result<&Value, &CmdError>) -> Vec<u8> {
        match result {
            Ok(v) => format!("{}\n", v.as_str().unwrap_or("")).into_bytes(),
            Err(e) => format!("error {}\n", e.code).into_bytes(),
        }
    }
}

#[derive(CommandArgs)]
struct Say {
    text: String,
}

fn say(_: &mut Ctx, args: Say) -> Result<Output, CmdError> {
    Ok(json!(args.text.to_uppercase()).into())
}

struct LinesPlugin;

impl Plugin for LinesPlugin {
    fn name(&self) -> &'static str {
        "lines"
    }
    fn settings(&self) -> Vec<Setting> {
        vec![Setting {
            name: "lines-listen",
            help: "address of the line listener",
            default: json!(""),
        }]
    }
    fn listeners(&self, _: &kino_api::Settings) -> Vec<Listener> {
        vec![Listener {
            setting: "lines-listen",
            framing: Arc::new(Lines),
        }]
    }
    fn commands(&self) -> Vec<Command> {
        vec![Command::new("lines.say", "shout", say)
            .role(Role::Anon)
            .internal()]
    }
}

fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_listener_is_off_unless_its_setting_has_an_address() {
    let server = TestServer::with(kino_testkit::with_auth(vec![Arc::new(LinesPlugin)]), |c| c);
    assert!(server.plugin_listeners.is_empty());
}

#[test]
fn framed_requests_run_the_plugins_commands_and_close() {
    let server = TestServer::with(kino_testkit::with_auth(vec![Arc::new(LinesPlugin)]), |c| {
        c.setting("lines-listen", json!("127.0.0.1:0"))
    });
    let (setting, addr) = server.plugin_listeners[0];
    assert_eq!(setting, "lines-listen");
    assert_eq!(exchange(addr, b"say hello\nsay again\n"), "HELLO\n");
    // Another plugin's command cannot be reached through this listener.
    assert_eq!(exchange(addr, b"steal x\n"), "error unknown_command\n");
    // Invalid and oversized messages close the connection without a reply.
    assert_eq!(exchange(addr, b"nonsense\n"), "");
    assert_eq!(exchange(addr, &[b'x'; 200]), "");
    // The internal command is not reachable on the main port, and the server still serves.
    let mut c = server.client();
    let err = c.call("lines.say", json!({"text": "x"})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownCommand));
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}
