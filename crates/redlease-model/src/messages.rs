//! What travels between clients and nodes: the requests in flight, one FIFO channel per
//! (client, node) pair, and the grants by hand-off that releases publish.
//!
//! They are part of the [`State`](crate::state::State) like everything else (the checker
//! explores every order in which requests run and grants arrive), but they are the
//! network's, not a node's or a client's: kept apart so that `state.rs` reads as the
//! nodes and the clients. A request knows whose it is (its owner, hence its client) and
//! whether its reply is still awaited (`current`); a published grant carries what
//! `release.lua`'s message carries ([`crate::node::payload`] builds it).

use redlease::protocol::queue::Role;

use crate::state::{Owner, bit};

/// A request on its way from a client to a node. Each (client, node) pair is one FIFO
/// channel: the library keeps one multiplexed connection per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Request {
    /// `acquire.lua`. `current` is false once the client has moved on to another round:
    /// the node still runs it, but the reply is dropped.
    Acquire {
        /// Owner of the attempt.
        owner: Owner,
        /// Part of the client's current round.
        current: bool,
        /// Whether a refusal queues the caller (`ARGV[3]`).
        role: Role,
        /// Ticks the call has waited (`ARGV[4]`), capped like queue places.
        waited: u8,
        /// The acquisition mints the token (`ARGV[5]` "fence"): the script reads and
        /// returns the counter.
        fence: bool,
        /// The one node mints the token with the grant (`ARGV[5]` "mint", N = 1; with
        /// `fence` set too, as the script's `fencing` is `ARGV[5] ~= ''`).
        mint: bool,
        /// The owner a refusal registers for a grant by hand-off (`ARGV[10]`): the call's
        /// next attempt's; `None` not to register.
        next: Option<Owner>,
    },
    /// `fence.lua`.
    Fence {
        /// Owner of the attempt.
        owner: Owner,
        /// The token to record.
        token: u64,
        /// Part of the client's current round.
        current: bool,
    },
    /// `fence_read.lua`: the node's fencing counter and clock (the first round of a token
    /// minted on demand; read-only).
    FenceRead {
        /// Owner of the lease.
        owner: Owner,
        /// Part of the client's current round.
        current: bool,
    },
    /// `extend.lua` to `ttl` ticks.
    Extend {
        /// Owner of the lease.
        owner: Owner,
        /// The new TTL in ticks.
        ttl: u8,
        /// Part of the client's current round.
        current: bool,
    },
    /// `release.lua` (no reply is waited for: a lost release only delays others).
    Release {
        /// Owner whose key to delete.
        owner: Owner,
        /// A lease's release, with the hand-off window (not a failed attempt's clean-up).
        handoff: bool,
        /// Keep the waiter's place in the queue (`ARGV[8]` "stay").
        stay: bool,
    },
}

impl Request {
    /// Whose request it is (and so from which client).
    pub fn owner(&self) -> Owner {
        match *self {
            Request::Acquire { owner, .. }
            | Request::Fence { owner, .. }
            | Request::FenceRead { owner, .. }
            | Request::Extend { owner, .. }
            | Request::Release { owner, .. } => owner,
        }
    }

    /// The same request with its owner's client renamed.
    pub fn with_client(mut self, client: u8) -> Self {
        match &mut self {
            Request::Acquire { owner, next, .. } => {
                owner.client = client;
                if let Some(next) = next {
                    next.client = client;
                }
            }
            Request::Fence { owner, .. }
            | Request::FenceRead { owner, .. }
            | Request::Extend { owner, .. }
            | Request::Release { owner, .. } => owner.client = client,
        }
        self
    }

    /// The same request, no longer part of the client's current round.
    pub fn stale(self) -> Self {
        match self {
            Request::Acquire {
                owner,
                role,
                waited,
                fence,
                mint,
                next,
                ..
            } => Request::Acquire {
                owner,
                current: false,
                role,
                waited,
                fence,
                mint,
                next,
            },
            Request::Fence { owner, token, .. } => Request::Fence {
                owner,
                token,
                current: false,
            },
            Request::FenceRead { owner, .. } => Request::FenceRead {
                owner,
                current: false,
            },
            Request::Extend { owner, ttl, .. } => Request::Extend {
                owner,
                ttl,
                current: false,
            },
            release @ Request::Release { .. } => release,
        }
    }
}

