//! The fault kit against real servers: proxies that delay, black-hole, reset
//! and partition live connections, and nodes on a fast clock.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use redlease_testkit::{Cluster, ClusterOptions, Direction, ProxiedCluster, Proxy, spawn_owned};

/// A raw RESP client on `addr` with a read timeout.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to proxy");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    stream
}

fn send(stream: &mut TcpStream, args: &[&str]) -> io::Result<()> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(out.as_bytes())
}

/// One reply line (enough for `+PONG`, `+OK`, `:1`).
fn reply(stream: &mut TcpStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut byte)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => line.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}

fn call(stream: &mut TcpStream, args: &[&str]) -> io::Result<String> {
    send(stream, args)?;
    reply(stream)
}

#[test]
fn proxy_forwards_and_adds_latency_per_direction() {
    let cluster = ProxiedCluster::start(1).expect("redis-server");
    let proxy = cluster.proxy(0);
    assert!(proxy.url().starts_with("redis://127.0.0.1:"));
    let mut c = connect(proxy.addr());
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");

    proxy.set_latency(Direction::ToClient, Duration::from_millis(150));
    c.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let start = Instant::now();
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");
    let rtt = start.elapsed();
    assert!(rtt >= Duration::from_millis(150), "{rtt:?}");
    assert!(rtt < Duration::from_millis(1500), "{rtt:?}");

    cluster.heal();
    let start = Instant::now();
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");
    assert!(start.elapsed() < Duration::from_millis(150));
    assert_eq!(proxy.stats().live, 1);
}

#[test]
fn black_hole_drops_replies_but_the_server_does_the_work() {
    let cluster = ProxiedCluster::start(1).expect("redis-server");
    let proxy = cluster.proxy(0);
    let mut c = connect(proxy.addr());
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");
    proxy.black_hole(Direction::ToClient, true);
    send(&mut c, &["SET", "k", "v"]).expect("send");
    let err = reply(&mut c).expect_err("no reply through a black hole");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    assert_eq!(cluster.node(0).command(&["GET", "k"]).expect("get"), "v");
    assert!(proxy.stats().dropped > 0);
    // Healing resets the connection that lost bytes.
    proxy.black_hole(Direction::ToClient, false);
    c.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let read = c.read(&mut buf);
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let mut fresh = connect(proxy.addr());
    assert_eq!(call(&mut fresh, &["PING"]).expect("ping"), "+PONG");
}

#[test]
fn black_hole_of_requests_keeps_them_from_the_server() {
    let cluster = ProxiedCluster::start(1).expect("redis-server");
    let proxy = cluster.proxy(0);
    let mut c = connect(proxy.addr());
    proxy.black_hole(Direction::ToServer, true);
    send(&mut c, &["SET", "k", "v"]).expect("send");
    assert!(reply(&mut c).is_err());
    assert_eq!(
        cluster.node(0).command(&["EXISTS", "k"]).expect("exists"),
        "0"
    );
}

#[test]
fn reset_and_partition_cut_live_and_new_connections() {
    let cluster = ProxiedCluster::start(1).expect("redis-server");
    let proxy = cluster.proxy(0);
    let mut c = connect(proxy.addr());
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");
    proxy.reset_all();
    let dead = call(&mut c, &["PING"]);
    assert!(dead.is_err(), "{dead:?}");

    let mut live = connect(proxy.addr());
    assert_eq!(call(&mut live, &["PING"]).expect("ping"), "+PONG");
    proxy.partition(true);
    assert!(call(&mut live, &["PING"]).is_err());
    // New connections are reset at once (the connect itself may succeed).
    let refused = TcpStream::connect(proxy.addr()).map(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        call(&mut s, &["PING"])
    });
    assert!(matches!(refused, Err(_) | Ok(Err(_))), "{refused:?}");
    proxy.partition(false);
    let mut back = connect(proxy.addr());
    assert_eq!(call(&mut back, &["PING"]).expect("ping"), "+PONG");
    assert!(proxy.stats().refused >= 1);
}

#[test]
fn killed_node_behind_a_proxy_resets_clients_and_comes_back() {
    let cluster = ProxiedCluster::start(1).expect("redis-server");
    cluster.node(0).kill().expect("kill");
    let mut c = connect(cluster.proxy(0).addr());
    assert!(call(&mut c, &["PING"]).is_err());
    cluster.node(0).restart().expect("restart");
    let mut c = connect(cluster.proxy(0).addr());
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");
}

#[test]
fn dropped_proxy_closes_its_port_and_connections() {
    let cluster = Cluster::start(1).expect("redis-server");
    let port = cluster.node(0).port().expect("tcp");
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], port))).expect("proxy");
    let addr = proxy.addr();
    let mut c = connect(addr);
    assert_eq!(call(&mut c, &["PING"]).expect("ping"), "+PONG");
    let start = Instant::now();
    drop(proxy);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(call(&mut c, &["PING"]).is_err());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn proxies_only_forward_to_loopback() {
    let err = Proxy::start(SocketAddr::from(([192, 0, 2, 1], 6379))).expect_err("not loopback");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn fast_clock_node_expires_keys_early() {
    let cluster = Cluster::start_with_clock_rates(
        ClusterOptions {
            nodes: 2,
            ..Default::default()
        },
        &[1.0, 2.0],
    )
    .expect("redis-server and faketime (apt-get install -y faketime)");
    assert_eq!(cluster.node(0).clock_rate(), None);
    assert_eq!(cluster.node(1).clock_rate(), Some(2.0));
    for node in cluster.nodes() {
        node.command(&["SET", "k", "v", "PX", "1000"]).expect("set");
    }
    thread::sleep(Duration::from_millis(700));
    assert_eq!(
        cluster.node(0).command(&["EXISTS", "k"]).expect("real"),
        "1"
    );
    assert_eq!(
        cluster.node(1).command(&["EXISTS", "k"]).expect("fast"),
        "0"
    );
    // The pid is the server's own: pause and restart work as usual.
    cluster.node(1).pause().expect("pause");
    cluster.node(1).resume().expect("resume");
    cluster.node(1).restart().expect("restart keeps the clock");
    assert_eq!(cluster.node(1).clock_rate(), Some(2.0));
    let info = cluster.node(1).command(&["INFO", "server"]).expect("info");
    let pid = cluster.node(1).pid().expect("running");
    assert!(info.contains(&format!("process_id:{pid}")), "{info}");
}

#[test]
fn owned_helpers_are_ordinary_children() {
    let mut child = spawn_owned({
        let mut c = Command::new("sleep");
        c.arg("30");
        c
    })
    .expect("spawn sleep");
    assert!(child.try_wait().expect("status").is_none());
    child.kill().expect("kill by pid");
    child.wait().expect("reap");
}
