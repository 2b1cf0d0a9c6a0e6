//! Rolling wipes (issue 10 item 2; G1, G2; and item 5's classification).
//!
//! Three nodes lose their data one at a time, `max_ttl` (plus the restart slack) apart:
//! never more than one node faulty, each wipe held back by delayed restart, so within
//! the fault budget (A3). Fencing counters live only where their last write quorum put
//! them; unless something repairs them, once every node has been wiped in turn the next
//! token starts again from 1. The probe plays passes of three wipes: in a *busy* pass
//! three clients acquire and release all along, in an *idle* pass nobody acquires
//! between the wipes (which is what leaves counters unrepaired). Every lease is recorded
//! as a [`Section`] and judged by the history checker (overlaps, tokens out of order,
//! unsignalled loss); every failed acquire by the
//! [busy-vs-unavailable rule](crate::check::unavailable) (all nodes stay up and
//! reachable: a wipe keeps the process).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rand::Rng;
use redlease::LockManager;

use super::{Probe, ProbeOptions, ProbeOutcome, start};
use crate::check::unavailable::FailureDetail;
use crate::check::{self};
use crate::history::{History, Section};
use crate::mono;

const RESOURCE: &str = "probe:wipes";
const NODES: usize = 3;
const CLIENTS: u32 = 3;
const TTL: Duration = Duration::from_secs(1);
const MAX_TTL: Duration = Duration::from_secs(1);
const NODE_TIMEOUT: Duration = Duration::from_millis(100);

async fn manager(urls: Vec<String>) -> io::Result<LockManager> {
    super::manager(urls, |b| {
        b.ttl(TTL)
            .max_ttl(MAX_TTL)
            .wait(Duration::from_millis(1500))
            .node_timeout(NODE_TIMEOUT)
    })
    .await
}

/// What the clients recorded.
#[derive(Default)]
struct Records {
    sections: Vec<Section>,
    failures: Vec<FailureDetail>,
}

/// The `rolling-wipes` probe.
pub fn run(probe: &Probe, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
    let (cluster, mut outcome, rt) = start(probe, NODES)?;
    let records = Arc::new(Mutex::new(Records::default()));
    let idle = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let m = rt.block_on(manager(cluster.urls()))?;
        let (records, idle, stop) = (Arc::clone(&records), Arc::clone(&idle), Arc::clone(&stop));
        tasks.push(rt.spawn(client(worker, m, records, idle, stop)));
    }
    // Wipes are recognised only in a deployment that has been in use for a while, and
    // a wiped node is held back for max_ttl plus the restart slack.
    let spacing =
        MAX_TTL + redlease::protocol::restart_slack(NODE_TIMEOUT) + Duration::from_millis(200);
    thread::sleep(Duration::from_millis(1500));
    let mut wipes = 0;
    for pass in 0..2 * options.rounds {
        let quiet = pass % 2 == 1;
        idle.store(quiet, Ordering::SeqCst);
        for node in 0..NODES {
            cluster.node(node).wipe()?;
            wipes += 1;
            thread::sleep(spacing);
        }
        idle.store(false, Ordering::SeqCst);
        // After a quiet pass every node was wiped and none re-marked: the clients' first
        // contacts re-mark them together, a brand-new deployment. A wipe within the restart
        // slack of that is invisible to delayed restart (a documented limit, not what this
        // probe checks), so the next pass waits well beyond the slack, with room for the
        // clients to be slow to come back on a loaded machine.
        thread::sleep(redlease::protocol::restart_slack(NODE_TIMEOUT) * 4);
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = rt.block_on(t);
    }
    let records = std::mem::take(&mut *records.lock().unwrap_or_else(|p| p.into_inner()));
    outcome.trials = wipes;
    let history = History {
        sections: records.sections,
        acquires: Vec::new(),
    };
    let findings = check::check(&history, None);
    for o in &findings.overlaps {
        outcome.violation(format!(
            "G1: {} and {} both live for {} µs",
            o.first,
            o.second,
            o.overlap_ns / 1000
        ));
    }
    for d in &findings.token_disorder {
        outcome.violation(format!(
            "G2: {} acquired after {} without a greater token",
            d.later, d.earlier
        ));
    }
    for s in &findings.unsignalled {
        outcome.violation(format!("G5: {s} believed valid past its deadline"));
    }
    let misreported: Vec<&FailureDetail> = records
        .failures
        .iter()
        .filter(|f| f.misreported(Some(NODES)))
        .collect();
    for f in &misreported {
        outcome.violation(format!(
            "item 5: busy reported as unavailable ({} non-answers, {} held back): {}",
            f.non_answers, f.held_back, f.message
        ));
    }
    let tokens: Vec<u64> = history.sections.iter().map(|s| s.token).collect();
    outcome.measure("wipes", wipes);
    outcome.measure("leases", findings.sections);
    outcome.measure("overlaps (G1)", findings.overlaps.len());
    outcome.measure("tokens out of order (G2)", findings.token_disorder.len());
    outcome.measure(
        "highest token / last token",
        format!(
            "{} / {}",
            tokens.iter().max().unwrap_or(&0),
            tokens.last().unwrap_or(&0)
        ),
    );
    outcome.measure(
        "failed acquires: busy / unavailable / misreported",
        format!(
            "{} / {} / {}",
            records.failures.iter().filter(|f| f.kind == "busy").count(),
            records
                .failures
                .iter()
                .filter(|f| f.kind == "unavailable")
                .count(),
            misreported.len()
        ),
    );
    Ok(outcome)
}

/// One client: acquire, hold 5-20 ms, release, over and over (not while `idle`).
async fn client(
    worker: u32,
    manager: LockManager,
    records: Arc<Mutex<Records>>,
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let mut seq = 0u32;
    while !stop.load(Ordering::SeqCst) {
        if idle.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let call_ns = mono::now_ns();
        let lease = match manager.acquire(RESOURCE).await {
            Ok(lease) => lease,
            Err(e) => {
                let detail = FailureDetail::of(&e, NODES);
                if let Ok(mut r) = records.lock() {
                    r.failures.push(detail);
                }
                continue;
            }
        };
        let start_ns = mono::now_ns();
        // Minted on demand (several nodes): a lease without a token records 0, which
        // the order check leaves out.
        let token = lease.fencing_token().await.unwrap_or(0);
        let hold = Duration::from_millis(rand::rng().random_range(5..=20));
        tokio::time::sleep(hold).await;
        let handle = lease.handle();
        let end_ns = mono::now_ns();
        let section = Section {
            worker,
            seq,
            resource: RESOURCE.into(),
            owner: handle.owner().to_owned(),
            token,
            call_ns,
            start_ns,
            end_ns,
            valid_until_ns: handle.deadline().map_or(0, mono::instant_ns),
            lost_ns: None,
            lost_reason: None,
            believed_valid_at_end: handle.is_valid(),
            ops: Vec::new(),
        };
        let _ = lease.release().await;
        if let Ok(mut r) = records.lock() {
            r.sections.push(section);
        }
        seq = seq.wrapping_add(1);
    }
}
