//! `rediss://` nodes against a real TLS-only redis-server from the test kit, trusting
//! the kit's throwaway CA (`tls_ca_cert`), presenting a client certificate where the
//! server requires one (`tls_client_cert`), and refusing a server signed by another CA
//! with an error that names the server. Needs the `tls` feature (on in the workspace
//! build through the CLI crate's default features).

#![cfg(feature = "tls")]

use std::time::Duration;

use redlease::{Builder, LockManager};
use redlease_testkit::{TlsCerts, TlsOptions, TlsServer};

fn builder(server: &TlsServer) -> Builder {
    LockManager::builder()
        .servers([server.url()])
        .ttl(Duration::from_secs(5))
        .node_timeout(Duration::from_millis(1000))
        .wait(Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_over_tls_trusting_a_private_ca() {
    let server = TlsServer::start().expect("redis-server with TLS and openssl");
    let manager = builder(&server)
        .tls_ca_cert(server.certs().ca_cert())
        .build()
        .await
        .expect("valid");
    let lease = manager.try_acquire("tls").await.expect("acquire over TLS");
    assert!(lease.fencing_token().await.expect("token") > 0);
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presents_a_client_certificate_when_the_server_requires_one() {
    let server = TlsServer::start_with(TlsOptions {
        client_auth: true,
        ..TlsOptions::default()
    })
    .expect("start");
    let certs = server.certs();
    let manager = builder(&server)
        .tls_ca_cert(certs.ca_cert())
        .tls_client_cert(certs.client_cert(), certs.client_key())
        .build()
        .await
        .expect("valid");
    manager
        .try_acquire("mtls")
        .await
        .expect("acquire with a client certificate")
        .release()
        .await
        .expect("release");
    let without = builder(&server)
        .tls_ca_cert(certs.ca_cert())
        .build()
        .await
        .expect("valid");
    let err = without
        .try_acquire("mtls")
        .await
        .expect_err("no client cert");
    assert!(err.is_unavailable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_signed_by_another_ca_is_a_clear_error_naming_it() {
    let server = TlsServer::start().expect("start");
    let other = TlsCerts::generate().expect("another CA");
    let manager = builder(&server)
        .tls_ca_cert(other.ca_cert())
        .build()
        .await
        .expect("valid");
    let err = manager.try_acquire("tls").await.expect_err("untrusted");
    assert!(err.is_unavailable(), "{err}");
    let text = err.to_string();
    assert!(text.contains(&server.url()), "names the server: {text}");
    assert!(
        text.to_lowercase().contains("certificate"),
        "says why: {text}"
    );
}

#[tokio::test]
async fn an_unreadable_ca_file_names_the_option_and_the_path() {
    let err = LockManager::builder()
        .servers(["rediss://127.0.0.1:1"])
        .tls_ca_cert("/nonexistent-redlease/ca.pem")
        .build()
        .await
        .expect_err("no such file");
    assert!(err.is_invalid_argument(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("tls_ca_cert") && text.contains("/nonexistent-redlease/ca.pem"),
        "{text}"
    );
}
