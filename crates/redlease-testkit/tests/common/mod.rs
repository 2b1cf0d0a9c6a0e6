//! What the tests of the kit's server sets share: checking that every
//! process is gone and every file deleted once a set is dropped.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use redlease_testkit::Node;

/// Whether `pid` no longer names a live process (absent, or a zombie).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state == 'Z' || state == 'X'),
    }
}

/// The pids of the running nodes.
pub fn pids<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Vec<u32> {
    nodes.into_iter().filter_map(Node::pid).collect()
}

/// Asserts that every pid is gone (within 10 s) and `dir` deleted.
pub fn assert_cleaned_up(pids: &[u32], dir: &Path) {
    assert!(!pids.is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pids.iter().all(|&pid| is_gone(pid)) {
        assert!(Instant::now() < deadline, "still alive: {pids:?}");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!dir.exists(), "{} still exists", dir.display());
}
