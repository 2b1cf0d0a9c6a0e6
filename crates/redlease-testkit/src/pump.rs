//! One proxied connection: connect upstream, then copy bytes both ways
//! while obeying the proxy's controls.
//!
//! Each direction is one thread that reads with a short timeout, so it can
//! deliver delayed chunks on time, notice a reset or a stopping proxy, and
//! apply a latency or black hole switched on mid-connection. Delayed chunks
//! wait in a FIFO queue with their due time; reading goes on meanwhile, so a
//! latency delays the traffic without throttling it.
//!
//! Closing comes in two kinds: a peer that closes (EOF) or fails closes the
//! other side gracefully (FIN), after delivering what is still queued; a
//! reset (controls, partition, limits) sets `SO_LINGER` to zero on both
//! sockets and wakes the pumps without a FIN, so that the last close sends a
//! RST, as a broken network path would.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::proxy::{self, Controls, MAX_QUEUED_BYTES, Shared, TICK};

/// How long connecting to the upstream node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Size of one read.
const CHUNK: usize = 16 * 1024;

/// One client connection and, once connected, its upstream connection.
pub(crate) struct Conn {
    client: TcpStream,
    upstream: OnceLock<TcpStream>,
    closed: AtomicBool,
    tainted: AtomicBool,
    /// The client sent a (P/S)SUBSCRIBE: this is a pub/sub connection.
    subscriber: AtomicBool,
    /// Cut half-open: every byte is dropped, both ways, without a FIN or RST.
    half_open: AtomicBool,
}

impl Conn {
    pub(crate) fn new(client: TcpStream) -> io::Result<Arc<Conn>> {
        client.set_nonblocking(false)?;
        client.set_nodelay(true)?;
        Ok(Arc::new(Conn {
            client,
            upstream: OnceLock::new(),
            closed: AtomicBool::new(false),
            tainted: AtomicBool::new(false),
            subscriber: AtomicBool::new(false),
            half_open: AtomicBool::new(false),
        }))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Whether a black hole dropped some of its bytes.
    pub(crate) fn is_tainted(&self) -> bool {
        self.tainted.load(Ordering::Relaxed)
    }

    /// Whether the client subscribed on this connection.
    pub(crate) fn is_subscriber(&self) -> bool {
        self.subscriber.load(Ordering::Relaxed)
    }

    /// Whether the connection was cut half-open.
    pub(crate) fn is_half_open(&self) -> bool {
        self.half_open.load(Ordering::Relaxed)
    }

    /// Cuts the connection half-open; false if it already was.
    pub(crate) fn cut_half_open(&self) -> bool {
        !self.half_open.swap(true, Ordering::Relaxed)
    }

    /// Resets both sides (RST once the last handle is closed).
    pub(crate) fn reset(&self) {
        self.closed.store(true, Ordering::Relaxed);
        reset_stream(&self.client);
        if let Some(upstream) = self.upstream.get() {
            reset_stream(upstream);
        }
    }

    /// Closes both sides gracefully (FIN); no effect after a reset.
    fn close(&self) {
        if self.closed.swap(true, Ordering::Relaxed) {
            return;
        }
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(upstream) = self.upstream.get() {
            let _ = upstream.shutdown(Shutdown::Both);
        }
    }
}

/// Makes the socket's last close send a RST, and wakes any reader of it
/// without sending a FIN.
pub(crate) fn reset_stream(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let fd = stream.as_raw_fd();
    // SAFETY: `fd` is an open socket owned by `stream` for the whole call, and
    // the option value is a properly sized `linger`.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::shutdown(fd, libc::SHUT_RD);
    }
}

