//! Busy reported as unavailable, reproduced on purpose (issue 10 item 5).
//!
//! Five nodes, the resource held. One node loses its data (`FLUSHALL`): delayed restart
//! holds it back, so its grant does not count. Every other node answers "busy", so the
//! only true answer to a rival's `try_acquire` is *busy*; an early decision that stops
//! listening and then reports "only k of 5 nodes answered" sends callers (and the CLI's
//! exit code) to "servers down". Each failed call is judged by
//! [`FailureDetail::misreported`] with all five nodes up and reachable.

use std::io;
use std::thread;
use std::time::Duration;

use redlease::LockManager;

use super::{Probe, ProbeOptions, ProbeOutcome, setup, start};
use crate::check::unavailable::FailureDetail;

const RESOURCE: &str = "probe:held-back";
const NODES: usize = 5;

async fn manager(urls: Vec<String>) -> io::Result<LockManager> {
    super::manager(urls, |b| {
        b.ttl(Duration::from_secs(8))
            .max_ttl(Duration::from_secs(10))
    })
    .await
}

/// The `held-back-busy` probe.
pub fn run(probe: &Probe, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
    let (cluster, mut outcome, rt) = start(probe, NODES)?;
    let holder = rt.block_on(manager(cluster.urls()))?;
    let rival = rt.block_on(manager(cluster.urls()))?;
    let lease = rt
        .block_on(holder.try_acquire(RESOURCE))
        .map_err(|e| setup("holder's acquire", e))?;
    // The deployment must have been in use a while for a wipe to be recognised.
    thread::sleep(Duration::from_millis(1200));
    cluster.node(0).wipe()?;
    let (mut busy, mut unavailable, mut won) = (0, 0, 0);
    let mut claimed = Vec::new();
    for call in 0..20 * options.rounds {
        outcome.trials += 1;
        match rt.block_on(rival.try_acquire(RESOURCE)) {
            Ok(l) => {
                won += 1;
                outcome.violation(format!("call {call}: the rival acquired a held resource"));
                let _ = rt.block_on(l.release());
            }
            Err(e) => {
                let detail = FailureDetail::of(&e, NODES);
                if detail.kind == "busy" {
                    busy += 1;
                } else if detail.kind == "unavailable" {
                    unavailable += 1;
                    claimed.extend(detail.claimed_answered);
                }
                if detail.misreported(Some(NODES)) {
                    outcome.violation(format!(
                        "call {call}: busy reported as unavailable ({} non-answers, {} held back): {}",
                        detail.non_answers, detail.held_back, detail.message
                    ));
                }
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = rt.block_on(lease.release());
    outcome.measure("busy", busy);
    outcome.measure("unavailable", unavailable);
    outcome.measure(
        "answered counts claimed by unavailable errors",
        format!("{claimed:?}"),
    );
    outcome.measure("won (must be 0)", won);
    Ok(outcome)
}
