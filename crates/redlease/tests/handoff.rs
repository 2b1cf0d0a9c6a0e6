//! Hand-off in one round: a waiter holds the lease from the release itself.
//!
//! A refused waiter registers, with its place in each node's queue, the owner of its next
//! attempt; the next release sets the lock to that owner and publishes the grant, and the
//! waiter counts it instead of making that attempt. Each test reads the registration on
//! the nodes, releases a second after it, and checks that the lease the waiter gets has
//! the registered owner and validity counted from the refused attempt: at most the ttl
//! less that second (the attempt it would otherwise make, after the release, would leave
//! nearly the whole ttl, as would validity counted from the grant), and that tokens still
//! grow. Markers are made ready first (a deployment in use): young markers leave grants
//! to an attempt, which the last test checks.

mod common;

use std::time::{Duration, Instant};

use common::{builder, start};
use redlease::{Error, Lease, LockManager};
use redlease_testkit::{Cluster, Direction, ProxiedCluster, Reply};
use tokio::task::JoinHandle;

const NEVER: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(10);

/// The owner registered for a grant in node `node`'s queue of `resource`, if exactly one
/// waiter is queued there and registered.
fn registered(cluster: &Cluster, node: usize, resource: &str) -> Option<String> {
    let seen = format!("redlease:{{{resource}}}:seen");
    let Ok(Reply::Array(fields)) = cluster.node(node).query(&["HGETALL", seen.as_str()]) else {
        return None;
    };
    let [_, Reply::Bulk(entry)] = fields.as_slice() else {
        return None;
    };
    let entry = String::from_utf8_lossy(entry).into_owned();
    let mut parts = entry.split(' ');
    let (_ms, owner) = (parts.next()?, parts.next()?);
    Some(owner.to_owned())
}

/// Whether one waiter is queued on node `node` for `resource`.
fn queued(cluster: &Cluster, node: usize, resource: &str) -> bool {
    let queue = format!("redlease:{{{resource}}}:queue");
    matches!(
        cluster.node(node).query(&["ZCARD", queue.as_str()]),
        Ok(Reply::Integer(1))
    )
}

