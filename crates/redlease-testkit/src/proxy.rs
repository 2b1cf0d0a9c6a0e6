//! A TCP proxy in front of a node, to break the network between clients and
//! that node while connections are live.
//!
//! Killing or pausing a server only covers crashes and hangs. Networks fail
//! differently: packets arrive late, vanish in one direction only (the server
//! did the work, the client never hears of it), connections are reset, a node
//! is cut off for a while and then comes back. A [`Proxy`] listens on a free
//! loopback port, forwards every connection to its upstream node, and obeys
//! controls that take effect at once, also on connections already open:
//!
//! - [`Proxy::set_latency`]: every chunk is delivered `latency` after it was
//!   read, per direction, in order, without slowing the reading side;
//! - [`Proxy::black_hole`]: connections are accepted and kept, but the bytes
//!   of one direction are dropped; when the black hole ends, the connections
//!   that lost bytes are reset (their byte streams are no longer whole);
//! - [`Proxy::reset_all`]: every live connection is reset (RST);
//! - [`Proxy::partition`]: while on, new connections are reset at once and
//!   the existing ones are reset;
//! - [`Proxy::half_open_subscribers`]: the *subscriber* connections open now
//!   (their client sent `SUBSCRIBE`, `PSUBSCRIBE` or `SSUBSCRIBE`) go silent,
//!   both ways, without a FIN or RST, while command connections keep working.
//!   A pub/sub connection carries no requests of its own for long stretches:
//!   when the path under it dies silently (a NAT or firewall forgets it, a
//!   peer vanishes) the client sees no error, only silence, and the releases
//!   published on the node never arrive. A black hole would hit the command
//!   connection too, whose requests time out, which is not the fault a client
//!   must survive here. Connections made afterwards (a client replacing its
//!   dead subscriber) pass as usual.
//!
//! It runs on plain threads (one acceptor, two per connection), so the kit
//! keeps its blocking API and needs no runtime. Everything is bounded: at
//! most [`MAX_CONNECTIONS`] live connections and [`MAX_QUEUED_BYTES`] bytes
//! delayed per direction of a connection (beyond that the connection is
//! reset). Dropping the proxy closes the listener, resets every connection
//! and joins every thread; each thread notices within a few milliseconds.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::pump::{self, Conn};

/// Most connections a proxy keeps open at once; more are reset on accept.
pub const MAX_CONNECTIONS: usize = 512;

/// Most bytes a delayed direction of one connection may hold back.
pub const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;

/// How long a proxy thread blocks at most before it looks at the controls.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// One direction of the traffic through a [`Proxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server: the requests.
    ToServer,
    /// Server to client: the replies.
    ToClient,
    /// Both directions.
    Both,
}

impl Direction {
    /// The concrete directions this one stands for (as indexes 0 and 1).
    fn indexes(self) -> &'static [usize] {
        match self {
            Direction::ToServer => &[0],
            Direction::ToClient => &[1],
            Direction::Both => &[0, 1],
        }
    }
}

/// Counters of a proxy since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded.
    pub accepted: u64,
    /// Connections reset on accept (partition, limit, upstream unreachable).
    pub refused: u64,
    /// Live connections now.
    pub live: usize,
    /// Bytes delivered, both directions.
    pub forwarded: u64,
    /// Bytes dropped by a black hole or on half-open connections.
    pub dropped: u64,
}

/// What the controls say, read by every pump without locking.
#[derive(Default)]
pub(crate) struct Controls {
    latency_ns: [AtomicU64; 2],
    black_hole: [AtomicBool; 2],
    partitioned: AtomicBool,
    pub(crate) stopping: AtomicBool,
    pub(crate) forwarded: AtomicU64,
    pub(crate) dropped: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl Controls {
    pub(crate) fn latency(&self, direction: usize) -> Duration {
        Duration::from_nanos(self.latency_ns[direction].load(Ordering::Relaxed))
    }

    pub(crate) fn black_holed(&self, direction: usize) -> bool {
        self.black_hole[direction].load(Ordering::Relaxed)
    }
}

/// State shared by the proxy handle, its acceptor and its pumps.
pub(crate) struct Shared {
    pub(crate) controls: Controls,
    upstream: SocketAddr,
    conns: Mutex<Vec<Arc<Conn>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn conns(&self) -> MutexGuard<'_, Vec<Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a pump thread's handle for the final join, forgetting the
    /// finished ones so the list stays short.
    pub(crate) fn keep_thread(&self, handle: JoinHandle<()>) {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
    }

