//! Local redis-servers for `sandbox` and `demo`, through the test kit.
//!
//! Both commands are the first thing a newcomer runs, so a missing `redis-server` gets
//! an exact install instruction instead of a spawn error, and the servers are owned by a
//! [`Cluster`] whose drop kills them by pid.

use std::path::PathBuf;

use redlease_testkit::{Cluster, ClusterOptions};

use crate::exit::{Failure, UNAVAILABLE};

const INSTALL_HINT: &str = "install it (Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`) and try again";

/// Start `nodes` servers on loopback, on ports `base_port`, `base_port + 1`, ... or on
/// free ports. `REDLEASE_REDIS_SERVER` may name the server binary (as in the kit).
pub fn start(nodes: usize, base_port: Option<u16>) -> Result<Cluster, Failure> {
    let configured = std::env::var_os("REDLEASE_REDIS_SERVER").is_some_and(|v| !v.is_empty());
    if !configured && find_on_path("redis-server").is_none() {
        return Err(Failure::new(
            UNAVAILABLE,
            format!("redis-server is not installed (not found on PATH); {INSTALL_HINT}"),
        ));
    }
    let options = ClusterOptions {
        nodes,
        base_port,
        ..ClusterOptions::default()
    };
    Cluster::start_with(options).map_err(|e| {
        let advice = match (e.kind(), base_port) {
            (std::io::ErrorKind::NotFound, _) => INSTALL_HINT.to_owned(),
            (_, Some(port)) => format!(
                "check that ports {port}..{} are free, or choose another --port",
                u32::from(port) + nodes as u32 - 1
            ),
            (_, None) => {
                "check the message above, and that redis-server runs on this machine".to_owned()
            }
        };
        Failure::new(
            UNAVAILABLE,
            format!("cannot start {nodes} local redis-server(s): {e}; {advice}"),
        )
    })
}

/// The first executable file called `name` in the directories of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
