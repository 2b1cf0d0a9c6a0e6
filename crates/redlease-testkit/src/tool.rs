//! Running the command-line tools the kit builds on (`redis-cli --cluster
//! create`, `openssl`) with the same guarantees as its servers.
//!
//! A helper tool that hangs (a cluster that never agrees, a prompt waiting
//! for input) must not hang the test: it gets no stdin, a deadline after
//! which it is killed by pid, and the death signal of every process the kit
//! starts. Its output goes to a log file (no pipe to fill up), and a failure
//! quotes that log and says how to install a missing tool.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process;

/// A program to run and what to say if it is not installed.
pub(crate) struct Tool<'a> {
    pub(crate) program: &'a Path,
    /// E.g. "install it with `apt-get install -y openssl`".
    pub(crate) install_hint: &'a str,
}

impl Tool<'_> {
    /// Runs the tool with `args` in `dir`, its output appended to `log`,
    /// for at most `timeout`. Returns the output on success; fails with the
    /// exit status and the end of the output otherwise.
    pub(crate) fn run(
        &self,
        args: &[String],
        dir: &Path,
        log: &Path,
        timeout: Duration,
    ) -> io::Result<String> {
        let out = File::create(log).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", log.display()))
        })?;
        let mut command = Command::new(self.program);
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let program = self.program.display();
        let mut child = process::spawn(command).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    e.kind(),
                    format!("cannot run `{program}` ({e}): {}", self.install_hint),
                )
            } else {
                io::Error::new(e.kind(), format!("cannot run `{program}`: {e}"))
            }
        })?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let output = fs::read_to_string(log).unwrap_or_default();
        let command_line = format!("{program} {}", args.join(" "));
        match status {
            Some(status) if status.success() => Ok(output),
            Some(status) => Err(io::Error::other(format!(
                "`{command_line}` failed ({status}):\n{}",
                tail(&output)
            ))),
            None => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "`{command_line}` did not finish within {timeout:?}:\n{}",
                    tail(&output)
                ),
            )),
        }
    }
}

/// The program named by environment variable `var` if set and non-empty,
/// else `default` on `PATH`.
pub(crate) fn program(configured: Option<&Path>, var: &str, default: &str) -> PathBuf {
    configured
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(default))
}

/// The last lines of a tool's output.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_how_to_install_it() {
        let dir = std::env::temp_dir();
        let log = dir.join(format!("redlease-testkit-tool-{}.log", std::process::id()));
        let tool = Tool {
            program: Path::new("/nonexistent/tool"),
            install_hint: "install it with `apt-get install -y tool`",
        };
        let err = tool
            .run(&[], &dir, &log, Duration::from_secs(5))
            .expect_err("missing");
        let _ = fs::remove_file(&log);
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("apt-get install -y tool"), "{err}");
    }

    #[test]
    fn a_hanging_tool_is_killed_at_the_deadline() {
        let dir = std::env::temp_dir();
        let log = dir.join(format!("redlease-testkit-sleep-{}.log", std::process::id()));
        let tool = Tool {
            program: Path::new("sleep"),
            install_hint: "",
        };
        let started = Instant::now();
        let err = tool
            .run(&["30".into()], &dir, &log, Duration::from_millis(200))
            .expect_err("too slow");
        let _ = fs::remove_file(&log);
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
