//! Symmetry reduction: one representative for every renaming of clients and nodes.
//!
//! All clients run the same code with the same bounds, and all nodes are identical, so a
//! state and the same state with two clients (or two nodes) swapped behave the same way:
//! checking one of them is enough. This shrinks the state space by up to
//! `clients! * nodes!`, which is what makes three clients or five nodes affordable.
//!
//! The representative is canonical. Clients are first ordered by a signature that no
//! renaming changes (their phase, counters and vote counts, without node or client
//! numbers); for every order of the clients that this leaves open (clients with equal
//! signatures), rename them everywhere (owners in lock keys and requests included), then
//! sort the nodes by everything attached to one node (its data, the requests queued to
//! it, each client's bits and young-marker entry for it, whether it is faulty, whether it
//! was wiped). The smallest result wins. Nodes that sort equal are interchangeable, so
//! the order among them does not matter.

use std::cmp::Ordering;
use std::time::Duration;

use redlease::protocol::NodeVote;

use crate::state::{Client, Lease, MAX_NODES, MintStage, Owner, Phase, State, bit};

/// The canonical member of `state`'s symmetry class (for `CheckerBuilder::symmetry_fn`).
pub fn representative(state: &State) -> State {
    let mut by_signature: Vec<usize> = (0..state.clients.len()).collect();
    by_signature.sort_by_key(|&c| signature(&state.clients[c]));
    candidate_orders(state, &by_signature)
        .into_iter()
        .map(|order| sort_nodes(rename_clients(state, &order)))
        .min()
        .unwrap_or_else(|| state.clone())
}

/// What a client is doing, without any node or client number in it: its counters, its
/// phase's node-free values, and the sorted multiset of what it holds about each node
/// (no renaming changes a multiset). It need not be complete: clients with equal
/// signatures are tried in every order.
type Signature = ((u8, u8, u8, u64), (u8, u8, u64, Duration), Vec<Marks>);

fn signature(client: &Client) -> Signature {
    let phase = match &client.phase {
        Phase::Idle => (0, 0, 0, Duration::ZERO),
        Phase::Backoff => (1, 0, 0, Duration::ZERO),
        Phase::Voting(r) => (2, r.elapsed, r.fencing as u64, Duration::ZERO),
        Phase::Fencing(r) => (3, r.elapsed, r.token, Duration::ZERO),
        Phase::Holding(l) => (4, l.due, lease_counts(l), l.left),
        Phase::Extending(r) => (
            5,
            r.elapsed,
            u64::from(r.ttl) << 32
                | u64::from(r.renewal) << 24
                | (r.tally.yes() << 16 | r.tally.no() << 8 | r.tally.failed()) as u64,
            r.lease.left,
        ),
        Phase::Minting(r) => (
            6 + u8::from(matches!(r.stage, MintStage::Recording { .. })),
            r.elapsed,
            match &r.stage {
                MintStage::Reading(readings) => readings.len() as u64,
                MintStage::Recording { token, .. } => *token,
            },
            r.lease.left,
        ),
        Phase::Waiting(w) => (
            8,
            w.elapsed,
            u64::from(w.granted.count_ones()) << 56 | (w.fencing as u64) << 48 | w.token,
            Duration::ZERO,
        ),
    };
    let mut marks: Vec<Marks> = (0..MAX_NODES).map(|i| client_marks(client, i)).collect();
    marks.sort_unstable();
    (
        (client.calls, client.attempts, client.waited, client.floor),
        phase,
        marks,
    )
}

/// A lease's counters, packed: user extends, renewals, mint rounds left.
fn lease_counts(lease: &Lease) -> u64 {
    u64::from(lease.extended) << 16 | u64::from(lease.renewals) << 8 | u64::from(lease.mints)
}

/// Every order of the clients that sorts them by signature: `sorted` permuted within
/// each run of equal signatures.
fn candidate_orders(state: &State, sorted: &[usize]) -> Vec<Vec<usize>> {
    let mut orders = vec![Vec::new()];
    let mut start = 0;
    while start < sorted.len() {
        let key = signature(&state.clients[sorted[start]]);
        let mut end = start + 1;
        while end < sorted.len() && signature(&state.clients[sorted[end]]) == key {
            end += 1;
        }
        let group = &sorted[start..end];
        orders = orders
            .into_iter()
            .flat_map(|prefix| {
                permutations(group.len()).into_iter().map(move |p| {
                    let mut order = prefix.clone();
                    order.extend(p.iter().map(|&k| group[k]));
                    order
                })
            })
            .collect();
        start = end;
    }
    orders
}

