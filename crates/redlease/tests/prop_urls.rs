//! Property tests: server URLs. Arbitrary strings never make the builder panic, and a
//! password written into a URL never shows in `Debug` output or in any error.
//!
//! URLs come from configuration files and command lines, typed by people: they are
//! malformed in every way, and they carry passwords (`redis://user:PASS@host`,
//! `unix:///sock?pass=PASS`). Whatever the input, `Builder::build` must return, and the
//! builder's and manager's `Debug` and every error (refused URL, unreachable node) must
//! keep the password out.
//!
//! Building connects, so only URLs that cannot reach anything are built: those the URL
//! parser or the scheme check refuse, loopback port 1 (refused at once), and Unix socket
//! paths that do not exist. Every other string is still checked through the builder's
//! `Debug`. No other address is ever contacted.
//!
//! Secrets are a distinctive alphanumeric core with awkward characters around it; the
//! core is what must never appear (it survives percent-encoding and `Debug` escaping).
//!
//! 256 cases per property by default; for a longer run:
//! `PROPTEST_CASES=100000 cargo test -p redlease --test prop_urls`.

use std::time::Duration;

use proptest::prelude::*;
use redlease::{Builder, LockManager};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn builder(url: &str) -> Builder {
    LockManager::builder()
        .servers([url])
        .node_timeout(Duration::from_millis(20))
        .wait(Duration::ZERO)
}

/// Whether building `url` can only fail or reach nothing: it is refused before any
/// connection, or it names loopback port 1, or a Unix socket path that does not exist.
fn safe_to_build(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return true;
    };
    match parsed.scheme() {
        "redis" | "rediss" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => true,
            };
            loopback && parsed.port() == Some(1)
        }
        "unix" | "redis+unix" => {
            let path = parsed.path();
            path.starts_with("/nonexistent-redlease/") && !std::path::Path::new(path).exists()
        }
        _ => true,
    }
}

/// Build `url` (if safe), try one acquisition, and return everything that is shown to a
/// person: the builder's `Debug`, the manager's `Debug`, and every error message.
fn everything_shown(url: &str) -> Vec<String> {
    let mut shown = vec![format!("{:?}", builder(url))];
    if !safe_to_build(url) {
        return shown;
    }
    let rt = runtime();
    match rt.block_on(builder(url).build()) {
        Ok(manager) => {
            shown.push(format!("{manager:?}"));
            let e = rt
                .block_on(manager.try_acquire("prop:url"))
                .expect_err("nothing answers");
            shown.push(e.to_string());
            shown.push(format!("{e:?}"));
            for node in rt.block_on(manager.node_markers()) {
                shown.push(format!("{node:?}"));
            }
        }
        Err(e) => {
            assert!(e.is_invalid_argument(), "{e}");
            shown.push(e.to_string());
            shown.push(format!("{e:?}"));
        }
    }
    shown
}

/// URL-shaped strings: every part drawn from valid and broken choices.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("redis://"),
        Just("rediss://"),
        Just("unix://"),
        Just("redis+unix://"),
        Just("http://"),
        Just("redis:"),
        Just("redis:/"),
        Just(""),
        Just("://"),
    ];
    let user = prop_oneof![
        Just(""),
        Just("user@"),
        Just("user:pw@"),
        Just(":pw@"),
        Just("@")
    ];
    let host = prop_oneof![
        prop_oneof![
            Just("127.0.0.1:1"),
            Just("localhost:1"),
            Just("[::1]:1"),
            Just("127.0.0.1:99999"),
            Just("127.0.0.1:abc"),
            Just("[::1"),
            Just(""),
            Just("/nonexistent-redlease/s.sock"),
        ]
        .prop_map(str::to_owned),
        "[a-z0-9.:\\[\\]%-]{0,12}",
    ];
    let path = prop_oneof![
        Just(""),
        Just("/"),
        Just("/0"),
        Just("/15"),
        Just("/x"),
        Just("/-1")
    ];
    let query = prop_oneof![
        prop_oneof![
            Just(""),
            Just("?db=2"),
            Just("?db=x"),
            Just("?protocol=resp3"),
            Just("?pass=pw&user=u"),
        ]
        .prop_map(str::to_owned),
        "\\?[a-z=&%]{0,10}",
    ];
    (scheme, user, host, path, query, "(#[a-z]{0,3})?")
        .prop_map(|(s, u, h, p, q, f)| format!("{s}{u}{h}{p}{q}{f}"))
}

