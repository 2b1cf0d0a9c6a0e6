//! The command `exec` runs lives only as long as the lease: it dies with redlease, it is
//! stopped and continued with redlease, and SIGHUP reaches it. Real binary, real servers,
//! signals sent to the real process.

mod common;

use std::time::Duration;

use common::{Background, LONG, TempDir, cluster, process_alive, redlease, run, wait_until};

fn read_pid(dir: &TempDir, name: &str) -> Option<u32> {
    std::fs::read_to_string(dir.path().join(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `redlease ARGS` in the background over `nodes` fresh servers, in a fresh directory,
/// once the command has written every file of `ready` (a line each, e.g. its pid).
struct Started {
    _cluster: redlease_testkit::Cluster,
    servers: Vec<String>,
    dir: TempDir,
    exec: Background,
}

impl Started {
    fn new(nodes: usize, name: &str, args: &[&str], ready: &[&str]) -> Started {
        let cluster = cluster(nodes);
        let servers = cluster.urls();
        let dir = TempDir::new(name);
        let exec = Background::spawn(redlease(&servers).current_dir(dir.path()).args(args));
        let written = |file: &&str| {
            std::fs::read_to_string(dir.path().join(file)).is_ok_and(|s| s.ends_with('\n'))
        };
        assert!(
            wait_until(LONG, || ready.iter().all(written)),
            "never started"
        );
        Started {
            _cluster: cluster,
            servers,
            dir,
            exec,
        }
    }

    /// The pid the command wrote to `file`.
    fn pid(&self, file: &str) -> u32 {
        read_pid(&self.dir, file).unwrap_or(0)
    }
}

/// State letter of a process (`T` stopped, `S` sleeping, ...).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn the_command_dies_when_redlease_is_killed() {
    let s = Started::new(
        3,
        "pdeathsig",
        &["exec", "job", "-c", "echo $$ > leader; exec sleep 60"],
        &["leader"],
    );
    let leader = s.pid("leader");
    assert!(process_alive(leader));
    s.exec.signal(libc::SIGKILL);
    let out = s.exec.finish(LONG);
    assert_eq!(out.status.code(), None, "killed: {out:#?}");
    assert!(
        wait_until(Duration::from_secs(10), || !process_alive(leader)),
        "the command outlived redlease"
    );
}

#[test]
fn the_commands_children_die_when_redlease_is_killed() {
    // The shell's background sleep is a grandchild of redlease: a parent-death signal on
    // the shell alone would not reach it. (Its output goes elsewhere so that it does not
    // hold the test's pipes open.)
    let s = Started::new(
        3,
        "grandchild",
        &[
            "exec",
            "job",
            "-c",
            "sleep 60 >/dev/null 2>&1 & echo $! > grandchild; echo $$ > leader; wait",
        ],
        &["leader", "grandchild"],
    );
    let (leader, grandchild) = (s.pid("leader"), s.pid("grandchild"));
    assert!(process_alive(leader) && process_alive(grandchild));
    s.exec.signal(libc::SIGKILL);
    let out = s.exec.finish(LONG);
    assert_eq!(out.status.code(), None, "killed: {out:#?}");
    let gone = wait_until(Duration::from_secs(10), || {
        !process_alive(leader) && !process_alive(grandchild)
    });
    if !gone {
        // Do not leave the test's processes behind, then fail.
        for pid in [leader, grandchild] {
            if pid > 1 && process_alive(pid) {
                // SAFETY: kill(2) on a pid this test's command wrote.
                unsafe {
                    libc::kill(libc::pid_t::try_from(pid).unwrap_or(0), libc::SIGKILL);
                }
            }
        }
    }
    assert!(
        gone,
        "the command's processes outlived redlease (leader alive: {}, grandchild alive: {})",
        process_alive(leader),
        process_alive(grandchild)
    );
}

#[test]
fn sighup_is_forwarded_and_the_lease_released_after() {
    let s = Started::new(
        3,
        "hup",
        &[
            "exec",
            "job",
            "-c",
            "trap 'echo got-hup; exit 5' HUP; echo ready > marker; while :; do sleep 0.05; done",
        ],
        &["marker"],
    );
    s.exec.signal(libc::SIGHUP);
    let out = s.exec.finish(LONG);
    out.expect_code(5);
    assert!(out.stdout.contains("got-hup"), "{out:#?}");
    run(redlease(&s.servers).args(["acquire", "-n", "job"]), LONG).expect_code(0);
}

#[test]
fn ctrl_z_stops_the_command_and_sigcont_rechecks_the_lease() {
    let s = Started::new(
        3,
        "tstp",
        &[
            "exec",
            "--ttl",
            "2s",
            "-v",
            "job",
            "-c",
            "echo $$ > leader; i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i > count; sleep 0.05; done",
        ],
        &["leader"],
    );
    let leader = s.pid("leader");
    let (exec, dir) = (s.exec, &s.dir);
    exec.signal(libc::SIGTSTP);
    assert!(
        wait_until(LONG, || state(exec.pid()) == Some('T')
            && state(leader) == Some('T')),
        "redlease and the command were not both stopped"
    );
    let count = std::fs::read_to_string(dir.path().join("count")).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("count")).unwrap_or_default(),
        count,
        "the command ran on while stopped"
    );
    exec.signal(libc::SIGCONT);
    let out = exec.finish(LONG);
    out.expect_code(0);
    assert!(out.stderr.contains("still held"), "{out:#?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("count"))
            .unwrap_or_default()
            .trim(),
        "40"
    );
}

#[test]
fn a_lease_that_expired_while_stopped_ends_the_command_with_the_lost_code() {
    let s = Started::new(
        1,
        "tstp-lost",
        &[
            "exec",
            "--ttl",
            "1s",
            "--lost-exit-code",
            "42",
            "job",
            "-c",
            "echo $$ > leader; exec sleep 60",
        ],
        &["leader"],
    );
    let leader = s.pid("leader");
    let (exec, servers) = (s.exec, &s.servers);
    exec.signal(libc::SIGTSTP);
    assert!(
        wait_until(LONG, || state(exec.pid()) == Some('T')),
        "not stopped"
    );
    // Someone else takes the resource once the lease has expired.
    std::thread::sleep(Duration::from_millis(1500));
    run(
        redlease(servers).args(["acquire", "-n", "--ttl", "30s", "job"]),
        LONG,
    )
    .expect_code(0);
    exec.signal(libc::SIGCONT);
    let out = exec.finish(LONG);
    out.expect_code(42);
    assert!(out.stderr.contains("lost"), "{out:#?}");
    assert!(wait_until(Duration::from_secs(10), || !process_alive(
        leader
    )));
}

#[test]
fn a_kill_after_that_does_not_fit_is_refused_before_acquiring() {
    let c = cluster(1);
    let servers = c.urls();
    let out = run(
        redlease(&servers).args([
            "exec",
            "--ttl",
            "3s",
            "--kill-after",
            "4s",
            "job",
            "--",
            "true",
        ]),
        LONG,
    );
    out.expect_code(64);
    assert!(out.stderr.contains("--kill-after 4s"), "{out:#?}");
    run(redlease(&servers).args(["acquire", "-n", "job"]), LONG).expect_code(0);
}
