//! `redlease sandbox` and `redlease demo`: the first commands a newcomer runs.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Background, LONG, process_alive, redlease, run, wait_until};

/// Start a sandbox; return it, its servers, and the pids of the redis-servers it runs.
fn start_sandbox(args: &[&str]) -> (Background, Vec<String>, Vec<u32>) {
    let mut child = redlease(&[])
        .arg("sandbox")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sandbox");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep reading so the sandbox never blocks on a full pipe.
        for _ in lines {}
    });
    let sandbox = Background::from(child);
    let pid = sandbox.pid();
    let first = rx
        .recv_timeout(LONG)
        .expect("sandbox printed its first line in time")
        .expect("a line")
        .expect("readable");
    let servers: Vec<String> = first
        .strip_prefix("REDLEASE_SERVERS=")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .split(',')
        .map(str::to_owned)
        .collect();
    assert!(
        wait_until(LONG, || common::catches(pid, libc::SIGTERM)),
        "the sandbox never installed its signal handlers"
    );
    let pids = children_of(pid);
    (sandbox, servers, pids)
}

/// Pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

fn address(url: &str) -> SocketAddr {
    url.strip_prefix("redis://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected server url {url:?}"))
}

fn answers(url: &str) -> bool {
    TcpStream::connect_timeout(&address(url), Duration::from_millis(500)).is_ok()
}

#[test]
fn sandbox_prints_its_servers_and_cleans_up_on_sigterm() {
    let (sandbox, servers, pids) = start_sandbox(&["--nodes", "3"]);
    assert_eq!(servers.len(), 3);
    assert_eq!(pids.len(), 3, "expected 3 redis-server children");
    run(redlease(&servers).args(["exec", "r", "--", "true"]), LONG).expect_code(0);
    sandbox.signal(libc::SIGTERM);
    sandbox.finish(LONG).expect_code(0);
    assert!(
        wait_until(Duration::from_secs(10), || pids
            .iter()
            .all(|&p| !process_alive(p))),
        "redis-servers survived the sandbox"
    );
    assert!(servers.iter().all(|s| !answers(s)), "a port still answers");
}

#[test]
fn sandbox_uses_the_given_ports() {
    // Find two consecutive free ports (retrying: another process may take them).
    for _ in 0..20 {
        let Ok(probe) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = probe.local_addr().map(|a| a.port()) else {
            continue;
        };
        drop(probe);
        if port > 65000 || TcpListener::bind(("127.0.0.1", port + 1)).is_err() {
            continue;
        }
        let (sandbox, servers, _) = start_sandbox(&["--nodes", "2", "--port", &port.to_string()]);
        assert_eq!(
            servers,
            [
                format!("redis://127.0.0.1:{port}"),
                format!("redis://127.0.0.1:{}", port + 1)
            ]
        );
        sandbox.signal(libc::SIGINT);
        sandbox.finish(LONG).expect_code(0);
        return;
    }
    panic!("no free pair of ports found");
}

#[test]
fn demo_runs_and_its_checks_pass() {
    let out = run(
        redlease(&[]).args(["demo", "--workers", "3", "--sections", "40", "--nodes", "3"]),
        Duration::from_secs(120),
    );
    out.expect_code(0);
    assert!(out.stdout.contains("all checks passed"), "{out:#?}");
    assert!(
        out.stdout.contains("lost updates                 0"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("p99"), "{out:#?}");
}

#[test]
fn sandbox_without_redis_server_says_how_to_install_it() {
    let dir = common::TempDir::new("nopath");
    let out = run(
        redlease(&[])
            .env("PATH", dir.path())
            .env_remove("REDLEASE_REDIS_SERVER")
            .args(["demo"]),
        LONG,
    );
    out.expect_code(69);
    assert!(
        out.stderr.contains("apt-get install -y redis-server"),
        "{out:#?}"
    );
}
