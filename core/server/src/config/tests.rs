//! Defaults, file and command line merged; every limit one field.

use super::*;

#[test]
fn file_keys_override_defaults_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kino.toml");
    let settings = [Setting {
        name: "free-download-wait",
        help: "",
        default: Value::from(30),
    }];
    std::fs::write(
        &path,
        "listen = \"0.0.0.0:9\"\nmax_connections = 7\nfree-download-wait = 2\n",
    )
    .expect("write");
    let mut c = Config::new("data");
    apply_file(&mut c, &path, &settings).expect("valid");
    assert_eq!(
        (c.listen.as_str(), c.limits.max_connections),
        ("0.0.0.0:9", 7)
    );
    assert_eq!(c.settings.get("free-download-wait"), Some(&Value::from(2)));
    std::fs::write(&path, "lisen = 1\n").expect("write");
    assert!(apply_file(&mut Config::new("d"), &path, &settings).is_err());
    std::fs::write(&path, "max-output = 4096\nwake_budget = 3\n").expect("write");
    let mut c = Config::new("data");
    apply_file(&mut c, &path, &settings).expect("valid");
    assert_eq!((c.limits.max_output, c.limits.wake_budget), (4096, 3));
}

#[test]
fn nonsensical_limits_are_refused_naming_the_flag() {
    assert_eq!(Limits::default().validate(), Ok(()));
    type Spoil = fn(&mut Limits);
    let cases: [(Spoil, &str); 7] = [
        (|l| l.max_frame = 0, "--max-frame"),
        (|l| l.pool_nice = 20, "--pool-nice"),
        (|l| l.workers = 0, "--workers"),
        (|l| l.max_connections = 0, "--max-connections"),
        (|l| l.max_output = l.max_frame - 1, "--max-output"),
        (|l| l.max_transfers_per_user = 0, "--max-transfers-per-user"),
        (
            |l| l.frame_timeout = Duration::from_secs(u64::MAX),
            "--frame-timeout",
        ),
    ];
    for (spoil, flag) in cases {
        let mut l = Limits::default();
        spoil(&mut l);
        let err = l.validate().expect_err(flag);
        assert!(err.starts_with(flag), "{flag}: {err}");
    }
}

/// No operator commands: the core's own command line.
#[derive(Debug, clap::Subcommand)]
enum NoCommand {}

fn parse(args: &[&str], settings: &[Setting]) -> Result<Config, ConfigError> {
    let matches = command::<NoCommand>(settings)
        .try_get_matches_from(std::iter::once("kino-server").chain(args.iter().copied()))
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    merge::<NoCommand>(&matches, settings).map(|(_, c)| c)
}

#[test]
fn the_command_line_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kino.toml");
    std::fs::write(
        &path,
        "workers = 2\nmax_frame = 4096\nidle-timeout = 9\nlisten = \"127.0.0.1:7\"\n",
    )
    .expect("write");
    let file = path.to_str().expect("utf-8 temp path");
    let c = parse(
        &["--config", file, "--workers", "3", "--frame-timeout", "5"],
        &[],
    )
    .expect("valid");
    let l = &c.limits;
    assert_eq!(l.workers, 3, "the flag wins over the file");
    assert_eq!(l.max_frame, 4096, "the file wins over the default");
    assert_eq!(l.idle_timeout, Duration::from_secs(9));
    assert_eq!(l.frame_timeout, Duration::from_secs(5));
    assert_eq!(l.max_connections, 10_000, "the default stays");
    assert_eq!(c.listen, "127.0.0.1:7");
    let plain = parse(&[], &[]).expect("valid");
    assert_eq!(plain.limits, Limits::default());
    assert_eq!(plain.limits.max_upload, 16 * 1024 * 1024 * 1024);
    assert_eq!(plain.limits.session_ttl, Duration::from_secs(1800));
}

