//! A throwaway certificate authority and the certificates a TLS test needs,
//! made with the `openssl` command.
//!
//! `rediss://` must be tried against a server whose certificate a client
//! can only trust by being given a private CA, and a mutual-TLS server must
//! refuse clients without a certificate of that CA. [`TlsCerts::generate`]
//! makes, in a fresh temporary directory deleted on drop: a CA
//! (`ca.crt`/`ca.key`), a server certificate for `127.0.0.1` and
//! `localhost` (subject alternative names, as strict clients such as rustls
//! require) and a client certificate, all P-256 ECDSA keys valid for two
//! days. Only `openssl` subcommands that behave the same in OpenSSL 1.1
//! and 3 are used, with explicit extension files, so the system's
//! `openssl.cnf` does not matter. Two calls give two unrelated CAs: one is
//! the "wrong CA" of the other.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cluster::create_temp_dir;
use crate::tool::{self, Tool};

/// Environment variable naming the `openssl` binary (default: `openssl`
/// on `PATH`).
pub const OPENSSL_ENV: &str = "REDLEASE_OPENSSL";

/// How long one `openssl` run may take.
const OPENSSL_TIMEOUT: Duration = Duration::from_secs(30);

const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\n\
keyUsage=critical,keyCertSign,cRLSign\n\
subjectKeyIdentifier=hash\n";
const SERVER_EXT: &str = "basicConstraints=CA:FALSE\n\
keyUsage=critical,digitalSignature\n\
extendedKeyUsage=serverAuth\n\
subjectAltName=IP:127.0.0.1,DNS:localhost\n\
authorityKeyIdentifier=keyid\n";
const CLIENT_EXT: &str = "basicConstraints=CA:FALSE\n\
keyUsage=critical,digitalSignature\n\
extendedKeyUsage=clientAuth\n\
authorityKeyIdentifier=keyid\n";

/// A CA, a server and a client certificate in a temporary directory; see
/// the [crate docs](crate). The directory is deleted on drop.
pub struct TlsCerts {
    dir: PathBuf,
}

impl TlsCerts {
    /// Generates everything with `openssl` (from [`OPENSSL_ENV`] or `PATH`).
    pub fn generate() -> io::Result<TlsCerts> {
        let certs = TlsCerts {
            dir: create_temp_dir()?,
        };
        // From here on an early return drops `certs`, deleting the files.
        certs.make()?;
        Ok(certs)
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The CA's private key (PEM).
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// The server certificate (PEM), for `127.0.0.1` and `localhost`.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// The server's private key (PEM, PKCS#8).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// A client certificate (PEM) for mutual TLS.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.crt")
    }

    /// The client's private key (PEM, PKCS#8).
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    fn make(&self) -> io::Result<()> {
        for (name, text) in [
            ("ca.ext", CA_EXT),
            ("server.ext", SERVER_EXT),
            ("client.ext", CLIENT_EXT),
        ] {
            let path = self.dir.join(name);
            fs::write(&path, text).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
            })?;
        }
        let serial = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_micros());
        self.key("ca")?;
        self.request("ca", "/CN=redlease-testkit CA")?;
        self.openssl(&[
            "x509", "-req", "-sha256", "-days", "2", "-in", "ca.csr", "-signkey", "ca.key",
            "-extfile", "ca.ext", "-out", "ca.crt",
        ])?;
        for (offset, name, subject) in [
            (1, "server", "/CN=127.0.0.1"),
            (2, "client", "/CN=redlease-testkit client"),
        ] {
            self.key(name)?;
            self.request(name, subject)?;
            let (csr, ext, crt) = (
                format!("{name}.csr"),
                format!("{name}.ext"),
                format!("{name}.crt"),
            );
            let serial = (serial + offset).to_string();
            self.openssl(&[
                "x509",
                "-req",
                "-sha256",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial,
                "-extfile",
                &ext,
                "-out",
                &crt,
            ])?;
        }
        Ok(())
    }

    fn key(&self, name: &str) -> io::Result<()> {
        let out = format!("{name}.key");
        self.openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &out,
        ])
    }

    fn request(&self, name: &str, subject: &str) -> io::Result<()> {
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        self.openssl(&["req", "-new", "-key", &key, "-subj", subject, "-out", &csr])
    }

    fn openssl(&self, args: &[&str]) -> io::Result<()> {
        let program = tool::program(None, OPENSSL_ENV, "openssl");
        let tool = Tool {
            program: &program,
            install_hint: "install it with `apt-get install -y openssl` (or set REDLEASE_OPENSSL)",
        };
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tool.run(
            &args,
            &self.dir,
            &self.dir.join("openssl.log"),
            OPENSSL_TIMEOUT,
        )
        .map(|_| ())
    }
}

impl fmt::Debug for TlsCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCerts").field("dir", &self.dir).finish()
    }
}

impl Drop for TlsCerts {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