/// A password: a distinctive core, with awkward characters around it.
fn secret() -> impl Strategy<Value = (String, String)> {
    let awkward = prop_oneof![
        Just(""),
        Just("%"),
        Just("%40"),
        Just(":"),
        Just("@"),
        Just(" "),
        Just("\""),
        Just("\\"),
        Just("é"),
        Just("&"),
        Just("="),
        Just("+"),
        Just("["),
        Just("}"),
        Just("\u{0}"),
        Just("\n"),
    ];
    ("Zq[A-Za-z0-9]{10}", awkward.clone(), awkward)
        .prop_map(|(core, before, after)| (format!("{before}{core}{after}"), core))
}

/// Where a password goes in a URL.
fn with_secret() -> impl Strategy<Value = (String, String)> {
    let place = prop_oneof![
        Just("redis://user:{}@127.0.0.1:1"),
        Just("redis://:{}@127.0.0.1:1/0"),
        Just("redis://user:{}@localhost:1/3?protocol=resp3"),
        Just("rediss://user:{}@127.0.0.1:1"),
        Just("redis://user:{}@127.0.0.1:99999"),
        Just("redis://user:{}@127.0.0.1:1/notadb"),
        Just("redis://user:{}@[::1"),
        Just("redis://user:{}@"),
        Just("redis//user:{}@127.0.0.1:1"),
        Just("redis:user:{}@127.0.0.1:1"),
        Just("unix:///nonexistent-redlease/s.sock?pass={}"),
        Just("unix:///nonexistent-redlease/s.sock?db=1&password={}"),
        Just("redis+unix:///nonexistent-redlease/s.sock?pass={}&db=x"),
        Just("redis://127.0.0.1:1/?pass={}"),
        Just("redis://127.0.0.1:1/?db=1&pass={}"),
        Just("redis://127.0.0.1:1/?pa%73s={}"),
    ];
    (place, secret()).prop_map(|(place, (secret, core))| (fill(place, &secret), core))
}

/// `place` with `{}` replaced by `secret`: raw in the user-info part, percent-encoded in
/// a query string (where `&`, `=` or `#` would otherwise end the value, as any URL parser
/// agrees, so what follows them is not the password).
fn fill(place: &str, secret: &str) -> String {
    let in_query = place.find('?').is_some_and(|q| place.find("{}") > Some(q));
    if !in_query {
        return place.replace("{}", secret);
    }
    let encoded: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    place.replace("{}", &encoded)
}

/// Query-string passwords in URLs that do not parse (a typo in the port or host).
fn unparseable_with_query_secret() -> impl Strategy<Value = (String, String)> {
    let place = prop_oneof![
        Just("redis://127.0.0.1:99999/?pass={}"),
        Just("redis://127.0.0.1:6379x/?db=1&pass={}"),
        Just("redis://[::1/?password={}"),
        Just("unix://[/nonexistent-redlease/s.sock?pass={}"),
    ];
    (place, secret()).prop_map(|(place, (secret, core))| (fill(place, &secret), core))
}

fn config() -> ProptestConfig {
    // 256 cases unless PROPTEST_CASES says otherwise. Failures are reported with their
    // minimal input; no files are written.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_never_panic(url in "\\PC{0,40}") {
        everything_shown(&url);
    }

    #[test]
    fn url_like_strings_never_panic(url in url_like()) {
        everything_shown(&url);
    }

    #[test]
    fn passwords_never_show((url, core) in with_secret()) {
        for text in everything_shown(&url) {
            prop_assert!(!text.contains(&core), "password of {url:?} shown in: {text}");
        }
    }

    /// Known leak, reported: `config::redact` returns an unparseable URL verbatim when no
    /// `@` follows `://`, so a `?pass=` secret shows in the builder's `Debug` and in the
    /// `InvalidArgument` error. Run with `--ignored` once fixed, then drop the `ignore`.
    #[test]
    fn passwords_in_unparseable_urls_never_show((url, core) in unparseable_with_query_secret()) {
        for text in everything_shown(&url) {
            prop_assert!(!text.contains(&core), "password of {url:?} shown in: {text}");
        }
    }
}
