//! One acquisition attempt, as a state machine fed with the nodes' answers.
//!
//! An attempt sends the acquire script to every node at once and must decide, from the
//! answers as they arrive, whether it won a quorum, lost to another holder, or could not
//! reach enough nodes, and when it may stop listening. The rules interact: a grant from a
//! node whose delayed-restart marker is young is neither a yes nor a no until an older
//! marker shows the node came back empty (then it is held back) or every node answered
//! without one (a new deployment: it counts); a fenced acquisition must hear every node
//! that answers in time, because its token must exceed every counter. Keeping all of
//! that in one pure type means the library's acquire loop and the model checker run the
//! very same decisions, and unit tests can feed any sequence of answers.
//!
//! ```
//! use std::time::Duration;
//! use redlease::protocol::{AcquireReply, Attempt, AttemptRules, Step, Verdict};
//!
//! let rules = AttemptRules {
//!     nodes: 3,
//!     fencing: false,
//!     max_ttl: Duration::from_secs(60),
//!     slack: Duration::from_millis(450),
//! };
//! let mut attempt = Attempt::new(rules);
//! let granted = AcquireReply { granted: true, ..AcquireReply::default() };
//! assert_eq!(attempt.answer(0, Some(&granted), false), Step::Continue);
//! assert_eq!(attempt.answer(2, Some(&granted), false), Step::Stop);
//! let outcome = attempt.finish(false);
//! assert_eq!(outcome.verdict, Verdict::Won);
//! assert_eq!(outcome.granted, vec![0, 2]);
//! assert_eq!(outcome.release_on, vec![0, 1, 2]); // node 1 may hold a late grant
//! ```

use std::time::Duration;

use super::queue::Role;
use super::restart::held_back;
use super::tally::{Decision, Tally, Vote};

/// What the acquire script said on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcquireReply {
    /// The lock is ours on this node.
    pub granted: bool,
    /// The node's fencing counter for the resource (with one-round minting and a grant:
    /// the new token).
    pub fence: u64,
    /// The other holder's remaining TTL, when refused.
    pub holder_pttl_ms: Option<u64>,
    /// The key is a hand-off reservation: the lock was just released to the waiters.
    pub handoff: bool,
    /// Age of the node's marker on its own clock (delayed restart), if asked for.
    pub marker_age_ms: Option<u64>,
    /// The node's clock in microseconds: a floor for the next fencing token (see
    /// [`super::fencing_token`]).
    pub node_time_us: u64,
    /// The marker's birth on the node's own clock, in ms: what tells this marker from one
    /// written after a wipe (see [`super::MarkerTrust`]), whenever the node reported a
    /// marker.
    pub marker_born_ms: Option<u64>,
}

/// What the client knows of the marker a node reported (see [`super::MarkerTrust`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Known {
    /// The marker this client trusts: the node kept its data.
    Trusted,
    /// A marker that replaced the one this client trusted: the node lost its data.
    Replaced,
    /// Nothing known.
    Unknown,
}

/// The fixed rules of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptRules {
    /// Number of nodes.
    pub nodes: usize,
    /// Whether a fencing token is minted (the attempt then hears every node that answers).
    pub fencing: bool,
    /// The maximum ttl: how long a node that came back empty is held back.
    pub max_ttl: Duration,
    /// Delayed-restart slack (see [`super::restart_slack`]).
    pub slack: Duration,
}

/// Whether to keep listening for answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The outcome is not certain yet (or a fenced attempt must hear the others).
    Continue,
    /// Decided: stop listening and call [`Attempt::finish`] (answers still in flight are
    /// not needed).
    Stop,
}

/// How one node stands in the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeVote {
    /// No answer yet.
    Pending,
    /// Granted, and counted.
    Granted,
    /// Granted, with a young marker: not counted until it is clear whether the node came
    /// back empty.
    Young(Duration),
    /// Granted, but the node came back empty less than `max_ttl` ago: not counted.
    HeldBack(Duration),
    /// Refused: held by someone else.
    Busy,
    /// No usable answer (timeout, connection error, Redis error, garbage).
    Failed,
}

