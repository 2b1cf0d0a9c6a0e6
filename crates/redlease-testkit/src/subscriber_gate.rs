//! A proxy that can make a node's *subscriber* connections half-open while its command
//! connections keep working.
//!
//! A pub/sub connection carries no requests of its own for long stretches: when the path
//! under it dies silently (a NAT or firewall forgets it, a peer vanishes without a FIN),
//! the client sees no error, only silence, and releases published on the node never
//! arrive. A [`crate::Proxy`] black hole hits every connection of a node at once, so the
//! command connection notices (its requests time out) and the fault is not the one a
//! client must survive. A [`SubscriberGate`] forwards every connection like a plain
//! proxy, remembers which connections subscribed (their client sent a `SUBSCRIBE`,
//! `PSUBSCRIBE` or `SSUBSCRIBE` as a command name), and on [`SubscriberGate::half_open_subscribers`]
//! silently drops every byte, both ways, of the subscriber connections open at that
//! moment, keeping them open. Connections made afterwards (a client replacing its dead
//! subscriber) pass as usual.
//!
//! The command name is looked for in each chunk read from the client; clients write a
//! command in one piece, and on loopback it arrives in one read. Threads only (one
//! acceptor, two per connection), bounded to [`MAX_GATE_CONNECTIONS`]; dropping the
//! gate resets every connection and joins every thread.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::pump::reset_stream;

/// Most connections a gate keeps open at once; more are reset on accept.
pub const MAX_GATE_CONNECTIONS: usize = 256;

/// How long a gate thread blocks at most before it looks at its flags.
const TICK: Duration = Duration::from_millis(5);

struct GateConn {
    client: TcpStream,
    upstream: TcpStream,
    subscriber: AtomicBool,
    dead: AtomicBool,
    closed: AtomicBool,
}

impl GateConn {
    fn reset(&self) {
        self.closed.store(true, Ordering::Relaxed);
        reset_stream(&self.client);
        reset_stream(&self.upstream);
    }
}

struct Shared {
    upstream: SocketAddr,
    stopping: AtomicBool,
    dropped: AtomicU64,
    conns: Mutex<Vec<Arc<GateConn>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn conns(&self) -> MutexGuard<'_, Vec<Arc<GateConn>>> {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.retain(|c| !c.closed.load(Ordering::Relaxed));
        conns
    }

    fn keep_thread(&self, handle: JoinHandle<()>) {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
    }
}

