//! The test kit against a real `redis-server`: every way of abusing a node,
//! and above all that no process outlives its owner.

use std::env;
use std::io::{self, BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use redlease_testkit::{Cluster, ClusterOptions, Node, Reply};

fn ping(node: &Node) -> io::Result<String> {
    node.command(&["PING"])
}

/// Whether `pid` no longer names a live process (absent, or a zombie left
/// for an init that has not reaped it yet).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state == 'Z' || state == 'X'),
    }
}

fn eventually_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pids.iter().all(|&pid| is_gone(pid)) {
        assert!(Instant::now() < deadline, "still alive: {pids:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn pids(cluster: &Cluster) -> Vec<u32> {
    cluster.nodes().iter().filter_map(Node::pid).collect()
}

#[test]
fn types_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cluster>();
    assert_send_sync::<Node>();
}

#[test]
fn started_nodes_all_answer() {
    let cluster = Cluster::start(3).expect("start");
    assert_eq!(cluster.len(), 3);
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    for (i, node) in cluster.nodes().iter().enumerate() {
        assert_eq!(node.index(), i);
        assert_eq!(urls[i], node.url());
        let port = node.port().expect("tcp by default");
        assert_eq!(node.url(), format!("redis://127.0.0.1:{port}"));
        assert!(node.is_running());
        assert!(node.pid().is_some());
        assert_eq!(ping(node).expect("ping"), "PONG");
    }
    let mut ports: Vec<_> = cluster.nodes().iter().map(|n| n.port()).collect();
    ports.dedup();
    assert_eq!(ports.len(), 3, "distinct ports");
}

#[test]
fn replies_render_as_strings() {
    let cluster = Cluster::start(1).expect("start");
    let node = cluster.node(0);
    assert_eq!(node.command(&["SET", "k", "v"]).expect("set"), "OK");
    assert_eq!(node.command(&["GET", "k"]).expect("get"), "v");
    assert_eq!(node.command(&["GET", "missing"]).expect("get"), "(nil)");
    assert_eq!(node.command(&["INCR", "n"]).expect("incr"), "1");
    assert_eq!(
        node.command(&["MGET", "k", "missing"]).expect("mget"),
        "v (nil)"
    );
    assert_eq!(
        node.query(&["MGET", "k"]).expect("mget"),
        Reply::Array(vec![Reply::Bulk(b"v".to_vec())])
    );
    let err = node.command(&["NOSUCHCOMMAND"]).expect_err("error reply");
    assert!(err.to_string().contains("ERR"), "{err}");
    assert!(matches!(
        node.query(&["NOSUCHCOMMAND"]),
        Ok(Reply::Error(_))
    ));
}

#[test]
fn kill_then_restart_without_persistence_comes_back_empty() {
    let mut cluster = Cluster::start(2).expect("start");
    let url = cluster.node(0).url();
    let old_pid = cluster.node(0).pid().expect("running");
    cluster.node(0).command(&["SET", "k", "v"]).expect("set");

    cluster.node_mut(0).kill().expect("kill");
    assert_eq!(cluster.node(0).pid(), None);
    assert!(!cluster.node(0).is_running());
    assert!(is_gone(old_pid));
    assert!(ping(cluster.node(0)).is_err());
    cluster
        .node(0)
        .kill()
        .expect("killing a dead node is a no-op");
    assert!(cluster.node(0).pause().is_err(), "cannot pause a dead node");
    assert_eq!(ping(cluster.node(1)).expect("others unaffected"), "PONG");

    cluster.node_mut(0).restart().expect("restart");
    assert_eq!(cluster.node(0).url(), url);
    assert_ne!(cluster.node(0).pid(), Some(old_pid));
    assert_eq!(ping(cluster.node(0)).expect("ping"), "PONG");
    assert_eq!(
        cluster.node(0).command(&["GET", "k"]).expect("get"),
        "(nil)"
    );

    // Restarting a running node kills it first.
    cluster.node(0).command(&["SET", "k", "v"]).expect("set");
    cluster.node(0).restart().expect("restart running");
    assert_eq!(
        cluster.node(0).command(&["GET", "k"]).expect("get"),
        "(nil)"
    );
}

