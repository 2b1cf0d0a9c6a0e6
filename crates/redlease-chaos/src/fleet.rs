//! The runner's side of the worker processes: start them, read their
//! events, freeze and thaw them, stop them.
//!
//! Each worker is the crate's own binary in `worker` mode, started through
//! the test kit's [`spawn_owned`] (killed by the kernel if the runner dies).
//! One thread per worker turns its stdout into [`Event`]s on a shared
//! channel; another keeps the last lines of its stderr for error messages.
//! Every process is signalled and killed by its pid, and only while it is
//! still our unreaped child, so a recycled pid is never hit. Dropping the
//! fleet SIGCONTs, SIGKILLs and reaps whatever is left.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use redlease_testkit::spawn_owned;

use crate::history::Event;
use crate::worker::WorkerConfig;

/// Lines of a worker's stderr kept for messages.
const STDERR_LINES: usize = 20;

/// Something a worker said, or did.
#[derive(Debug)]
pub enum Message {
    /// An event line.
    Event(Event),
    /// A stdout line that is not an event.
    Garbage(String),
    /// Its stdout closed: it exited (or is about to).
    Closed,
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// The worker processes of one run.
pub struct Fleet {
    workers: Vec<Worker>,
    messages: Receiver<(usize, Message)>,
}

impl Fleet {
    /// Starts one worker per config, running `exe worker --config <json>`.
    pub fn spawn(exe: &Path, configs: &[WorkerConfig]) -> io::Result<Fleet> {
        Fleet::spawn_with_env(exe, configs, &[])
    }

    /// [`Fleet::spawn`], with extra environment variables for worker `i` from
    /// `envs[i]` (missing entries: none), e.g. a skewed wall clock.
    pub fn spawn_with_env(
        exe: &Path,
        configs: &[WorkerConfig],
        envs: &[Vec<(OsString, OsString)>],
    ) -> io::Result<Fleet> {
        let (tx, messages) = mpsc::channel();
        let mut fleet = Fleet {
            workers: Vec::with_capacity(configs.len()),
            messages,
        };
        for (i, config) in configs.iter().enumerate() {
            let json = serde_json::to_string(config).map_err(io::Error::other)?;
            let mut command = Command::new(exe);
            command
                .arg("worker")
                .arg("--config")
                .arg(json)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if let Some(env) = envs.get(i) {
                command.envs(env.iter().map(|(k, v)| (k, v)));
            }
            // From here on, an early return drops `fleet`, which kills what started.
            let mut child = spawn_owned(command).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot start worker {} ({}): {e}", i, exe.display()),
                )
            })?;
            let stdin = child.stdin.take();
            let stderr = Arc::new(Mutex::new(VecDeque::new()));
            if let Some(out) = child.stdout.take() {
                read_events(i, out, tx.clone())?;
            }
            if let Some(err) = child.stderr.take() {
                keep_tail(err, Arc::clone(&stderr))?;
            }
            let pid = child.id();
            fleet.workers.push(Worker {
                child,
                stdin,
                pid,
                stderr,
            });
        }
        Ok(fleet)
    }

    /// How many workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Always false for a started fleet.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Every worker's pid.
    pub fn pids(&self) -> Vec<u32> {
        self.workers.iter().map(|w| w.pid).collect()
    }

    /// The next message from any worker, waiting at most `timeout`.
    /// `None` on timeout, or once every worker's output has closed.
    pub fn next(&self, timeout: Duration) -> Option<(usize, Message)> {
        self.messages.recv_timeout(timeout).ok()
    }

    /// Asks worker `i` to wait to be paused in its next section.
    pub fn request_pause(&mut self, i: usize) -> io::Result<()> {
        let stdin = self.workers[i]
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "worker stopped"))?;
        stdin.write_all(b"pause-next\n")?;
        stdin.flush()
    }

    /// Freezes worker `i` (SIGSTOP).
    pub fn freeze(&mut self, i: usize) -> io::Result<()> {
        self.signal(i, libc::SIGSTOP)
    }

    /// Lets worker `i` run again (SIGCONT).
    pub fn thaw(&mut self, i: usize) -> io::Result<()> {
        self.signal(i, libc::SIGCONT)
    }

    fn signal(&mut self, i: usize, signal: libc::c_int) -> io::Result<()> {
        let worker = &mut self.workers[i];
        if worker.child.try_wait()?.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("worker {i} has exited"),
            ));
        }
        let pid = libc::pid_t::try_from(worker.pid)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
        // unreaped child, so it cannot have been recycled.
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Tells every worker to stop after its current section (closes stdin),
    /// thaws any frozen one, and waits up to `grace` for them to exit; the
    /// ones still running then are killed. Their last events stay readable
    /// with [`Fleet::next`].
    pub fn stop(&mut self, grace: Duration) {
        for i in 0..self.workers.len() {
            self.workers[i].stdin = None;
            let _ = self.thaw(i);
        }
        let until = Instant::now() + grace;
        for worker in &mut self.workers {
            loop {
                match worker.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= until => {
                        let _ = worker.child.kill();
                        let _ = worker.child.wait();
                        break;
                    }
                    Ok(None) => thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }

    /// The last lines worker `i` wrote on stderr.
    pub fn stderr_tail(&self, i: usize) -> String {
        self.workers[i]
            .stderr
            .lock()
            .map(|lines| lines.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for i in 0..self.workers.len() {
            self.workers[i].stdin = None;
            let _ = self.thaw(i);
            let child = &mut self.workers[i].child;
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

fn read_events(
    i: usize,
    out: impl Read + Send + 'static,
    tx: Sender<(usize, Message)>,
) -> io::Result<()> {
    thread::Builder::new()
        .name(format!("worker-{i}-out"))
        .spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let message = match serde_json::from_str::<Event>(&line) {
                    Ok(event) => Message::Event(event),
                    Err(_) => Message::Garbage(line),
                };
                if tx.send((i, message)).is_err() {
                    return;
                }
            }
            let _ = tx.send((i, Message::Closed));
        })
        .map(|_| ())
}

fn keep_tail(
    err: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("worker-err".into())
        .spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut t) = tail.lock() {
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        })
        .map(|_| ())
}