/// Runs one connection to its end: connects upstream, pumps replies on a
/// second thread and requests on this one.
pub(crate) fn run(conn: Arc<Conn>, shared: Arc<Shared>) {
    let upstream = match TcpStream::connect_timeout(&proxy::upstream(&shared), CONNECT_TIMEOUT) {
        Ok(upstream) => upstream,
        Err(_) => {
            conn.reset();
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let _ = conn.upstream.set(upstream);
    let Some(upstream) = conn.upstream.get() else {
        conn.reset();
        return;
    };
    if conn.is_closed() {
        // Reset while we were connecting.
        conn.reset();
        return;
    }
    let streams = (
        conn.client.try_clone(),
        upstream.try_clone(),
        conn.client.try_clone(),
        upstream.try_clone(),
    );
    let (Ok(client_in), Ok(upstream_out), Ok(client_out), Ok(upstream_in)) = streams else {
        conn.reset();
        return;
    };
    let replies = {
        let (conn, shared) = (Arc::clone(&conn), Arc::clone(&shared));
        thread::Builder::new()
            .name("proxy-replies".into())
            .spawn(move || pump(&upstream_in, &client_out, 1, &conn, &shared.controls))
    };
    match replies {
        Ok(handle) => shared.keep_thread(handle),
        Err(_) => {
            conn.reset();
            return;
        }
    }
    pump(&client_in, &upstream_out, 0, &conn, &shared.controls);
}

/// Copies `src` to `dst` (direction index `dir`) until either side closes,
/// the connection is reset or the proxy stops.
fn pump(src: &TcpStream, dst: &TcpStream, dir: usize, conn: &Conn, controls: &Controls) {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut queued = 0usize;
    let mut buf = vec![0u8; CHUNK];
    let _ = dst.set_write_timeout(Some(TICK));
    loop {
        if conn.is_closed() || controls.stopping.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, bytes)) = queue.pop_front() else {
                break;
            };
            queued -= bytes.len();
            if deliver(dst, &bytes, conn, controls).is_err() {
                conn.close();
                return;
            }
        }
        let wait = queue.front().map_or(TICK, |(due, _)| {
            due.saturating_duration_since(now)
                .clamp(Duration::from_millis(1), TICK)
        });
        if src.set_read_timeout(Some(wait)).is_err() {
            conn.close();
            return;
        }
        match (&*src).read(&mut buf) {
            Ok(0) => {
                if !conn.is_closed() {
                    drain(&mut queue, dst, conn, controls);
                    conn.close();
                }
                return;
            }
            Ok(n) => {
                if dir == 0 && !conn.is_subscriber() && subscribes(&buf[..n]) {
                    conn.subscriber.store(true, Ordering::Relaxed);
                }
                if conn.is_half_open() {
                    controls.dropped.fetch_add(n as u64, Ordering::Relaxed);
                    continue;
                }
                if controls.black_holed(dir) {
                    conn.tainted.store(true, Ordering::Relaxed);
                    controls.dropped.fetch_add(n as u64, Ordering::Relaxed);
                    continue;
                }
                let latency = controls.latency(dir);
                if latency.is_zero() && queue.is_empty() {
                    if deliver(dst, &buf[..n], conn, controls).is_err() {
                        conn.close();
                        return;
                    }
                } else {
                    queue.push_back((Instant::now() + latency, buf[..n].to_vec()));
                    queued += n;
                    if queued > MAX_QUEUED_BYTES {
                        conn.reset();
                        return;
                    }
                }
            }
            Err(e) if is_transient(&e) => {}
            Err(_) => {
                conn.close();
                return;
            }
        }
    }
}

/// Delivers what is still queued, each chunk at its due time, before a
/// graceful close.
fn drain(
    queue: &mut VecDeque<(Instant, Vec<u8>)>,
    dst: &TcpStream,
    conn: &Conn,
    controls: &Controls,
) {
    while let Some((due, bytes)) = queue.pop_front() {
        loop {
            if conn.is_closed() || controls.stopping.load(Ordering::Relaxed) {
                return;
            }
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            thread::sleep(left.min(TICK));
        }
        if deliver(dst, &bytes, conn, controls).is_err() {
            return;
        }
    }
}

/// Writes all of `bytes`, giving up when the connection is reset or the
/// proxy stops while the receiver does not read.
fn deliver(dst: &TcpStream, mut bytes: &[u8], conn: &Conn, controls: &Controls) -> io::Result<()> {
    while !bytes.is_empty() {
        if conn.is_closed() || controls.stopping.load(Ordering::Relaxed) {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        match (&*dst).write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                controls.forwarded.fetch_add(n as u64, Ordering::Relaxed);
                bytes = &bytes[n..];
            }
            Err(e) if is_transient(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether `chunk` starts with a `SUBSCRIBE`, `PSUBSCRIBE` or `SSUBSCRIBE` command (the
/// name as the first bulk string of a RESP array, in any case). Only the command name
/// counts: a script that merely mentions subscribers does not make a connection one.
/// Clients write a command in one piece, and on loopback it arrives in one read.
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

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
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