#[test]
fn every_limit_is_one_flag_and_one_key_of_the_same_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kino.toml");
    let defaults = serde_json::to_value(Limits::default()).expect("serializes");
    let keys: Vec<String> = defaults
        .as_object()
        .expect("a table")
        .keys()
        .cloned()
        .collect();
    // 20 core limits, 7 for script plugins and 10 of the HTTP gateway (`http-*`).
    assert_eq!(keys.len(), 37);
    for key in &keys {
        // A value unlike the default, through the file and through the flag.
        let (changed, in_file, want_value) = match defaults[key.as_str()].as_u64() {
            Some(n) => ((n + 3).to_string(), (n + 3).to_string(), Value::from(n + 3)),
            // The one path: the script plugins' folder.
            None if defaults[key.as_str()].is_null() => (
                "scripts".to_string(),
                "\"scripts\"".to_string(),
                Value::from("scripts"),
            ),
            // The one choice: the CPU-bound threads' scheduling policy.
            None if key == "pool-sched" => (
                "idle".to_string(),
                "\"idle\"".to_string(),
                Value::from("idle"),
            ),
            // The one address: the HTTP listener's.
            None if defaults[key.as_str()].is_string() => (
                "127.0.0.1:9".to_string(),
                "\"127.0.0.1:9\"".to_string(),
                Value::from("127.0.0.1:9"),
            ),
            // The lists: balancer and proxy addresses.
            None => (
                "10.0.0.0/8".to_string(),
                "[\"10.0.0.0/8\"]".to_string(),
                serde_json::json!(["10.0.0.0/8"]),
            ),
        };
        let mut want = defaults.clone();
        want[key.as_str()] = want_value;
        std::fs::write(&path, format!("{key} = {in_file}\n")).expect("write");
        let mut c = Config::new("data");
        apply_file(&mut c, &path, &[]).expect(key);
        assert_eq!(
            serde_json::to_value(&c.limits).expect("serializes"),
            want,
            "{key}"
        );
        let flag = format!("--{key}");
        let c = parse(&[&flag, &changed], &[]).expect(key);
        assert_eq!(
            serde_json::to_value(&c.limits).expect("serializes"),
            want,
            "{flag}"
        );
    }
}

#[test]
fn a_limit_of_the_wrong_type_in_the_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kino.toml");
    for text in [
        "max-frame = \"big\"\n",
        "warn-rate = 5000000000\n",
        "workers = -1\n",
    ] {
        std::fs::write(&path, text).expect("write");
        let err = apply_file(&mut Config::new("d"), &path, &[]).expect_err(text);
        let key = text.split(' ').next().unwrap_or_default();
        assert!(err.to_string().contains(key), "{text}: {err}");
    }
}

/// `--http-trusted-proxy` and `--proxy-protocol-from` take one address or a CIDR network, as
/// their help says, on the command line and in the file.
#[test]
fn trusted_networks_take_an_address_or_a_cidr() {
    let c = parse(
        &[
            "--http-trusted-proxy",
            "10.0.0.5,192.168.0.0/16",
            "--proxy-protocol-from",
            "::1",
        ],
        &[],
    )
    .expect("valid");
    let shown: Vec<String> = c
        .limits
        .http_trusted_proxy
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(shown, ["10.0.0.5/32", "192.168.0.0/16"]);
    assert_eq!(c.limits.proxy_protocol_from[0].to_string(), "::1/128");
    assert!(parse(&["--http-trusted-proxy", "10.0.0"], &[]).is_err());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kino.toml");
    std::fs::write(
        &path,
        "http-trusted-proxy = [\"127.0.0.1\", \"10.1.0.0/16\"]\n",
    )
    .expect("write");
    let mut c = Config::new("data");
    apply_file(&mut c, &path, &[]).expect("valid");
    assert_eq!(c.limits.http_trusted_proxy[0].to_string(), "127.0.0.1/32");
    std::fs::write(&path, "http-trusted-proxy = [\"nope\"]\n").expect("write");
    assert!(apply_file(&mut Config::new("d"), &path, &[]).is_err());
}
