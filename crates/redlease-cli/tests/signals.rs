//! What happens to the command `exec` runs when signals arrive or the lease is lost.

mod common;

use std::time::Duration;

use common::{
    Background, LONG, TempDir, catches, cluster, process_alive, redlease, run, wait_until,
};

/// A command that writes `ready` once its trap is set, and says which signal it got.
fn trapping(signal: &str, code: u8) -> String {
    format!(
        "trap 'echo got-{sig}; kill $! 2>/dev/null; exit {code}' {signal}; echo ready > marker; sleep 30 & wait",
        sig = signal.to_lowercase()
    )
}

fn forwards(signal: i32, name: &str, code: i32) {
    let c = cluster(3);
    let servers = c.urls();
    let dir = TempDir::new("forward");
    let exec = Background::spawn(
        redlease(&servers)
            .current_dir(dir.path())
            .args(["exec", "job", "--", "sh", "-c"])
            .arg(trapping(name, u8::try_from(code).expect("small code"))),
    );
    assert!(
        wait_until(LONG, || dir.path().join("marker").exists()),
        "the command never started"
    );
    exec.signal(signal);
    let out = exec.finish(LONG);
    out.expect_code(code);
    assert!(
        out.stdout.contains(&format!("got-{}", name.to_lowercase())),
        "{out:#?}"
    );
    // Released once the command exited.
    let status = run(redlease(&servers).args(["status", "job"]), LONG);
    status.expect_code(0);
    assert_eq!(status.json()["held"], false, "{status:#?}");
    run(
        redlease(&servers).args(["acquire", "--wait", "0", "job"]),
        LONG,
    )
    .expect_code(0);
}

#[test]
fn sigterm_is_forwarded_and_the_lease_released_after() {
    forwards(libc::SIGTERM, "TERM", 3);
}

#[test]
fn sigint_is_forwarded_and_the_lease_released_after() {
    forwards(libc::SIGINT, "INT", 4);
}

#[test]
fn losing_the_lease_stops_the_command_and_exits_79() {
    let c = cluster(5);
    let servers = c.urls();
    let dir = TempDir::new("lost");
    // The shell ignores TERM, so only the SIGKILL after --kill-after stops it; its
    // background sleep is in the same process group and must go too.
    let script = "trap '' TERM; sleep 60 & echo $! > sleeper; echo $$ > leader; wait; wait";
    let exec = Background::spawn(redlease(&servers).current_dir(dir.path()).args([
        "exec",
        "--ttl",
        "3s",
        "--kill-after",
        "1s",
        "job",
        "--",
        "sh",
        "-c",
        script,
    ]));
    let read_pid = |name: &str| -> Option<u32> {
        std::fs::read_to_string(dir.path().join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    assert!(
        wait_until(LONG, || read_pid("leader").is_some()
            && read_pid("sleeper").is_some()),
        "the command never started"
    );
    let (leader, sleeper) = (
        read_pid("leader").unwrap_or(0),
        read_pid("sleeper").unwrap_or(0),
    );
    for i in 0..3 {
        c.node(i).pause().expect("pause node");
    }
    let out = exec.finish(Duration::from_secs(30));
    for i in 0..3 {
        c.node(i).resume().expect("resume node");
    }
    out.expect_code(79);
    assert!(out.stderr.contains("not renewed in time"), "{out:#?}");
    assert!(
        wait_until(Duration::from_secs(10), || !process_alive(leader)
            && !process_alive(sleeper)),
        "the command's processes survived the loss of the lease"
    );
}

#[test]
fn a_signal_while_waiting_gives_up_without_running_the_command() {
    let c = cluster(3);
    let servers = c.urls();
    let dir = TempDir::new("waiting");
    run(
        redlease(&servers).args(["acquire", "--ttl", "60s", "job"]),
        LONG,
    )
    .expect_code(0);
    let mut exec = Background::spawn(redlease(&servers).current_dir(dir.path()).args([
        "exec",
        "job",
        "--",
        "sh",
        "-c",
        "echo ran > ran",
    ]));
    assert!(
        wait_until(LONG, || catches(exec.pid(), libc::SIGTERM)),
        "exec never installed its signal handlers"
    );
    // Let it get to waiting for the lease.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!exec.has_exited(), "exec gave up instead of waiting");
    exec.signal(libc::SIGTERM);
    let out = exec.finish(LONG);
    out.expect_code(128 + 15);
    assert!(out.stderr.contains("not run"), "{out:#?}");
    assert!(!dir.path().join("ran").exists());
}
