//! The interface around the commands: acquire's unwritable output, configuration errors
//! named by their flags, the environment, formats, completions and the man page.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Stdio;

use common::{LONG, cluster, redlease, run};

fn released(servers: &[String]) {
    let status = run(redlease(servers).args(["status", "r"]), LONG);
    status.expect_code(0);
    assert_eq!(status.json()["held"], false, "{status:#?}");
}

#[test]
fn acquire_releases_and_exits_74_when_its_line_cannot_be_written() {
    let c = cluster(1);
    let servers = c.urls();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = redlease(&servers)
        .args(["acquire", "--ttl", "60s", "r"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(74), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("released"), "{stderr}");
    released(&servers);

    // stdout closed altogether.
    let mut command = redlease(&servers);
    command
        .args(["acquire", "--ttl", "60s", "r"])
        .stderr(Stdio::piped());
    // SAFETY: close(2) in the child before exec.
    unsafe {
        command.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = command.output().expect("run");
    assert_eq!(out.status.code(), Some(74), "{out:?}");
    released(&servers);
}

#[test]
fn configuration_errors_name_the_flag_and_exit_64() {
    let cases: &[(&[&str], &[&str], &str)] = &[
        (
            &["redis://127.0.0.1:1"],
            &["acquire", "--ttl", "3ms", "r"],
            "13ms",
        ),
        (
            &["redis://127.0.0.1:1"],
            &["acquire", "--ttl", "-1s", "r"],
            "negative",
        ),
        (&[""], &["acquire", "r"], "--servers"),
        (&["redis://127.0.0.1:0"], &["acquire", "r"], "port 0"),
        (&["redis://127.0.0.1:1/abc"], &["acquire", "r"], "database"),
        (
            &["redis://127.0.0.1:port"],
            &["acquire", "r"],
            "redis://127.0.0.1:port",
        ),
        (
            &["redis://127.0.0.1:1"],
            &["acquire", "--node-timeout", "0", "r"],
            "--node-timeout",
        ),
    ];
    for (servers, args, expected) in cases {
        let servers: Vec<String> = servers.iter().map(|s| (*s).to_owned()).collect();
        let out = run(redlease(&servers).args(*args), LONG);
        out.expect_code(64);
        assert!(out.stderr.contains(expected), "{args:?}: {out:#?}");
        for internal in ["servers[", "node_timeout", "InvalidClientConfig", "use '--"] {
            assert!(!out.stderr.contains(internal), "{args:?}: {out:#?}");
        }
    }
}

#[test]
fn a_db_the_server_does_not_have_is_a_configuration_error() {
    let c = cluster(1);
    let servers = vec![format!("{}/99", c.urls()[0])];
    let out = run(redlease(&servers).args(["acquire", "-n", "r"]), LONG);
    out.expect_code(64);
    assert!(out.stderr.contains("no such database"), "{out:#?}");
}

#[test]
fn options_come_from_the_environment_and_human_format_reads() {
    let c = cluster(1);
    let servers = c.urls();
    let out = run(
        redlease(&servers)
            .env("REDLEASE_TTL", "45s")
            .env("REDLEASE_FORMAT", "human")
            .args(["acquire", "r"]),
        LONG,
    );
    out.expect_code(0);
    assert!(out.stdout.contains("resource: r"), "{out:#?}");
    let validity: u64 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("validity_ms: "))
        .and_then(|v| v.parse().ok())
        .expect("validity line");
    assert!(validity > 30_000 && validity <= 45_000, "{out:#?}");
    let help = run(redlease(&servers).args(["exec", "--help"]), LONG);
    for var in [
        "REDLEASE_TTL",
        "REDLEASE_WAIT",
        "REDLEASE_KILL_AFTER",
        "REDLEASE_SERVERS",
    ] {
        assert!(help.stdout.contains(var), "{var}: {help:#?}");
    }
    assert!(help.stdout.contains("Connection options"), "{help:#?}");
}

#[test]
fn the_password_comes_from_a_file_and_stays_out_of_argv() {
    let dir = common::TempDir::new("password");
    let c = cluster(1);
    c.node(0)
        .command(&["CONFIG", "SET", "requirepass", "s3cret"])
        .expect("set a password");
    let file = dir.path().join("password");
    std::fs::write(&file, "s3cret\n").expect("write");
    let servers = c.urls();
    let out = run(
        redlease(&servers)
            .args(["acquire", "-n", "--password-file"])
            .arg(&file)
            .arg("r"),
        LONG,
    );
    out.expect_code(0);
    let out = run(
        redlease(&servers)
            .env("REDLEASE_PASSWORD", "s3cret")
            .args(["status", "r"]),
        LONG,
    );
    out.expect_code(0);
    assert!(!out.stdout.contains("s3cret"), "{out:#?}");
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(redlease(&[]).args(["completions", shell]), LONG);
        out.expect_code(0);
        assert!(out.stdout.contains("exec"), "{shell}");
        assert!(out.stdout.contains("kill-after"), "{shell}");
        assert!(
            !out.stdout.contains("supervise"),
            "internal mode offered: {shell}"
        );
    }
    let man = run(redlease(&[]).arg("man"), LONG);
    man.expect_code(0);
    assert!(man.stdout.contains(".TH redlease"), "{man:#?}");
    assert!(man.stdout.contains("79"), "exit codes in the man page");
}