    fn reset_where(&self, which: impl Fn(&Conn) -> bool) {
        let mut conns = self.conns();
        for conn in conns.iter().filter(|c| which(c)) {
            conn.reset();
        }
        conns.retain(|c| !c.is_closed());
    }
}

/// A TCP proxy on a free loopback port in front of one upstream node; see
/// the [module docs](self). `Send + Sync`: controls may be used from any
/// thread while traffic flows.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("listen", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl Proxy {
    /// Listens on `127.0.0.1:<free port>` and forwards to `upstream`, which
    /// must be a loopback address (this kit never sends traffic elsewhere).
    pub fn start(upstream: SocketAddr) -> io::Result<Proxy> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("proxy upstream {upstream} is not a loopback address"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            controls: Controls::default(),
            upstream,
            conns: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("proxy-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect: `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node behind the proxy.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The URL clients use: `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Delays every chunk travelling in `direction` by `latency` (zero: no
    /// delay). Takes effect for bytes read from now on.
    pub fn set_latency(&self, direction: Direction, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        for &i in direction.indexes() {
            self.shared.controls.latency_ns[i].store(ns, Ordering::Relaxed);
        }
    }

    /// Drops every byte travelling in `direction` while `on`. Turning it off
    /// resets the connections that lost bytes, as a real connection whose
    /// packets vanished for long would end up reset.
    pub fn black_hole(&self, direction: Direction, on: bool) {
        for &i in direction.indexes() {
            self.shared.controls.black_hole[i].store(on, Ordering::Relaxed);
        }
        if !on {
            let c = &self.shared.controls;
            if !c.black_holed(0) && !c.black_holed(1) {
                self.shared.reset_where(Conn::is_tainted);
            }
        }
    }

    /// Resets (RST) every live connection; new ones are accepted as usual.
    pub fn reset_all(&self) {
        self.shared.reset_where(|_| true);
    }

    /// While `on`, new connections are reset at once and every live one is
    /// reset: the node is cut off. `partition(false)` lets clients in again.
    pub fn partition(&self, on: bool) {
        self.shared
            .controls
            .partitioned
            .store(on, Ordering::Relaxed);
        if on {
            self.reset_all();
        }
    }

    /// Makes every subscriber connection open now half-open: its bytes are
    /// dropped both ways from now on, without a FIN or RST. Returns how many
    /// were cut.
    pub fn half_open_subscribers(&self) -> usize {
        let mut conns = self.shared.conns();
        conns.retain(|c| !c.is_closed());
        conns
            .iter()
            .filter(|c| c.is_subscriber() && c.cut_half_open())
            .count()
    }

    /// Live subscriber connections that still pass traffic.
    pub fn subscribers(&self) -> usize {
        let mut conns = self.shared.conns();
        conns.retain(|c| !c.is_closed());
        conns
            .iter()
            .filter(|c| c.is_subscriber() && !c.is_half_open())
            .count()
    }

    /// Back to a plain pass-through: no latency, no black hole, no partition;
    /// half-open connections are reset (as the path finally failing would).
    pub fn heal(&self) {
        self.partition(false);
        self.set_latency(Direction::Both, Duration::ZERO);
        self.black_hole(Direction::Both, false);
        self.shared.reset_where(Conn::is_half_open);
    }

    /// Counters since the start.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.controls;
        let live = {
            let mut conns = self.shared.conns();
            conns.retain(|c| !c.is_closed());
            conns.len()
        };
        ProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            live,
            forwarded: c.forwarded.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.controls.stopping.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.reset_all();
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
    let controls = &shared.controls;
    while !controls.stopping.load(Ordering::Relaxed) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(TICK);
                continue;
            }
            Err(_) => {
                thread::sleep(TICK);
                continue;
            }
        };
        let full = {
            let mut conns = shared.conns();
            conns.retain(|c| !c.is_closed());
            conns.len() >= MAX_CONNECTIONS
        };
        if full || controls.partitioned.load(Ordering::Relaxed) {
            pump::reset_stream(&client);
            controls.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        match Conn::new(client) {
            Ok(conn) => {
                shared.conns().push(Arc::clone(&conn));
                controls.accepted.fetch_add(1, Ordering::Relaxed);
                let worker = Arc::clone(shared);
                let pumped = Arc::clone(&conn);
                let spawned = thread::Builder::new()
                    .name("proxy-conn".into())
                    .spawn(move || pump::run(pumped, worker));
                match spawned {
                    Ok(handle) => shared.keep_thread(handle),
                    Err(_) => conn.reset(),
                }
            }
            Err(_) => {
                controls.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The upstream of a proxy, for the pumps.
pub(crate) fn upstream(shared: &Shared) -> SocketAddr {
    shared.upstream
}
