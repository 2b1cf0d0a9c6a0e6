//! Helper processes that cannot outlive the test that started them.
//!
//! A fault-injection run starts more than servers: client processes that it
//! pauses with SIGSTOP while they hold a lease, for instance. They need the
//! same guarantee as the servers, so they go through the kit's spawner:
//! killed by the kernel if the owning process dies, whichever thread spawned
//! them, and in their own process group.

use std::io;
use std::process::{Child, Command};

/// Spawns `command` so that the kernel SIGKILLs it when this process dies
/// (`PR_SET_PDEATHSIG`, from the kit's long-lived spawner thread), in a
/// process group of its own. The caller still kills and reaps it by pid
/// when done, as the kit does with its servers.
pub fn spawn_owned(command: Command) -> io::Result<Child> {
    crate::process::spawn(command)
}