/// An attempt in progress. Comparable and hashable so that a model checker can store it
/// in its states.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attempt {
    rules: AttemptRules,
    votes: Vec<NodeVote>,
    /// Marker ages reported, per node (for trusting them after a complete round).
    markers: Vec<Option<Duration>>,
    /// Which of those markers replaced one the caller trusted.
    replaced: Vec<bool>,
    tally: Tally,
    oldest: Duration,
    highest_fence: u64,
    time_floor: u64,
    holder_ttl: Option<Duration>,
    handoff: bool,
}

/// The attempt's overall result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A quorum granted (validity still has to be checked, and a token recorded).
    Won,
    /// Another owner holds it: its refusals are why no quorum is possible.
    Busy,
    /// Too few nodes answered for a quorum to be possible, whoever holds it.
    Unavailable,
}

/// What an attempt decided, and what the caller must do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Won, busy or unavailable.
    pub verdict: Verdict,
    /// Nodes whose grants counted (the fencing round goes to these).
    pub granted: Vec<usize>,
    /// Nodes that may hold a grant of ours: every node that did not refuse. A failed
    /// attempt releases on these; so does a lease.
    pub release_on: Vec<usize>,
    /// Nodes that refused.
    pub busy: Vec<usize>,
    /// Nodes held back by delayed restart, with their marker ages.
    pub held_back: Vec<(usize, Duration)>,
    /// Nodes whose markers a complete round showed are not from a restart: the caller
    /// may trust them (see [`super::MarkerTrust`]), with the ages reported.
    pub trust: Vec<(usize, Duration)>,
    /// Nodes that answered at all (granted, young, held back or refused).
    pub answered: usize,
    /// Nodes that failed to answer usefully.
    pub failed: usize,
    /// The highest fencing counter any node reported.
    pub highest_fence: u64,
    /// The latest node clock any node reported (µs): the floor of the next token.
    pub time_floor: u64,
    /// The shortest remaining TTL of the other holder, where it refused.
    pub holder_ttl: Option<Duration>,
    /// Some node held a hand-off reservation for another waiter.
    pub handoff: bool,
    /// We won some nodes but not a quorum: a split vote.
    pub split: bool,
}

impl Attempt {
    /// A new attempt under `rules`, no answers yet.
    pub fn new(rules: AttemptRules) -> Self {
        Attempt {
            rules,
            votes: vec![NodeVote::Pending; rules.nodes],
            markers: vec![None; rules.nodes],
            replaced: vec![false; rules.nodes],
            tally: Tally::new(rules.nodes),
            oldest: Duration::ZERO,
            highest_fence: 0,
            time_floor: 0,
            holder_ttl: None,
            handoff: false,
        }
    }

    /// Node `node` answered `reply` (`None`: it failed). `trusted`: the caller's
    /// [`super::MarkerTrust`] recognises the marker it reported, so a young marker's grant
    /// counts at once. Returns whether to keep listening.
    pub fn answer(&mut self, node: usize, reply: Option<&AcquireReply>, trusted: bool) -> Step {
        let known = if trusted {
            Known::Trusted
        } else {
            Known::Unknown
        };
        self.answer_known(node, reply, known)
    }

