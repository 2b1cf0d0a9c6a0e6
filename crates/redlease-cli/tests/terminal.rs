//! An interactive command on a terminal: `exec` gives it the terminal's foreground, so
//! `read` works instead of stopping the command forever (SIGTTIN), and takes it back.
//! A pseudo-terminal stands in for the user's terminal; redlease runs as the session
//! leader's foreground job, as under a shell.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{LONG, cluster, redlease};

/// A new pseudo-terminal: (master, path of the slave).
fn openpty() -> (File, String) {
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r on a descriptor we own; the
    // buffer is large enough and NUL-terminated by ptsname_r.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (File::from_raw_fd(master), path)
    }
}

#[test]
fn an_interactive_command_reads_the_terminal() {
    let c = cluster(1);
    let servers = c.urls();
    let (mut master, slave_path) = openpty();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .expect("open the pty's slave");
    let mut command = redlease(&servers);
    command
        .args(["exec", "job", "-c", "read x; echo got:$x"])
        .stdin(slave.try_clone().expect("dup"))
        .stdout(slave.try_clone().expect("dup"))
        .stderr(Stdio::null());
    let slave_fd = slave.as_raw_fd();
    // SAFETY: setsid and ioctl(TIOCSCTTY) in the child: a new session whose controlling
    // terminal is the pty, redlease being its foreground process group.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn redlease");
    drop(slave);
    std::thread::sleep(Duration::from_millis(500));
    master.write_all(b"hello\n").expect("type");
    // Read the terminal until the answer shows or the time runs out.
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        let deadline = Instant::now() + LONG;
        while Instant::now() < deadline {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&seen).contains("got:hello") {
                break;
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let deadline = Instant::now() + LONG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redlease exec hung on an interactive command");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seen = reader.join().unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(seen.contains("got:hello"), "{seen}");
}