/// A loopback proxy in front of one node that can cut its subscriber connections
/// half-open; see the [module docs](self).
pub struct SubscriberGate {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SubscriberGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberGate")
            .field("listen", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl SubscriberGate {
    /// Listens on `127.0.0.1:<free port>` and forwards to `upstream`, which must be a
    /// loopback address.
    pub fn start(upstream: SocketAddr) -> io::Result<SubscriberGate> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gate upstream {upstream} is not a loopback address"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            stopping: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            conns: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("gate-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(SubscriberGate {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The URL clients use: `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Live subscriber connections that still pass traffic.
    pub fn subscribers(&self) -> usize {
        self.shared
            .conns()
            .iter()
            .filter(|c| c.subscriber.load(Ordering::Relaxed) && !c.dead.load(Ordering::Relaxed))
            .count()
    }

    /// Makes every subscriber connection open now half-open: its bytes are dropped both
    /// ways from now on, without a FIN or RST. Returns how many were cut.
    pub fn half_open_subscribers(&self) -> usize {
        let conns = self.shared.conns();
        let mut cut = 0;
        for c in conns.iter() {
            if c.subscriber.load(Ordering::Relaxed) && !c.dead.swap(true, Ordering::Relaxed) {
                cut += 1;
            }
        }
        cut
    }

    /// Bytes dropped on half-open connections so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Resets the half-open connections (as the path finally failing would).
    pub fn heal(&self) {
        for c in self.shared.conns().iter() {
            if c.dead.load(Ordering::Relaxed) {
                c.reset();
            }
        }
    }
}

impl Drop for SubscriberGate {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for c in self.shared.conns().iter() {
            c.reset();
        }
        let threads = std::mem::take(
            &mut *self
                .shared
                .threads
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stopping.load(Ordering::Relaxed) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                thread::sleep(TICK);
                continue;
            }
        };
        if shared.conns().len() >= MAX_GATE_CONNECTIONS {
            reset_stream(&client);
            continue;
        }
        let Ok(conn) = connect(client, shared.upstream) else {
            continue;
        };
        shared.conns().push(Arc::clone(&conn));
        for to_server in [true, false] {
            let pumped = Arc::clone(&conn);
            let worker = Arc::clone(shared);
            let spawned = thread::Builder::new()
                .name("gate-conn".into())
                .spawn(move || pump(&pumped, &worker, to_server));
            match spawned {
                Ok(handle) => shared.keep_thread(handle),
                Err(_) => conn.reset(),
            }
        }
    }
}

fn connect(client: TcpStream, upstream: SocketAddr) -> io::Result<Arc<GateConn>> {
    client.set_nonblocking(false)?;
    client.set_nodelay(true)?;
    let server = match TcpStream::connect_timeout(&upstream, Duration::from_secs(1)) {
        Ok(s) => s,
        Err(e) => {
            reset_stream(&client);
            return Err(e);
        }
    };
    server.set_nodelay(true)?;
    for s in [&client, &server] {
        s.set_read_timeout(Some(TICK))?;
    }
    Ok(Arc::new(GateConn {
        client,
        upstream: server,
        subscriber: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        closed: AtomicBool::new(false),
    }))
}

/// Whether `chunk` starts with a `SUBSCRIBE`, `PSUBSCRIBE` or `SSUBSCRIBE` command (the
/// name as the first bulk string of a RESP array, in any case). Only the command name
/// counts: a script that merely mentions subscribers does not make a connection one.
fn subscribes(chunk: &[u8]) -> bool {
    let Some(rest) = chunk.strip_prefix(b"*") else {
        return false;
    };
    let Some(header_end) = rest.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let Some(bulk) = rest[header_end + 2..].strip_prefix(b"$") else {
        return false;
    };
    let Some(len_end) = bulk.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let name_start = len_end + 2;
    let Some(len) = std::str::from_utf8(&bulk[..len_end])
        .ok()
        .and_then(|l| l.parse::<usize>().ok())
    else {
        return false;
    };
    let Some(name) = bulk.get(name_start..name_start + len) else {
        return false;
    };
    [&b"SUBSCRIBE"[..], b"PSUBSCRIBE", b"SSUBSCRIBE"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// Copies one direction until either side closes, the connection is reset or the gate
/// stops.
fn pump(conn: &GateConn, shared: &Shared, to_server: bool) {
    let (mut from, mut to) = if to_server {
        (&conn.client, &conn.upstream)
    } else {
        (&conn.upstream, &conn.client)
    };
    let mut buf = vec![0u8; 16 * 1024];
    while !shared.stopping.load(Ordering::Relaxed) && !conn.closed.load(Ordering::Relaxed) {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        let chunk = &buf[..n];
        if to_server && subscribes(chunk) {
            conn.subscriber.store(true, Ordering::Relaxed);
        }
        if conn.dead.load(Ordering::Relaxed) {
            shared.dropped.fetch_add(n as u64, Ordering::Relaxed);
            continue;
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    if !conn.closed.swap(true, Ordering::Relaxed) {
        let _ = conn.client.shutdown(Shutdown::Both);
        let _ = conn.upstream.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::subscribes;

    #[test]
    fn finds_subscribe_commands() {
        assert!(subscribes(b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n"));
        assert!(subscribes(b"*2\r\n$10\r\nssubscribe\r\n$1\r\na\r\n"));
        assert!(!subscribes(b"*2\r\n$7\r\nEVALSHA\r\n$9\r\nSUBSCRIBE\r\n"));
        assert!(!subscribes(
            b"*3\r\n$4\r\nEVAL\r\n$20\r\n-- wakes subscribers\r\n"
        ));
        assert!(!subscribes(b"*1\r\n$11\r\nUNSUBSCRIBE\r\n"));
        assert!(!subscribes(b"*1\r\n$99\r\nSUBSCRIBE\r\n"));
    }
}