    /// [`answer`](Self::answer) with all the caller knows of the node's marker: a grant
    /// whose young marker [replaced](super::MarkerTrust::replaced) a trusted one is held
    /// back at once, whatever the other nodes answer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redlease::protocol::{AcquireReply, Attempt, AttemptRules, Known, NodeVote};
    /// let rules = AttemptRules { nodes: 3, fencing: false, max_ttl: Duration::from_secs(60), slack: Duration::ZERO };
    /// let young = AcquireReply { granted: true, marker_age_ms: Some(2_000), ..AcquireReply::default() };
    /// let mut attempt = Attempt::new(rules);
    /// attempt.answer_known(0, Some(&young), Known::Replaced);
    /// assert!(matches!(attempt.votes()[0], NodeVote::HeldBack(_)));
    /// ```
    pub fn answer_known(
        &mut self,
        node: usize,
        reply: Option<&AcquireReply>,
        known: Known,
    ) -> Step {
        if self.votes.get(node) != Some(&NodeVote::Pending) {
            return self.step();
        }
        let vote = match reply {
            None => {
                self.tally.record(Vote::Failed);
                NodeVote::Failed
            }
            Some(reply) => {
                self.highest_fence = self.highest_fence.max(reply.fence);
                self.time_floor = self.time_floor.max(reply.node_time_us);
                let age = reply.marker_age_ms.map(Duration::from_millis);
                self.markers[node] = age;
                self.replaced[node] = known == Known::Replaced;
                self.oldest = self.oldest.max(age.unwrap_or_default());
                if reply.granted {
                    match age {
                        Some(age) if age < self.rules.max_ttl && known == Known::Replaced => {
                            self.tally.record(Vote::Failed);
                            NodeVote::HeldBack(age)
                        }
                        Some(age) if age < self.rules.max_ttl && known != Known::Trusted => {
                            NodeVote::Young(age)
                        }
                        _ => {
                            self.tally.record(Vote::Yes);
                            NodeVote::Granted
                        }
                    }
                } else {
                    self.tally.record(Vote::No);
                    self.handoff |= reply.handoff;
                    if let Some(ms) = reply.holder_pttl_ms {
                        let left = Duration::from_millis(ms);
                        self.holder_ttl = Some(self.holder_ttl.map_or(left, |h| h.min(left)));
                    }
                    NodeVote::Busy
                }
            }
        };
        self.votes[node] = vote;
        // An older marker may have arrived: young grants that it shows came back empty
        // are held back for good.
        for v in &mut self.votes {
            if let NodeVote::Young(age) = *v
                && held_back(age, self.oldest, self.rules.max_ttl, self.rules.slack)
            {
                *v = NodeVote::HeldBack(age);
                self.tally.record(Vote::Failed);
            }
        }
        self.step()
    }

    fn step(&self) -> Step {
        let stop = match self.tally.decision() {
            Decision::Lost => true,
            // The token must be one above the counter of *every* node that answers in
            // time, so a fenced acquisition waits for the stragglers (each bounded by the
            // node timeout); an unfenced one returns at once.
            Decision::Won => !self.rules.fencing,
            Decision::Pending => false,
        };
        if stop { Step::Stop } else { Step::Continue }
    }

    /// Whether a caller in `role` stops listening after an answer that returned `step`.
    /// A refused caller that waits hears the other nodes out (each bounded by the node
    /// timeout): it would only sleep meanwhile, and a node that refused needs no
    /// clean-up, where one not heard from does. Hearing everyone out also lets a lost
    /// round [trust](Outcome::trust) markers, so the library and the model must agree
    /// on it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redlease::protocol::{AcquireReply, Attempt, AttemptRules, queue::Role};
    /// let rules = AttemptRules { nodes: 3, fencing: false, max_ttl: Duration::from_secs(60), slack: Duration::ZERO };
    /// let busy = AcquireReply::default();
    /// let mut attempt = Attempt::new(rules);
    /// attempt.answer(0, Some(&busy), false);
    /// let step = attempt.answer(1, Some(&busy), false); // lost
    /// assert!(attempt.stops(step, Role::Try));
    /// assert!(!attempt.stops(step, Role::Wait));
    /// ```
    pub fn stops(&self, step: Step, role: Role) -> bool {
        step == Step::Stop && !(role == Role::Wait && self.decision() == Decision::Lost)
    }

    /// Whether the answers so far decide the vote (lost stays lost: later answers can
    /// only add to the refusals or grants that no longer reach a quorum).
    pub fn decision(&self) -> Decision {
        self.tally.decision()
    }

    /// How each node stands so far.
    pub fn votes(&self) -> &[NodeVote] {
        &self.votes
    }

    /// The marker age each node reported so far, by node.
    pub fn markers(&self) -> &[Option<Duration>] {
        &self.markers
    }

    /// The same attempt with node `i` renumbered `new_index[i]` (a permutation of
    /// `0..nodes`): nodes are interchangeable, so a model checker explores one numbering
    /// of them (symmetry reduction). Decides nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redlease::protocol::{AcquireReply, Attempt, AttemptRules, NodeVote};
    /// let rules = AttemptRules { nodes: 3, fencing: false, max_ttl: Duration::from_secs(60), slack: Duration::ZERO };
    /// let mut attempt = Attempt::new(rules);
    /// attempt.answer(0, Some(&AcquireReply { granted: true, ..AcquireReply::default() }), false);
    /// let moved = attempt.renumbered(&[2, 0, 1]);
    /// assert_eq!(moved.votes(), &[NodeVote::Pending, NodeVote::Pending, NodeVote::Granted]);
    /// ```
    pub fn renumbered(&self, new_index: &[usize]) -> Attempt {
        let mut moved = self.clone();
        for (old, &new) in new_index.iter().enumerate().take(self.votes.len()) {
            moved.votes[new] = self.votes[old];
            moved.markers[new] = self.markers[old];
            moved.replaced[new] = self.replaced[old];
        }
        moved
    }