/// Every permutation of `0..k`.
fn permutations(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for rest in permutations(k - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, k - 1);
            out.push(p);
        }
    }
    out
}

/// `state` with client `order[k]` renamed to `k`.
fn rename_clients(state: &State, order: &[usize]) -> State {
    let mut new_name = vec![0u8; order.len()];
    for (k, &old) in order.iter().enumerate() {
        new_name[old] = k as u8;
    }
    let mut nodes = state.nodes.clone();
    let rename = |client: &mut u8| *client = new_name[usize::from(*client)];
    for node in &mut nodes {
        if let Some(lock) = node.lock.as_mut() {
            rename(&mut lock.owner.client);
        }
        if let Some(waiter) = node.handoff.as_mut() {
            rename(&mut waiter.client);
        }
        for entry in &mut node.queue {
            rename(&mut entry.waiter.client);
            if let Some(registered) = entry.registered.as_mut() {
                rename(&mut registered.owner.client);
            }
        }
        node.queue.sort_unstable();
    }
    let handed = (0..order.len())
        .filter(|&old| state.handed & bit(old) != 0)
        .fold(0u8, |mask, old| mask | bit(usize::from(new_name[old])));
    let same_nodes: Vec<usize> = (0..state.nodes.len()).collect();
    let mut published = state.published.clone();
    for grant in &mut published {
        rename(&mut grant.owner.client);
    }
    published.sort_unstable();
    State {
        nodes,
        published,
        clients: order
            .iter()
            .map(|&old| state.clients[old].clone())
            .collect(),
        flights: state.flights.renamed(&new_name, &same_nodes),
        handed,
        ..*state
    }
}

/// What a client holds about node `i`: its bits (fence round waiting, release on), its
/// vote and the marker age reported in the attempt (the library's [`NodeVote`] and
/// marker, and the model's current age of it), the marker it trusts and the one that
/// replaced a trusted marker.
type Marks = (
    u8,
    Option<NodeVote>,
    Option<Duration>,
    Option<u8>,
    (Option<u8>, Option<u8>),
);

fn client_marks(client: &Client, i: usize) -> Marks {
    let flag = |mask: u8, shift: u8| u8::from(mask & bit(i) != 0) << shift;
    let trusted = (client.trusted[i], client.replaced[i]);
    match &client.phase {
        Phase::Voting(round) => (
            0,
            round.attempt.votes().get(i).copied(),
            round.attempt.markers().get(i).copied().flatten(),
            round.markers[i],
            trusted,
        ),
        Phase::Fencing(round) => (
            flag(round.waiting, 0) | flag(round.release_on, 1),
            None,
            None,
            None,
            trusted,
        ),
        Phase::Extending(round) => (flag(round.waiting, 0), None, None, None, trusted),
        Phase::Minting(round) => (flag(round.waiting, 0), None, None, None, trusted),
        Phase::Waiting(wait) => (flag(wait.granted, 0), None, None, None, trusted),
        _ => (0, None, None, None, trusted),
    }
}

/// The grant node `i` published for client `c`, without the node's number.
fn published_from(state: &State, c: usize, i: usize) -> Option<(Owner, u64, i64)> {
    state
        .published
        .iter()
        .find(|p| usize::from(p.owner.client) == c && usize::from(p.node) == i)
        .map(|p| (p.owner, p.token, p.marker_ms))
}

