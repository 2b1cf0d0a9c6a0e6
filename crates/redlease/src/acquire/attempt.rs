//! One attempt: the vote over every node, its validity and, when the token is minted in
//! the acquisition on several nodes, the round that records it.
//!
//! Apart from `mod.rs`, which decides when to try again, wait, listen or give up: this
//! file is what a single try does on the wire, and the one place where a won vote turns
//! into a [`Lease`]. The decisions are `protocol::attempt`'s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Acquirer;
use crate::error::{Error, NodeError, Repr};
use crate::lease::{self, Lease, LeaseCore};
use crate::ops::MarkerKey;
use crate::ops::acquire::{Acquire, Fencing};
use crate::protocol::attempt::fence_tally;
use crate::protocol::{self, Attempt, AttemptRules, Decision, Outcome, Verdict};
use crate::release;
use crate::round;

impl Acquirer<'_> {
    /// One attempt: vote, check validity, mint a fencing token if configured. On failure,
    /// the error and (when the vote was held) its outcome.
    pub(super) async fn attempt(
        &self,
        request: &Arc<Acquire>,
        give_up: Option<Instant>,
    ) -> Result<Lease, (Error, Option<Outcome>)> {
        let cluster = self.cluster;
        let c = &cluster.config;
        let n = cluster.nodes.len();
        let target = &request.target;
        let slack = protocol::restart_slack(c.node_timeout);
        // Validity is measured from before the first request: a node may start the key's
        // TTL the moment it receives it.
        let start = Instant::now();
        let mut round = round::start(cluster, 0..n, request);
        let mut vote = Attempt::new(AttemptRules {
            nodes: n,
            fencing: request.fencing != Fencing::Off,
            max_ttl: c.max_ttl,
            slack,
        });
        // Per node, only for the nodes that have one: nothing to allocate when every node
        // answers without a marker.
        let mut errors: Vec<(usize, NodeError)> = Vec::new();
        let mut seen_at: Vec<(usize, Duration)> = Vec::new();
        // One marker per node (not per resource, as on a Redis Cluster).
        let global = matches!(cluster.marker, Some(MarkerKey::Global(_)));
        let mut stopped = false;
        while let Some((i, result)) = round.next().await {
            // The script answers an unfenced grant with its short form (no counter, no
            // clock), which can never count towards a token.
            let result = result.and_then(|reply| {
                if !request.fencing.grant_is_complete(&reply) {
                    Err(NodeError::Protocol(
                        "a grant without the fencing token or the node's clock".into(),
                    ))
                } else {
                    Ok(reply)
                }
            });
            let step = match result {
                Ok(reply) => {
                    // `seen`: when the node measured the marker's age, on its own clock.
                    let (known, seen) = cluster.nodes[i].judge_marker(&reply, c.max_ttl, global);
                    if let Some(seen) = seen {
                        seen_at.push((i, seen));
                    }
                    vote.answer_known(i, Some(&reply), known)
                }
                Err(e) => {
                    errors.push((i, e));
                    vote.answer(i, None, false)
                }
            };
            // A refused caller that waits hears the other nodes out.
            if vote.stops(step, request.role) {
                stopped = true;
                break;
            }
        }
        round.detach();
        let outcome = vote.finish(!stopped);
        // Refused and not won: contended. (A vote won despite a refusal or two is
        // usually our own previous lease, whose release on a slow node is still on its
        // way: a release returns at a quorum.)
        if outcome.verdict != Verdict::Won && !outcome.busy.is_empty() {
            cluster.contention.note(target.resource());
        }
        for &(i, age) in &outcome.trust {
            if let Some(&(_, seen_at)) = seen_at.iter().find(|&&(j, _)| j == i) {
                cluster.nodes[i].trust_marker(age, seen_at);
            }
        }
        let cleanup_waits = give_up.is_none_or(|g| Instant::now() < g);
        let fail = |error: Error, outcome: Outcome| async move {
            // A caller that waits keeps its place in the queues: the loop retries, or
            // gives up and then leaves every queue.
            let stay_queued = request.role.keeps_place_after_failure();
            release::clean_up(
                cluster,
                target,
                &outcome.release_on,
                cleanup_waits,
                stay_queued,
            )
            .await;
            Err((error, Some(outcome)))
        };
        if outcome.verdict != Verdict::Won {
            let error = self.vote_error(target, &outcome, errors);
            return fail(error, outcome).await;
        }
        let ttl = request.ttl;
        let drift = cluster.drift(ttl);
        let spent = |start: Instant| -> Error {
            Repr::ValiditySpent {
                resource: target.resource().to_owned(),
                elapsed: start.elapsed(),
                ttl,
                drift,
            }
            .into()
        };
        if protocol::validity(ttl, start.elapsed(), drift).is_none() {
            return fail(spent(start), outcome).await;
        }
        let token = if request.fencing == Fencing::Script {
            // The single node minted it atomically with the grant.
            outcome.highest_fence
        } else if request.fencing == Fencing::Client {
            // Saturating at u64::MAX would take 2^64 acquisitions of one resource.
            let token = protocol::fencing_token([outcome.highest_fence], outcome.time_floor)
                .unwrap_or(u64::MAX);
            let recorded = lease::record(
                cluster,
                target,
                token,
                &outcome.granted,
                fence_tally(n, outcome.granted.len()),
            )
            .await;
            if recorded.tally.decision() != Decision::Won {
                // Every node that could not take part: the round's failures and the
                // vote's (a node that failed the vote was not in the round). The round's
                // failures alone would read as if the others had answered and refused.
                let mut failures = self.vote_failures(&outcome, errors);
                failures.extend(recorded.failures);
                failures.sort_by_key(|f| f.index);
                let error = Repr::Unavailable {
                    resource: target.resource().to_owned(),
                    quorum: cluster.quorum(),
                    total: n,
                    failures,
                }
                .into();
                return fail(error, outcome).await;
            }
            token
        } else {
            0
        };
        // The fence round took time too: the token only counts inside the validity.
        if protocol::validity(ttl, start.elapsed(), drift).is_none() {
            return fail(spent(start), outcome).await;
        }
        Ok(Lease::new(LeaseCore::new(
            Arc::clone(cluster),
            Arc::clone(self.renewals),
            Arc::clone(target),
            token,
            ttl,
            start + ttl - drift,
        )))
    }
}