    /// Conclude the attempt. `everyone_answered`: no answer is still outstanding (every
    /// node answered or failed), so no older marker can still arrive.
    pub fn finish(mut self, everyone_answered: bool) -> Outcome {
        let mut trust = Vec::new();
        if everyone_answered {
            // No answer showed an older marker: young grants count (a new deployment).
            for v in &mut self.votes {
                if let NodeVote::Young(_) = v {
                    *v = NodeVote::Granted;
                    self.tally.record(Vote::Yes);
                }
            }
            // Every node answered, none held back: markers that delayed restart would
            // not hold back are trusted, and later rounds need not wait for everyone
            // before counting those nodes' grants (until a node shows a different marker,
            // i.e. lost its data). Refusals report markers too, and are judged alike: a
            // young marker among older ones, or one that replaced a trusted marker, is a
            // node that lost its data, whether or not it granted this time; trusting it
            // would count its next grant while a lease it forgot may still be valid
            // (`tests/trust.rs`).
            if self.tally.failed() == 0 {
                let (max_ttl, slack, oldest) = (self.rules.max_ttl, self.rules.slack, self.oldest);
                trust = (0..self.rules.nodes)
                    .filter(|&i| !self.replaced[i] || self.markers[i] >= Some(max_ttl))
                    .filter_map(|i| self.markers[i].map(|age| (i, age)))
                    .filter(|&(_, age)| !held_back(age, oldest, max_ttl, slack))
                    .collect();
            }
        }
        let nodes = |want: fn(&NodeVote) -> bool| -> Vec<usize> {
            (0..self.votes.len())
                .filter(|&i| want(&self.votes[i]))
                .collect()
        };
        let granted = nodes(|v| *v == NodeVote::Granted);
        let busy = nodes(|v| *v == NodeVote::Busy);
        let release_on = nodes(|v| *v != NodeVote::Busy);
        let held_back: Vec<(usize, Duration)> = self
            .votes
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                NodeVote::HeldBack(age) => Some((i, *age)),
                _ => None,
            })
            .collect();
        let answered = self
            .votes
            .iter()
            .filter(|v| !matches!(v, NodeVote::Pending | NodeVote::Failed))
            .count();
        let failed = self
            .votes
            .iter()
            .filter(|v| **v == NodeVote::Failed)
            .count();
        // Unavailable only when the nodes that could not vote (failed, or held back)
        // leave no quorum even if every refusal had been a grant; otherwise the other
        // holder's refusals are what settled it, whichever answers came first.
        let unusable = failed + held_back.len();
        let verdict = if self.tally.decision() == Decision::Won {
            Verdict::Won
        } else if unusable > self.rules.nodes - super::quorum(self.rules.nodes) {
            Verdict::Unavailable
        } else {
            Verdict::Busy
        };
        Outcome {
            verdict,
            split: verdict != Verdict::Won && self.tally.yes() > 0,
            granted,
            release_on,
            busy,
            held_back,
            trust,
            answered,
            failed,
            highest_fence: self.highest_fence,
            time_floor: self.time_floor,
            holder_ttl: self.holder_ttl,
            handoff: self.handoff,
        }
    }
}

/// The tally of a fencing round: only the nodes in `granted` can confirm; the others
/// count as refusals from the start.
///
/// ```
/// use redlease::protocol::{attempt::fence_tally, Decision, Vote};
/// let mut tally = fence_tally(5, 3);
/// tally.record(Vote::Yes);
/// tally.record(Vote::Yes);
/// assert_eq!(tally.decision(), Decision::Pending);
/// tally.record(Vote::Yes);
/// assert_eq!(tally.decision(), Decision::Won);
/// ```
pub fn fence_tally(nodes: usize, granted: usize) -> Tally {
    let mut tally = Tally::new(nodes);
    (0..nodes.saturating_sub(granted)).for_each(|_| tally.record(Vote::No));
    tally
}

#[cfg(test)]
#[path = "attempt_tests.rs"]
mod tests;
