//! TLS certificates: a private CA to trust, and a client certificate to present.
//!
//! Managed Redis and most self-hosted TLS setups use a private CA, and some require
//! client certificates (mutual TLS). The files are read once, when the builder is
//! validated, so that a missing or unreadable file is an error naming the option and the
//! path at start-up, not a handshake failure at the first lock. Their contents are never
//! printed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The certificates every TLS node connection uses (PEM bytes).
#[derive(Clone)]
pub(crate) struct Tls {
    /// The CA to trust instead of the system's roots.
    pub ca: Option<Vec<u8>>,
    /// Certificate and key to present (mutual TLS).
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("ca", &self.ca.is_some())
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

/// Read the configured files; `None` when no TLS option was given.
pub(crate) fn load(
    ca: Option<&Path>,
    client: Option<&(PathBuf, PathBuf)>,
) -> Result<Option<Tls>, Error> {
    if ca.is_none() && client.is_none() {
        return Ok(None);
    }
    if !cfg!(feature = "tls") {
        return Err(Error::invalid(
            if ca.is_some() {
                "tls_ca_cert"
            } else {
                "tls_client_cert"
            },
            "(set)",
            "TLS needs redlease built with the `tls` feature",
            "enable the `tls` feature of redlease",
        ));
    }
    let read = |field: &str, path: &Path| {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid(
                field,
                path.display(),
                format!("cannot be read ({e})"),
                "a readable PEM file",
            )
        })?;
        if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err(Error::invalid(
                field,
                path.display(),
                "is not PEM (no -----BEGIN line)",
                "a PEM file",
            ));
        }
        Ok(bytes)
    };
    let ca = ca.map(|path| read("tls_ca_cert", path)).transpose()?;
    let client = client
        .map(|(cert, key)| {
            Ok::<_, Error>((
                read("tls_client_cert.cert", cert)?,
                read("tls_client_cert.key", key)?,
            ))
        })
        .transpose()?;
    Ok(Some(Tls { ca, client }))
}

/// Make sure rustls has a crypto provider: it panics at the first handshake without
/// one, unless exactly one provider feature happens to be on in the whole build. An
/// application that installed its own keeps it.
#[cfg(feature = "tls")]
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(not(feature = "tls"))]
pub(crate) fn install_crypto_provider() {}

#[cfg(feature = "tls")]
impl Tls {
    fn certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.ca.clone(),
        }
    }

    /// A client for one server with these certificates (used for `rediss://` only:
    /// plain-text URLs ignore them).
    pub(crate) fn client(&self, info: redis::ConnectionInfo) -> redis::RedisResult<redis::Client> {
        if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
            redis::Client::build_with_tls(info, self.certificates())
        } else {
            redis::Client::open(info)
        }
    }

    /// A cluster client builder with these certificates.
    pub(crate) fn cluster(
        &self,
        builder: redis::cluster::ClusterClientBuilder,
    ) -> redis::cluster::ClusterClientBuilder {
        builder.certs(self.certificates())
    }
}

#[cfg(not(feature = "tls"))]
impl Tls {
    // Never constructed without the feature (`load` refuses), but the callers are the same.
    pub(crate) fn client(&self, info: redis::ConnectionInfo) -> redis::RedisResult<redis::Client> {
        redis::Client::open(info)
    }

    pub(crate) fn cluster(
        &self,
        builder: redis::cluster::ClusterClientBuilder,
    ) -> redis::cluster::ClusterClientBuilder {
        builder
    }
}