/// Wait until every node has the one waiter's registration: the same attempt everywhere.
async fn registered_everywhere(cluster: &Cluster, resource: &str) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let owners: Vec<Option<String>> = (0..cluster.len())
            .map(|i| registered(cluster, i, resource))
            .collect();
        if let Some(Some(first)) = owners.first()
            && owners.iter().all(|o| o.as_ref() == Some(first))
        {
            return first.clone();
        }
        assert!(Instant::now() < until, "never registered: {owners:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A call that waits for `resource` (30 s), in its own task.
fn waiting(m: &LockManager, resource: &str) -> JoinHandle<Result<Lease, Error>> {
    let (m, resource) = (m.clone(), resource.to_owned());
    tokio::spawn(async move { m.acquire_for(&resource, TTL, Duration::from_secs(30)).await })
}

async fn ready(m: LockManager) -> LockManager {
    m.mark_nodes_ready().await;
    m
}

/// A holder, a waiter that registers, a release a second later: the waiter's lease is
/// its registered attempt's, and its validity runs from that attempt.
async fn handed_over(nodes: usize, m: LockManager, cluster: &Cluster) -> (u64, u64) {
    let resource = format!("given-{nodes}");
    let holder = m.acquire(&resource).await.expect("acquire");
    let waiter = waiting(&m, &resource);
    let owner = registered_everywhere(cluster, &resource).await;
    // Asked only now: on several nodes, a token asked before the waiter's call would
    // have it minted in the acquisition (unregistered, the test below).
    let first = holder.fencing_token().await.unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    holder.release().await.expect("release");
    let lease = waiter.await.expect("waiter").expect("handed over");
    assert_eq!(
        lease.owner(),
        owner,
        "{nodes} node(s): the registered owner"
    );
    // The key was set at the release, a second after the refused attempt; a lease won
    // by the grants counts from that attempt. (Counted from the grant, or won by another
    // attempt after the release, it would have ~TTL less the drift.)
    assert!(
        lease.remaining() <= TTL - Duration::from_secs(1),
        "{nodes} node(s): validity {:?}: not the grants counted from the refused attempt",
        lease.remaining()
    );
    let second = lease.fencing_token().await.unwrap_or(0);
    lease.release().await.expect("release");
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_holds_the_lease_from_the_release_unfenced() {
    for nodes in [1, 3] {
        let cluster = start(nodes);
        let m = builder(&cluster)
            .fencing(false)
            .wake_up_fallback(NEVER)
            .build()
            .await
            .expect("config");
        handed_over(nodes, ready(m).await, &cluster).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_handed_over_gets_a_token_above_the_previous_one() {
    // One node mints with the grant (in the release); several nodes mint on demand.
    for nodes in [1, 3] {
        let cluster = start(nodes);
        let m = builder(&cluster)
            .wake_up_fallback(NEVER)
            .build()
            .await
            .expect("config");
        let (first, second) = handed_over(nodes, ready(m).await, &cluster).await;
        assert!(
            first > 0 && second > first,
            "{nodes} node(s): {first} then {second}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_whose_token_is_minted_in_the_acquisition_is_not_registered() {
    // On several nodes such a lease would need both rounds of a mint on demand after the
    // grants: the waiter takes a reservation by a fenced attempt instead.
    let cluster = start(3);
    let m = ready(
        builder(&cluster)
            .token_at_acquire(true)
            .wake_up_fallback(NEVER)
            .build()
            .await
            .expect("config"),
    )
    .await;
    let holder = m.acquire("minted").await.expect("acquire");
    let first = holder.fencing_token().await.expect("token");
    let waiter = waiting(&m, "minted");
    let until = Instant::now() + Duration::from_secs(20);
    while !(0..3).all(|i| queued(&cluster, i, "minted")) {
        assert!(Instant::now() < until, "never queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        (0..3).all(|i| registered(&cluster, i, "minted").is_none()),
        "registered for a grant"
    );
    holder.release().await.expect("release");
    let lease = waiter.await.expect("waiter").expect("acquired");
    let second = lease.fencing_token().await.expect("token");
    assert!(second > first, "{first} then {second}");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_from_young_markers_are_left_to_an_attempt() {
    // Fresh servers: every marker is younger than max_ttl, so a grant cannot count on
    // its own; the waiter's next attempt (the registered owner) finds the keys its own,
    // after the release: its validity is nearly the whole ttl, where grants counted from
    // the refused attempt, a second before, would leave at most the ttl less that second.
    let cluster = start(3);
    let m = builder(&cluster)
        .wake_up_fallback(NEVER)
        .build()
        .await
        .expect("config");
    let holder = m.acquire("young").await.expect("acquire");
    let waiter = waiting(&m, "young");
    let owner = registered_everywhere(&cluster, "young").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let released_at = Instant::now();
    holder.release().await.expect("release");
    let lease = waiter.await.expect("waiter").expect("acquired");
    assert_eq!(
        lease.owner(),
        owner,
        "the next attempt has the registered owner"
    );
    assert!(
        lease.remaining() > TTL - Duration::from_secs(1),
        "a grant with a young marker counted: validity {:?}",
        lease.remaining()
    );
    assert!(
        released_at.elapsed() < Duration::from_secs(10),
        "neither the ttl nor the fallback"
    );
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_whose_grants_cannot_count_waits_for_a_quorum_of_them_before_trying() {
    // Young markers: no grant counts on its own. The holder's release reaches node 0 at
    // once and the two others 300 ms later (the holder talks through slow proxies, the
    // waiter directly). A waiter that tried again at the first grant would be refused by
    // the holder's keys on the two others and register a new owner there; one that waits
    // for a quorum of its grants (within its node timeout) finds them its own.
    let proxied = ProxiedCluster::start(3).expect("redis-server and proxies");
    let holders = LockManager::builder()
        .servers(proxied.urls())
        .node_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("config");
    let m = builder(proxied.cluster())
        .node_timeout(Duration::from_secs(2))
        .wake_up_fallback(NEVER)
        .build()
        .await
        .expect("config");
    let holder = holders
        .acquire_for("late", TTL, Duration::ZERO)
        .await
        .expect("acquire");
    let waiter = waiting(&m, "late");
    let owner = registered_everywhere(proxied.cluster(), "late").await;
    for i in [1, 2] {
        proxied
            .proxy(i)
            .set_latency(Direction::ToServer, Duration::from_millis(300));
    }
    holder.release().await.expect("release");
    let lease = waiter.await.expect("waiter").expect("acquired");
    assert_eq!(
        lease.owner(),
        owner,
        "the attempt after the grants has the registered owner"
    );
    lease.release().await.expect("release");
}