#[test]
fn persistence_survives_kill_and_restart() {
    let cluster = Cluster::start_with(ClusterOptions {
        nodes: 1,
        persistence: true,
        ..Default::default()
    })
    .expect("start");
    let node = cluster.node(0);
    node.command(&["SET", "k", "v"]).expect("set");
    node.kill().expect("kill");
    node.restart().expect("restart");
    assert_eq!(node.command(&["GET", "k"]).expect("get"), "v");
    node.restart_empty().expect("restart empty");
    assert_eq!(node.command(&["GET", "k"]).expect("get"), "(nil)");
}

#[test]
fn paused_node_times_out_then_resumes() {
    let cluster = Cluster::start(2).expect("start");
    let node = cluster.node(0);
    node.pause().expect("pause");
    assert!(node.is_running(), "a paused node is still running");

    let started = Instant::now();
    let err = node
        .command_with_timeout(&["PING"], Duration::from_millis(300))
        .expect_err("nothing answers");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    node.resume().expect("resume");
    assert_eq!(ping(node).expect("ping"), "PONG");

    // A paused node can be killed and restarted.
    node.pause().expect("pause");
    node.restart().expect("restart paused");
    assert_eq!(ping(node).expect("ping"), "PONG");
}

#[test]
fn wipe_forgets_keys_and_scripts() {
    let cluster = Cluster::start(1).expect("start");
    let node = cluster.node(0);
    node.command(&["SET", "k", "v"]).expect("set");
    node.command(&["SELECT", "0"]).expect("select");
    let sha = node
        .command(&["SCRIPT", "LOAD", "return 1"])
        .expect("script load");
    node.wipe().expect("wipe");
    assert_eq!(node.command(&["GET", "k"]).expect("get"), "(nil)");
    assert_eq!(
        node.command(&["SCRIPT", "EXISTS", &sha]).expect("exists"),
        "0"
    );
    assert_eq!(node.command(&["DBSIZE"]).expect("dbsize"), "0");
}

#[test]
fn unix_sockets() {
    let cluster = Cluster::start_with(ClusterOptions {
        nodes: 2,
        unix_sockets: true,
        ..Default::default()
    })
    .expect("start");
    for node in cluster.nodes() {
        assert_eq!(node.port(), None);
        let socket = node.unix_socket().expect("socket");
        assert_eq!(node.url(), format!("unix://{}", socket.display()));
        assert!(node.url().starts_with("unix:///"));
        assert_eq!(ping(node).expect("ping"), "PONG");
    }
    let node = cluster.node(1);
    node.command(&["SET", "k", "v"]).expect("set");
    node.kill().expect("kill");
    assert!(ping(node).is_err());
    node.restart().expect("restart over the stale socket file");
    assert_eq!(node.command(&["GET", "k"]).expect("get"), "(nil)");
}

#[test]
fn password_from_extra_args_is_used() {
    let cluster = Cluster::start_with(ClusterOptions {
        nodes: 1,
        extra_args: vec!["--requirepass".into(), "s3cret".into()],
        ..Default::default()
    })
    .expect("start");
    let node = cluster.node(0);
    assert_eq!(ping(node).expect("authenticated"), "PONG");
    node.wipe().expect("wipe");
    node.restart().expect("restart");
    assert!(!format!("{cluster:?}").contains("s3cret"));
}

#[test]
fn base_port_uses_consecutive_ports_and_reports_conflicts() {
    // Below the kernel's ephemeral range, so the other tests' auto-picked
    // ports never collide with these; retried in case something else does.
    let options = |base| ClusterOptions {
        nodes: 2,
        base_port: Some(base),
        ..Default::default()
    };
    let (base, cluster) = (0..20u32)
        .find_map(|attempt| {
            let base = 20_000 + ((std::process::id() * 7 + attempt * 997) % 10_000) as u16;
            match Cluster::start_with(options(base)) {
                Ok(cluster) => Some((base, cluster)),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => None,
                Err(e) => panic!("start: {e}"),
            }
        })
        .expect("two consecutive free ports");
    assert_eq!(cluster.node(0).port(), Some(base));
    assert_eq!(cluster.node(1).port(), Some(base + 1));
    assert_eq!(ping(cluster.node(1)).expect("ping"), "PONG");

    // Taken by a node of this process...
    let err = Cluster::start_with(options(base + 1)).expect_err("port in use");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains(&(base + 1).to_string()), "{err}");

    // ... or by anyone else.
    let foreign = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = foreign.local_addr().expect("addr").port();
    let err = Cluster::start_with(options(port)).expect_err("port in use");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[test]