/// Compare nodes `i` and `j` by everything attached to them.
fn compare_nodes(state: &State, i: usize, j: usize) -> Ordering {
    state.nodes[i]
        .cmp(&state.nodes[j])
        .then_with(|| (state.faulty & bit(i) != 0).cmp(&(state.faulty & bit(j) != 0)))
        .then_with(|| (state.wiped & bit(i) != 0).cmp(&(state.wiped & bit(j) != 0)))
        .then_with(|| {
            (0..state.clients.len())
                .map(|c| {
                    (state.flights.channel(c, i).iter().map(|e| e.1))
                        .cmp(state.flights.channel(c, j).iter().map(|e| e.1))
                        .then_with(|| {
                            let client = &state.clients[c];
                            client_marks(client, i).cmp(&client_marks(client, j))
                        })
                        .then_with(|| published_from(state, c, i).cmp(&published_from(state, c, j)))
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
}

/// `state` with its nodes in column order.
fn sort_nodes(state: State) -> State {
    let mut order: Vec<usize> = (0..state.nodes.len()).collect();
    order.sort_by(|&i, &j| compare_nodes(&state, i, j));
    reorder_nodes(state, &order)
}

/// `state` with node `order[k]` renumbered `k`.
fn reorder_nodes(mut state: State, order: &[usize]) -> State {
    let n = state.nodes.len();
    let mut new_index = vec![0usize; n];
    for (k, &old) in order.iter().enumerate() {
        new_index[old] = k;
    }
    let remap = |mask: u8| {
        (0..n)
            .filter(|&old| mask & bit(old) != 0)
            .fold(0u8, |acc, old| acc | bit(new_index[old]))
    };
    let mut nodes = std::mem::take(&mut state.nodes);
    state.nodes = order
        .iter()
        .map(|&old| std::mem::take(&mut nodes[old]))
        .collect();
    let same_clients: Vec<u8> = (0..state.clients.len()).map(|c| c as u8).collect();
    state.flights = state.flights.renamed(&same_clients, &new_index);
    state.faulty = remap(state.faulty);
    state.wiped = remap(state.wiped);
    for grant in &mut state.published {
        grant.node = new_index[usize::from(grant.node)] as u8;
    }
    state.published.sort_unstable();
    let permute = |by_node: &mut [Option<u8>; MAX_NODES]| {
        let old = *by_node;
        for (i, value) in old.into_iter().enumerate().take(n) {
            by_node[new_index[i]] = value;
        }
    };
    for client in &mut state.clients {
        permute(&mut client.trusted);
        permute(&mut client.replaced);
        match &mut client.phase {
            Phase::Voting(round) => {
                round.attempt = round.attempt.renumbered(&new_index);
                permute(&mut round.markers);
            }
            Phase::Fencing(round) => {
                round.waiting = remap(round.waiting);
                round.release_on = remap(round.release_on);
            }
            Phase::Extending(round) => round.waiting = remap(round.waiting),
            Phase::Minting(round) => round.waiting = remap(round.waiting),
            Phase::Waiting(wait) => wait.granted = remap(wait.granted),
            _ => {}
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Redlease;
    use crate::setup::{Restart, Setup};
    use stateright::Model;

    /// A cheap deterministic generator for the random walks.
    fn next(seed: &mut u64) -> usize {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 33) as usize
    }

    fn shuffled(k: usize, seed: &mut u64) -> Vec<usize> {
        let mut v: Vec<usize> = (0..k).collect();
        for i in (1..k).rev() {
            v.swap(i, next(seed) % (i + 1));
        }
        v
    }

    #[test]
    fn renamed_states_have_one_representative() {
        for setup in [
            Setup::wipes_protected(3),
            Setup::wipes_protected(5),
            Setup {
                place_cap: 2,
                ..Setup::queued(3)
            },
            Setup {
                mints: 2,
                ..Setup::on_demand(3)
            },
            Setup {
                restarts: vec![Restart::KeepData, Restart::Wipe],
                delayed_restart: true,
                ..Setup::on_demand(3)
            },
            Setup {
                restarts: vec![Restart::KeepData, Restart::Wipe],
                delayed_restart: true,
                ..Setup::mixed(3)
            },
        ] {
            let setup = Setup {
                clients: 3,
                ..setup
            };
            let model = Redlease::new(setup);
            let mut seed = 7u64;
            for _walk in 0..200 {
                let mut state = model.init_states().remove(0);
                for _step in 0..40 {
                    let mut actions = Vec::new();
                    model.actions(&state, &mut actions);
                    if actions.is_empty() {
                        break;
                    }
                    let action = actions[next(&mut seed) % actions.len()];
                    state = model.next_state(&state, action).expect("a step");
                    let clients = shuffled(state.clients.len(), &mut seed);
                    let nodes = shuffled(state.nodes.len(), &mut seed);
                    let renamed = reorder_nodes(rename_clients(&state, &clients), &nodes);
                    assert_eq!(
                        representative(&state),
                        representative(&renamed),
                        "{state:#?}"
                    );
                }
            }
        }
    }

    #[test]
    fn permutations_are_all_there() {
        assert_eq!(permutations(1).len(), 1);
        let mut all = permutations(3);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6);
    }
}
