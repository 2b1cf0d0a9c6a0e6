//! A `redis-server` that speaks only TLS, with certificates of a throwaway
//! CA.
//!
//! `rediss://` is only tested if a client has to verify a real server
//! certificate against a CA it was given, and (with `tls-auth-clients
//! yes`) present a certificate of its own. [`TlsServer`] generates a
//! [`TlsCerts`] set and starts Debian's `redis-server` (built with TLS) with
//! `--tls-port P --port 0` and those files, so the only TCP listener is the
//! TLS one: [`TlsServer::url`] is `rediss://127.0.0.1:P`. The kit itself
//! speaks no TLS, so it controls the server (readiness, [`Node::command`],
//! kill, pause, restart) over a unix socket in the node's directory,
//! reachable only by this user.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::certs::TlsCerts;
use crate::group::{Group, Settings, Spec};
use crate::node::Node;

/// How to start a [`TlsServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Require client certificates of the CA (`--tls-auth-clients yes`,
    /// mutual TLS). Default false (`no`: any client that trusts the server
    /// may connect).
    pub client_auth: bool,
    /// Extra arguments, after the kit's own. Default: none.
    pub extra_args: Vec<String>,
    /// The server binary (default: `REDLEASE_REDIS_SERVER`, else
    /// `redis-server` on `PATH`).
    pub redis_server: Option<PathBuf>,
    /// How long the server may take to answer `PING`. Default 10 s.
    pub startup_timeout: Duration,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            client_auth: false,
            extra_args: Vec::new(),
            redis_server: None,
            startup_timeout: Duration::from_secs(10),
        }
    }
}

/// A TLS-only server and its certificates; see the [crate docs](crate).
/// Dropping it kills the server by pid and deletes the files.
pub struct TlsServer {
    group: Group,
    certs: TlsCerts,
    port: u16,
}

impl TlsServer {
    /// A TLS server that does not ask for client certificates.
    pub fn start() -> io::Result<TlsServer> {
        TlsServer::start_with(TlsOptions::default())
    }

    /// Generates the certificates and starts the server as `options` says;
    /// returns once it answers `PING`.
    pub fn start_with(options: TlsOptions) -> io::Result<TlsServer> {
        let certs = TlsCerts::generate()?;
        let settings = Settings {
            redis_server: options.redis_server.clone(),
            extra_args: options.extra_args.clone(),
            startup_timeout: options.startup_timeout,
        };
        let path = |p: PathBuf| p.display().to_string();
        let group = Group::start(&settings, 1, 1, |_, ports, _| Spec {
            unix_socket: true,
            args: vec![
                "--tls-port".into(),
                ports[0][0].to_string(),
                "--tls-cert-file".into(),
                path(certs.server_cert()),
                "--tls-key-file".into(),
                path(certs.server_key()),
                "--tls-ca-cert-file".into(),
                path(certs.ca_cert()),
                "--tls-auth-clients".into(),
                if options.client_auth { "yes" } else { "no" }.into(),
            ],
            ..Spec::default()
        })?;
        let port = group
            .extra_port(0)
            .ok_or_else(|| io::Error::other("the TLS port was not reserved"))?;
        Ok(TlsServer { group, certs, port })
    }

    /// `rediss://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// The TLS port (the server has no plain-text TCP port).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA, server and client certificates and keys.
    pub fn certs(&self) -> &TlsCerts {
        &self.certs
    }

    /// The server, controlled over its unix socket: [`Node::url`] is that
    /// socket, not the TLS address; kill, pause and restart as usual.
    pub fn node(&self) -> &Node {
        &self.group.nodes[0]
    }
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("url", &self.url())
            .field("node", self.node())
            .field("certs", &self.certs)
            .finish()
    }
}
