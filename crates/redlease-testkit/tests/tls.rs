//! A TLS-only server from the kit: it answers clients that trust its CA
//! (and, with mutual TLS, present a client certificate) and no one else.

use std::path::Path;
use std::process::{Command, Output};

use redlease_testkit::{TlsCerts, TlsOptions, TlsServer};

mod common;

/// `redis-cli -p PORT [args] PING`, killed after 10 s by coreutils' timeout.
fn ping(port: u16, args: &[&Path]) -> (bool, String) {
    ping_with(
        port,
        &args.iter().map(|p| p.as_os_str()).collect::<Vec<_>>(),
    )
}

fn ping_with(port: u16, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let Output { stdout, stderr, .. } = Command::new("timeout")
        .args([
            "10",
            "redis-cli",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(args)
        .arg("PING")
        .output()
        .expect("run redis-cli");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (out.trim() == "PONG", out)
}

#[test]
fn answers_clients_that_trust_its_ca_and_refuses_the_others() {
    let server = TlsServer::start().expect("start");
    let port = server.port();
    assert_eq!(server.url(), format!("rediss://127.0.0.1:{port}"));
    let certs = server.certs();
    for file in [certs.ca_cert(), certs.server_cert(), certs.server_key()] {
        assert!(file.is_file(), "{}", file.display());
    }
    let tls = Path::new("--tls");
    let cacert = Path::new("--cacert");

    let (ok, out) = ping(port, &[tls, cacert, &certs.ca_cert()]);
    assert!(ok, "with the CA: {out}");

    let (ok, out) = ping(port, &[tls]);
    assert!(!ok, "without the CA: {out}");
    assert!(out.contains("certificate verify failed"), "{out}");

    let other = TlsCerts::generate().expect("another CA");
    let (ok, out) = ping(port, &[tls, cacert, &other.ca_cert()]);
    assert!(!ok, "with the wrong CA: {out}");

    let (ok, out) = ping(port, &[]);
    assert!(!ok, "in plain text: {out}");

    // The kit controls it over its unix socket, TLS or not.
    assert_eq!(server.node().command(&["PING"]).expect("control"), "PONG");
    server.node().restart().expect("restart");
    let (ok, out) = ping(port, &[tls, cacert, &certs.ca_cert()]);
    assert!(ok, "after a restart: {out}");

    let dir = certs.dir().to_path_buf();
    let pids = common::pids([server.node()]);
    drop(server);
    common::assert_cleaned_up(&pids, &dir);
}

#[test]
fn mutual_tls_requires_a_client_certificate_of_the_ca() {
    let server = TlsServer::start_with(TlsOptions {
        client_auth: true,
        ..Default::default()
    })
    .expect("start");
    let certs = server.certs();
    let (tls, cacert) = (Path::new("--tls"), Path::new("--cacert"));
    let (ok, out) = ping(server.port(), &[tls, cacert, &certs.ca_cert()]);
    assert!(!ok, "without a client certificate: {out}");
    let (ok, out) = ping(
        server.port(),
        &[
            tls,
            cacert,
            &certs.ca_cert(),
            Path::new("--cert"),
            &certs.client_cert(),
            Path::new("--key"),
            &certs.client_key(),
        ],
    );
    assert!(ok, "with the client certificate: {out}");
}
