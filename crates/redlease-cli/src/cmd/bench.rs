//! `redlease bench`: the benchmark runner, as an external tool.
//!
//! The runner (scenarios, the raw redis-rs floor, charts) is not part of the command a
//! user installs on a server: it lives in the `redlease-bench` crate and its binary of the
//! same name. Like `cargo foo` or `git foo`, `redlease bench ARGS...` looks for the
//! `redlease-bench` program next to the running `redlease`, then on `PATH`, and replaces
//! itself with it (exec), so the arguments, the environment, the signals and the exit
//! status are the program's own: it reads `REDLEASE_SERVERS` and `REDLEASE_NODE_TIMEOUT`
//! like redlease does, and takes `--servers` and `--node-timeout` itself.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::exit::{self, Failure};

/// The program `redlease bench` runs.
pub const PROGRAM: &str = "redlease-bench";

/// Run `redlease-bench ARGS...` in place of this process. Returns only on failure.
pub fn run(args: &[OsString]) -> Result<u8, Failure> {
    let Some(program) = find() else {
        return Err(Failure::new(
            exit::UNAVAILABLE,
            format!(
                "`redlease bench` runs the separate `{PROGRAM}` program, which was found neither next to redlease nor on PATH; install it with `cargo install --path crates/redlease-bench` (from a clone of the redlease repository), or build it with `cargo build --release -p redlease-bench` next to redlease"
            ),
        ));
    };
    let mut command = Command::new(&program);
    command.args(args);
    let error = command.exec();
    Err(Failure::new(
        exit::CANNOT_EXECUTE,
        format!("cannot run {}: {error}", program.display()),
    ))
}

/// `redlease-bench` next to the current executable, else the first on `PATH`.
fn find() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(PROGRAM)));
    beside
        .filter(|p| is_executable(p))
        .or_else(|| crate::local::find_on_path(PROGRAM))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
