//! Just enough of the Redis wire protocol (RESP2) to poke a server.
//!
//! The test kit must not depend on the `redis` crate: it is the thing that
//! checks the library built on top of that crate, and it must keep working
//! when that crate is misconfigured or upgraded. A blocking connection over
//! `TcpStream`/`UnixStream`, one encoder and one recursive reply reader cover
//! the handful of commands it needs (`AUTH`, `PING`, `INFO`, `FLUSHALL`, ...)
//! and let tests send anything else through [`Node::query`](crate::Node::query).

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Bulk strings larger than this are treated as a protocol error rather
/// than allocated: no test needs them, and a garbled length must not OOM.
const MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// One reply from a server, as RESP2 defines it.
///
/// Its [`Display`](fmt::Display) rendering is what [`Node::command`](crate::Node::command)
/// returns:
///
/// | reply                 | rendered as                                   |
/// |-----------------------|-----------------------------------------------|
/// | status (`+OK`)        | its text: `OK`                                |
/// | error (`-ERR x`)      | `(error) ERR x`                               |
/// | integer (`:42`)       | its digits: `42`                              |
/// | bulk string           | its bytes as (lossy) UTF-8 text               |
/// | nil bulk / nil array  | `(nil)`                                       |
/// | array                 | its elements rendered and joined by one space; an empty array renders as the empty string |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A simple string such as `OK` or `PONG`.
    Status(String),
    /// An error reply such as `ERR unknown command` (without the leading `-`).
    Error(String),
    /// An integer reply.
    Integer(i64),
    /// A bulk string.
    Bulk(Vec<u8>),
    /// A nil bulk string or nil array.
    Nil,
    /// An array of replies.
    Array(Vec<Reply>),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(text) => f.write_str(text),
            Reply::Error(text) => write!(f, "(error) {text}"),
            Reply::Integer(n) => write!(f, "{n}"),
            Reply::Bulk(bytes) => f.write_str(&String::from_utf8_lossy(bytes)),
            Reply::Nil => f.write_str("(nil)"),
            Reply::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
        }
    }
}

/// Where a server listens: a loopback TCP port or a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(u16),
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(port) => write!(f, "127.0.0.1:{port}"),
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// A blocking connection to one server. Every read and write is bounded by
/// the timeout given to [`Connection::open`], so a paused (SIGSTOPped)
/// server yields an error instead of a hang.
pub(crate) struct Connection {
    stream: BufReader<Stream>,
}

impl Connection {
    pub(crate) fn open(endpoint: &Endpoint, timeout: Duration) -> io::Result<Connection> {
        let stream = match endpoint {
            Endpoint::Tcp(port) => {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, *port));
                let s = TcpStream::connect_timeout(&addr, timeout)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                Stream::Tcp(s)
            }
            Endpoint::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                Stream::Unix(s)
            }
        };
        Ok(Connection {
            stream: BufReader::new(stream),
        })
    }

    /// Sends one command (without waiting for its reply), so several can be
    /// pipelined before reading.
    pub(crate) fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            let arg = arg.as_ref();
            buf.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            buf.extend_from_slice(arg);
            buf.extend_from_slice(b"\r\n");
        }
        let stream = self.stream.get_mut();
        stream.write_all(&buf)?;
        stream.flush()
    }

    /// Reads the next reply.
    pub(crate) fn read(&mut self) -> io::Result<Reply> {
        let line = self.read_line()?;
        let Some((&kind, rest)) = line.split_first() else {
            return Err(protocol_error("empty reply line"));
        };
        let text = || String::from_utf8_lossy(rest).into_owned();
        match kind {
            b'+' => Ok(Reply::Status(text())),
            b'-' => Ok(Reply::Error(text())),
            b':' => Ok(Reply::Integer(parse_int(rest)?)),
            b'$' => {
                let Ok(len) = usize::try_from(parse_int(rest)?) else {
                    return Ok(Reply::Nil);
                };
                if len > MAX_BULK_LEN {
                    return Err(protocol_error(&format!("bulk string of {len} bytes")));
                }
                let mut data = vec![0; len + 2];
                self.stream.read_exact(&mut data)?;
                if !data.ends_with(b"\r\n") {
                    return Err(protocol_error("bulk string not terminated by CRLF"));
                }
                data.truncate(len);
                Ok(Reply::Bulk(data))
            }
            b'*' => {
                let Ok(len) = usize::try_from(parse_int(rest)?) else {
                    return Ok(Reply::Nil);
                };
                // No `with_capacity(len)`: the length comes from the wire.
                let mut items = Vec::new();
                for _ in 0..len {
                    items.push(self.read()?);
                }
                Ok(Reply::Array(items))
            }
            other => Err(protocol_error(&format!(
                "unexpected reply type byte {:?}",
                char::from(other)
            ))),
        }
    }

    /// Sends one command and reads its reply.
    pub(crate) fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.send(args)?;
        self.read()
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.stream.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if !line.ends_with(b"\r\n") {
            return Err(protocol_error("reply line not terminated by CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }
}

fn parse_int(digits: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| protocol_error("malformed integer"))
}

fn protocol_error(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("RESP protocol error: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_replies_for_simple_assertions() {
        let reply = Reply::Array(vec![
            Reply::Bulk(b"a".to_vec()),
            Reply::Integer(3),
            Reply::Nil,
            Reply::Status("OK".into()),
        ]);
        assert_eq!(reply.to_string(), "a 3 (nil) OK");
        assert_eq!(Reply::Array(vec![]).to_string(), "");
        assert_eq!(Reply::Error("ERR x".into()).to_string(), "(error) ERR x");
    }
}
