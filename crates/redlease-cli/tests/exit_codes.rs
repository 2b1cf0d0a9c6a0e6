//! Every exit code of the interface, from the real binary against real servers:
//! scripts branch on these, so each one is pinned by a test.

mod common;

use std::time::Duration;

use common::{LONG, cluster, redlease, run};

#[test]
fn usage_errors_exit_64_with_a_message() {
    let servers = vec!["redis://127.0.0.1:1".to_owned()];
    for args in [
        &["exec", "--ttl", "soon", "r", "--", "true"][..],
        &["exec", "--ttl", "10", "r", "--", "true"],
        &["exec", "", "--", "true"],
        &["exec", "--bogus", "r", "--", "true"],
        &["acquire", "--wait", "later", "r"],
        &["release", "r"],
        &["nonsense"],
        &[],
    ] {
        let out = run(redlease(&servers).args(args), LONG);
        out.expect_code(64);
        assert!(
            out.stderr.starts_with("redlease: ") || args.is_empty(),
            "{args:?}: {out:#?}"
        );
        assert!(!out.stderr.contains("panicked"), "{out:#?}");
    }
    for servers in [
        &["not a url"][..],
        &["http://127.0.0.1:6379"],
        &["redis://127.0.0.1:6379", "redis://127.0.0.1:6379"],
    ] {
        let servers: Vec<String> = servers.iter().map(|s| (*s).to_owned()).collect();
        let out = run(redlease(&servers).args(["exec", "r", "--", "true"]), LONG);
        out.expect_code(64);
        assert!(out.stderr.contains("--servers entry"), "{out:#?}");
        assert!(!out.stderr.contains("servers["), "{out:#?}");
    }
    let out = run(
        redlease(&[]).env_remove("REDLEASE_SERVERS").args([
            "--servers",
            "redis://bad host:1",
            "status",
            "r",
        ]),
        LONG,
    );
    out.expect_code(64);
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["exec", "--help"],
        &["acquire", "--help"],
        &["extend", "--help"],
        &["release", "--help"],
        &["status", "--help"],
        &["sandbox", "--help"],
        &["demo", "--help"],
    ] {
        let out = run(redlease(&[]).args(args), LONG);
        out.expect_code(0);
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    let out = run(redlease(&[]).arg("--help"), LONG);
    assert!(
        out.stdout.contains("77   a server refused our credentials"),
        "{}",
        out.stdout
    );
    let out = run(redlease(&[]).args(["exec", "--help"]), LONG);
    assert!(out.stdout.contains("[default: 10s]"), "{}", out.stdout);
    assert!(
        out.stdout.contains("REDLEASE_FENCING_TOKEN"),
        "{}",
        out.stdout
    );
}

#[test]
fn unreachable_servers_exit_69() {
    let c = cluster(3);
    let servers = c.urls();
    for i in 0..3 {
        c.node(i).kill().expect("kill node");
    }
    for args in [
        &["exec", "r", "--", "true"][..],
        &["exec", "--wait", "0", "r", "--", "true"],
        &["acquire", "r"],
        &[
            "release",
            "--owner",
            "0123456789abcdef0123456789abcdef",
            "r",
        ],
        &["extend", "--owner", "0123456789abcdef0123456789abcdef", "r"],
        &["status", "r"],
    ] {
        let out = run(redlease(&servers).args(args), LONG);
        out.expect_code(69);
        assert!(out.stderr.contains("redlease: "), "{out:#?}");
        assert!(out.stderr.contains("quorum"), "{out:#?}");
    }
}

#[test]
fn busy_resource_exits_75() {
    let c = cluster(3);
    let servers = c.urls();
    run(
        redlease(&servers).args(["acquire", "--ttl", "60s", "r"]),
        LONG,
    )
    .expect_code(0);
    for args in [
        &["exec", "--wait", "0", "r", "--", "true"][..],
        &["exec", "--wait", "300ms", "r", "--", "true"],
        &["acquire", "--wait", "0", "r"],
    ] {
        let out = run(redlease(&servers).args(args), LONG);
        out.expect_code(75);
        assert!(out.stderr.contains("held by another owner"), "{out:#?}");
    }
}

#[test]
fn exec_exits_with_the_commands_status() {
    let c = cluster(3);
    let servers = c.urls();
    run(redlease(&servers).args(["exec", "r", "--", "true"]), LONG).expect_code(0);
    run(
        redlease(&servers).args(["exec", "r", "--", "sh", "-c", "exit 7"]),
        LONG,
    )
    .expect_code(7);
    run(
        redlease(&servers).args(["exec", "r", "--", "sh", "-c", "kill -9 $$"]),
        LONG,
    )
    .expect_code(128 + 9);
    run(
        redlease(&servers).args(["exec", "r", "--", "sh", "-c", "kill -TERM $$"]),
        LONG,
    )
    .expect_code(128 + 15);
    // The lease was released each time: a single attempt succeeds at once.
    run(
        redlease(&servers).args(["acquire", "--wait", "0", "r"]),
        LONG,
    )
    .expect_code(0);
}

#[test]
fn commands_that_cannot_start_exit_127_or_126_and_release() {
    let c = cluster(3);
    let servers = c.urls();
    let out = run(
        redlease(&servers).args(["exec", "r", "--", "redlease-test-no-such-command"]),
        LONG,
    );
    out.expect_code(127);
    assert!(out.stderr.contains("not found"), "{out:#?}");
    let dir = common::TempDir::new("noexec");
    let file = dir.path().join("script");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").expect("write");
    let out = run(
        redlease(&servers).args(["exec", "r", "--"]).arg(&file),
        LONG,
    );
    out.expect_code(126);
    run(
        redlease(&servers).args(["acquire", "--wait", "0", "r"]),
        LONG,
    )
    .expect_code(0);
}

#[test]
fn release_or_extend_by_a_wrong_owner_exits_1() {
    let c = cluster(3);
    let servers = c.urls();
    let held = run(redlease(&servers).args(["acquire", "r"]), LONG);
    held.expect_code(0);
    let wrong = "00000000000000000000000000000000";
    for args in [
        &["release", "--owner", wrong, "r"][..],
        &["extend", "--owner", wrong, "r"],
        &["release", "--owner", wrong, "never-held"],
    ] {
        let out = run(redlease(&servers).args(args), LONG);
        out.expect_code(1);
        assert!(
            out.stderr.contains("does not hold") || out.stderr.contains("not held"),
            "{out:#?}"
        );
        assert!(out.stdout.is_empty(), "{out:#?}");
    }
    // The real owner still holds it; once released, releasing again is an error.
    let owner = held.json()["owner"].as_str().expect("owner").to_owned();
    run(
        redlease(&servers).args(["release", "--owner", &owner, "r"]),
        LONG,
    )
    .expect_code(0);
    run(
        redlease(&servers).args(["release", "--owner", &owner, "r"]),
        LONG,
    )
    .expect_code(1);
    run(
        redlease(&servers).args(["extend", "--owner", &owner, "r"]),
        LONG,
    )
    .expect_code(1);
}

#[test]
fn without_servers_the_default_is_used() {
    // No --servers and no REDLEASE_SERVERS: the default 127.0.0.1:6379 is used; nothing
    // listens on it in the test environment or something does, either way no usage error.
    let out = run(
        redlease(&[]).env_remove("REDLEASE_SERVERS").args([
            "status",
            "--node-timeout",
            "50ms",
            "r",
        ]),
        Duration::from_secs(30),
    );
    assert!(matches!(out.code(), 0 | 69), "{out:#?}");
    assert!(out.stdout.contains("redis://127.0.0.1:6379"), "{out:#?}");
}
