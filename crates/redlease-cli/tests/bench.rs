//! `redlease bench` is an external tool: it runs `redlease-bench` found next to redlease
//! or on PATH, with the arguments, the environment and the exit status passed through,
//! and says how to get the program when it is missing.
//!
//! The real `redlease-bench` is tested in its own crate; here a copy of `redlease` sits in
//! a temporary directory, alone or next to a stand-in script that reports what it got.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{LONG, TempDir, run};

/// A copy of the `redlease` binary in `dir`, run with PATH limited to `path`.
fn redlease_in(dir: &Path, path: &Path) -> Command {
    let copy = dir.join("redlease");
    std::fs::copy(env!("CARGO_BIN_EXE_redlease"), &copy).expect("copy redlease");
    let mut command = Command::new(copy);
    command
        .env("PATH", path)
        .env_remove("REDLEASE_SERVERS")
        .env_remove("REDLEASE_NODE_TIMEOUT");
    command
}

#[test]
fn a_missing_redlease_bench_says_how_to_get_it() {
    let dir = TempDir::new("bench-missing");
    let out = run(
        redlease_in(dir.path(), dir.path()).args(["bench", "--ops", "5"]),
        LONG,
    );
    out.expect_code(69);
    assert!(out.stderr.contains("redlease-bench"), "{out:#?}");
    assert!(
        out.stderr
            .contains("cargo install --path crates/redlease-bench"),
        "{out:#?}"
    );
    assert!(out.stdout.is_empty(), "{out:#?}");
}

#[test]
fn bench_runs_redlease_bench_next_to_it_with_arguments_environment_and_status() {
    let dir = TempDir::new("bench-beside");
    let script = dir.path().join("redlease-bench");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"args: $*\"\necho \"servers: $REDLEASE_SERVERS\"\necho \"timeout: $REDLEASE_NODE_TIMEOUT\"\necho \"other: $REDLEASE_OTHER\"\nexit 7\n",
    )
    .expect("write stand-in");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = run(
        redlease_in(dir.path(), Path::new("/usr/bin:/bin"))
            .env("REDLEASE_OTHER", "kept")
            .env("REDLEASE_SERVERS", "redis://127.0.0.1:7001")
            .env("REDLEASE_NODE_TIMEOUT", "50ms")
            .args(["bench", "--help", "--nodes", "1,3"]),
        LONG,
    );
    out.expect_code(7);
    assert!(out.stdout.contains("args: --help --nodes 1,3"), "{out:#?}");
    assert!(
        out.stdout.contains("servers: redis://127.0.0.1:7001"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("timeout: 50ms"), "{out:#?}");
    assert!(out.stdout.contains("other: kept"), "{out:#?}");
}