/// A grant by hand-off a release published (`release.lua`'s message), on its way to the
/// waiter's subscriber connection. The payload is a function of these fields
/// ([`crate::node::payload`], built as the script builds it); pub/sub may deliver it
/// late, after other messages, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Published {
    /// The registered owner the lock was set to (its waiter is the message's first word).
    pub owner: Owner,
    /// The node that published it.
    pub node: u8,
    /// The token minted with the grant, or 0.
    pub token: u64,
    /// The node's marker age in ms when it published, -1 without delayed restart.
    pub marker_ms: i64,
}

/// Requests in flight, one FIFO channel per (client, node): the library keeps one
/// multiplexed connection per node. Stored flat, as (node, request) sorted by (client,
/// node) and oldest first within a channel, so that a state has one representation and
/// one allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flights(Vec<(u8, Request)>);

fn key(entry: &(u8, Request)) -> (u8, u8) {
    (entry.1.owner().client, entry.0)
}

impl Flights {
    /// Channel (client `c`, node `i`), oldest first.
    pub fn channel(&self, c: usize, i: usize) -> &[(u8, Request)] {
        let k = (c as u8, i as u8);
        let start = self.0.partition_point(|e| key(e) < k);
        let end = self.0.partition_point(|e| key(e) <= k);
        &self.0[start..end]
    }

    /// The oldest request of channel (c, i).
    pub fn head(&self, c: usize, i: usize) -> Option<Request> {
        self.channel(c, i).first().map(|&(_, r)| r)
    }

    /// Append `request` (from its owner's client) to the channel to node `i`.
    pub fn push(&mut self, i: usize, request: Request) {
        let k = (request.owner().client, i as u8);
        let at = self.0.partition_point(|e| key(e) <= k);
        self.0.insert(at, (i as u8, request));
    }

    /// The request at `position` of channel (c, i) (0 is the oldest).
    pub fn get(&self, c: usize, i: usize, position: usize) -> Option<Request> {
        self.channel(c, i).get(position).map(|&(_, r)| r)
    }

    /// Remove and return the request at `position` of channel (c, i).
    pub fn take(&mut self, c: usize, i: usize, position: usize) -> Option<Request> {
        let k = (c as u8, i as u8);
        let at = self.0.partition_point(|e| key(e) < k) + position;
        (self.0.get(at).map(key) == Some(k)).then(|| self.0.remove(at).1)
    }

    /// The tokens of the `fence.lua` requests in flight.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().filter_map(|&(_, request)| match request {
            Request::Fence { token, .. } => Some(token),
            _ => None,
        })
    }

    /// Drop every request to node `i` (its connections broke).
    pub fn clear_node(&mut self, i: usize) {
        self.0.retain(|&(node, _)| usize::from(node) != i);
    }

    /// Nodes with requests queued (bit mask).
    pub fn busy_nodes(&self) -> u8 {
        self.0
            .iter()
            .fold(0, |mask, &(node, _)| mask | bit(node.into()))
    }

    /// Mark client `c`'s requests as no longer part of its current round.
    pub fn make_stale(&mut self, c: usize) {
        for entry in &mut self.0 {
            if usize::from(entry.1.owner().client) == c {
                entry.1 = entry.1.stale();
            }
        }
    }

    /// Rename clients (`client[old] = new`) and nodes (`node[old] = new`), keeping each
    /// channel's order.
    pub fn renamed(&self, client: &[u8], node: &[usize]) -> Self {
        let mut out: Vec<(u8, Request)> = self
            .0
            .iter()
            .map(|&(i, r)| {
                let c = client[usize::from(r.owner().client)];
                (node[usize::from(i)] as u8, r.with_client(c))
            })
            .collect();
        out.sort_by_key(key);
        Flights(out)
    }
}