fn failing_server_reports_its_log() {
    let err = Cluster::start_with(ClusterOptions {
        nodes: 2,
        extra_args: vec!["--no-such-option".into(), "1".into()],
        ..Default::default()
    })
    .expect_err("bad config");
    let text = err.to_string();
    assert!(text.contains("redis node 0"), "{text}");
    assert!(text.contains("no-such-option"), "log quoted: {text}");
}

#[test]
fn drop_kills_every_server_and_removes_the_directory() {
    let cluster = Cluster::start(3).expect("start");
    cluster.node(0).pause().expect("pause");
    cluster.node(1).kill().expect("kill");
    let pids = pids(&cluster);
    assert_eq!(pids.len(), 2);
    let dir = cluster.dir().to_path_buf();
    assert!(dir.is_dir());
    drop(cluster);
    for pid in &pids {
        assert!(is_gone(*pid), "pid {pid} survived the drop");
    }
    assert!(!dir.exists());
}

#[test]
fn panicking_test_kills_its_servers() {
    let (tx, rx) = mpsc::channel();
    let result = thread::spawn(move || {
        let cluster = Cluster::start(2).expect("start");
        tx.send(pids(&cluster)).expect("send");
        panic!("a failing test");
    })
    .join();
    assert!(result.is_err());
    let pids = rx.recv().expect("pids");
    assert_eq!(pids.len(), 2);
    for pid in &pids {
        assert!(is_gone(*pid), "pid {pid} survived the panic");
    }
}

#[test]
fn servers_outlive_the_thread_that_started_them() {
    let cluster = thread::spawn(|| Cluster::start(1).expect("start"))
        .join()
        .expect("thread");
    thread::spawn({
        let node_url = cluster.node(0).url();
        move || assert!(node_url.starts_with("redis://"))
    })
    .join()
    .expect("thread");
    // Restart from a thread that ends right away.
    thread::scope(|s| {
        s.spawn(|| cluster.node(0).restart().expect("restart"));
    });
    thread::sleep(Duration::from_millis(200));
    assert_eq!(ping(cluster.node(0)).expect("still alive"), "PONG");
}

struct RemoveOnDrop(std::path::PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HELPER_ENV: &str = "REDLEASE_TESTKIT_HELPER";

/// Not a test: the owner process `sigkilled_owner_takes_its_servers_along`
/// starts and then SIGKILLs.
#[test]
#[ignore = "helper process for sigkilled_owner_takes_its_servers_along"]
fn helper_owner_process() {
    if env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let cluster = Cluster::start(2).expect("start");
    let pids: Vec<String> = pids(&cluster).iter().map(u32::to_string).collect();
    println!("DIR {}", cluster.dir().display());
    println!("PIDS {}", pids.join(" "));
    thread::sleep(Duration::from_secs(60));
    drop(cluster);
}

#[test]
fn sigkilled_owner_takes_its_servers_along() {
    /// Kills the helper (by its pid) even if this test fails.
    struct Owner(std::process::Child);
    impl Drop for Owner {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let exe = env::current_exe().expect("test binary");
    let mut owner = Owner(
        Command::new(exe)
            .args([
                "--exact",
                "helper_owner_process",
                "--ignored",
                "--nocapture",
            ])
            .env(HELPER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn helper"),
    );
    let stdout = owner.0.stdout.take().expect("stdout");
    let mut dir = None;
    let pids: Vec<u32> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            if let Some(path) = line.strip_prefix("DIR ") {
                dir = Some(std::path::PathBuf::from(path));
            }
            line.strip_prefix("PIDS ")
                .map(|rest| rest.split(' ').filter_map(|p| p.parse().ok()).collect())
        })
        .expect("the helper prints its server pids");
    // The helper never gets to delete its directory.
    let dir = dir.expect("the helper prints its directory");
    let _cleanup = RemoveOnDrop(dir);
    assert_eq!(pids.len(), 2);
    for pid in &pids {
        assert!(!is_gone(*pid), "pid {pid} should be running");
    }
    drop(owner); // SIGKILL: no destructor runs in the helper
    eventually_gone(&pids);
}
