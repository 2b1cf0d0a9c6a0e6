//! Redis Cluster nodes (`redis+cluster://`), on real cluster-mode redis-servers from the
//! test kit: one URL is one lock node however many shards it has; every key of a
//! resource is in one slot, so no script ever spans shards; wake-ups use sharded
//! pub/sub; a shard failover is survived; and Redlock runs over independent clusters.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redlease::LockManager;
use redlease_testkit::RedisCluster;

/// The acquire script, as the library sends it.
/// `acquire.lua` as the library loads it: after the mint it shares with `release.lua`.
const ACQUIRE_LUA: &str = concat!(
    include_str!("../src/ops/mint.lua"),
    include_str!("../src/ops/acquire.lua")
);

fn start(primaries: usize, replicas: usize) -> RedisCluster {
    RedisCluster::start(primaries, replicas)
        .expect("redis-server and redis-cli must be installed: apt-get install -y redis-server")
}

async fn manager(urls: Vec<String>) -> LockManager {
    LockManager::builder()
        .servers(urls)
        .ttl(Duration::from_secs(5))
        .node_timeout(Duration::from_millis(500))
        .wait(Duration::from_secs(20))
        .build()
        .await
        .expect("valid configuration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_resources_spread_over_every_shard_lock_without_crossslot() {
    let cluster = start(3, 0);
    let manager = manager(vec![cluster.cluster_url()]).await;
    let mut owners = HashSet::new();
    let mut first_token = 0;
    for i in 0..60 {
        let resource = format!("orders:{i}");
        let owner = cluster
            .primary_of(&format!("redlease:{{{resource}}}:lock"))
            .expect("slot owner")
            .port();
        owners.insert(owner);
        let lease = manager.try_acquire(&resource).await.expect("free resource");
        assert!(
            lease.fencing_token().await.expect("token") > 0,
            "{resource}"
        );
        if i == 0 {
            first_token = lease.fencing_token().await.expect("token");
        }
        let second = manager.try_acquire(&resource).await;
        assert!(
            second.is_err_and(|e| e.is_busy()),
            "{resource} granted twice"
        );
        lease.release().await.expect("release");
    }
    assert_eq!(
        owners.len(),
        3,
        "the resources were not spread over every shard"
    );
    let lease = manager.try_acquire("orders:0").await.expect("free again");
    assert!(
        lease.fencing_token().await.expect("token") > first_token,
        "the fence counter lives with the lock"
    );
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_exclusion_through_a_cluster_with_many_clients() {
    let cluster = start(3, 0);
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    // Several managers: several independent clients, each with its own connections.
    for _ in 0..4 {
        let manager = manager(vec![cluster.cluster_url()]).await;
        for _ in 0..4 {
            let (manager, counter) = (manager.clone(), counter.clone());
            handles.push(tokio::spawn(async move {
                let mut tokens = Vec::new();
                for _ in 0..10 {
                    let lease = manager.acquire("shared").await.expect("acquire");
                    tokens.push(lease.fencing_token().await.expect("token"));
                    let seen = counter.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_micros(300)).await;
                    counter.store(seen + 1, Ordering::SeqCst);
                    lease.release().await.expect("release");
                }
                tokens
            }));
        }
    }
    let mut tokens = Vec::new();
    for handle in handles {
        tokens.extend(handle.await.expect("worker"));
    }
    assert_eq!(
        counter.load(Ordering::SeqCst),
        160,
        "lost update: two holders"
    );
    let unique: HashSet<u64> = tokens.iter().copied().collect();
    assert_eq!(
        unique.len(),
        tokens.len(),
        "a fencing token was handed out twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_wakes_a_waiter_through_sharded_pubsub() {
    let cluster = start(3, 0);
    // A long fallback: only a published release wakes the waiter quickly.
    let manager = LockManager::builder()
        .servers([cluster.cluster_url()])
        .ttl(Duration::from_secs(10))
        .node_timeout(Duration::from_millis(500))
        .wake_up_fallback(Duration::from_secs(8))
        .wait(Duration::from_secs(20))
        .build()
        .await
        .expect("valid");
    let lease = manager.acquire("woken").await.expect("acquire");
    let waiter = {
        let manager = manager.clone();
        tokio::spawn(async move {
            let lease = manager
                .acquire("woken")
                .await
                .expect("acquire after release");
            let woken_at = Instant::now();
            lease.release().await.expect("release");
            woken_at
        })
    };
    // Let the waiter try once, subscribe and go to sleep.
    tokio::time::sleep(Duration::from_millis(700)).await;
    // The channel is subscribed on the shard of the resource's slot, with SSUBSCRIBE.
    let channel = "redlease:{woken}:released";
    let shard = cluster.primary_of(channel).expect("owner");
    let subscribed = shard
        .command(&["PUBSUB", "SHARDNUMSUB", channel])
        .expect("pubsub");
    assert_eq!(subscribed, format!("{channel} 1"));
    let released_at = Instant::now();
    lease.release().await.expect("release");
    let woken_at = waiter.await.expect("waiter");
    let handoff = woken_at.duration_since(released_at);
    assert!(
        handoff < Duration::from_secs(3),
        "the waiter slept {handoff:?}: no sharded wake-up reached it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_acquire_of_the_same_owner_is_granted_not_refused() {
    let cluster = start(3, 0);
    let manager = manager(vec![cluster.cluster_url()]).await;
    let lease = manager.try_acquire("resent").await.expect("acquire");
    let owner = lease.owner().to_owned();
    // What redis-rs re-sending an acquisition after a dropped cluster connection looks
    // like to the shard: the same script, the same owner, once more. It must be granted
    // (with a fresh ttl), not read as "taken" by its own owner.
    let keys = [
        "redlease:{resent}:lock",
        "redlease:{resent}:fence",
        "redlease:{resent}:queue",
        "redlease:{resent}:seen",
    ];
    let shard = cluster.primary_of(keys[0]).expect("owner");
    let mut args = vec!["EVAL", ACQUIRE_LUA, "4"];
    args.extend(keys);
    // ARGV: owner, ttl, role, waited, mint, queue ttl, waiter, counter ttl.
    args.extend([
        owner.as_str(),
        "5000",
        "try",
        "0",
        "",
        "1000",
        owner.as_str(),
        "60000",
    ]);
    let reply = shard.command(&args).expect("eval");
    assert!(
        reply.starts_with("1 "),
        "a re-sent acquire was refused: {reply}"
    );
    assert!(
        manager
            .try_acquire("resent")
            .await
            .is_err_and(|e| e.is_busy())
    );
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_works_again_after_a_shard_fails_over() {
    let cluster = start(3, 1);
    let manager = manager(vec![cluster.cluster_url()]).await;
    let key = "redlease:{fo}:lock";
    let lease = manager.try_acquire("fo").await.expect("acquire");
    lease.release().await.expect("release");
    cluster.fail_over_primary_of(key).expect("failover");
    let started = Instant::now();
    let lease = manager
        .acquire("fo")
        .await
        .expect("the resource can be locked once the cluster is ok again");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The other shards were never affected.
    for other in ["a", "b", "c"] {
        manager
            .try_acquire(other)
            .await
            .expect("other shards")
            .release()
            .await
            .expect("release");
    }
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_over_three_single_shard_clusters() {
    let clusters: Vec<RedisCluster> = (0..3).map(|_| start(1, 0)).collect();
    let urls: Vec<String> = clusters.iter().map(RedisCluster::cluster_url).collect();
    let manager = manager(urls).await;
    let lease = manager
        .try_acquire("multi")
        .await
        .expect("quorum of clusters");
    assert!(
        manager
            .try_acquire("multi")
            .await
            .is_err_and(|e| e.is_busy())
    );
    // Each cluster holds the lock and its per-resource delayed-restart marker, in the
    // lock's slot.
    for cluster in &clusters {
        let node = cluster.primary_of("redlease:{multi}:lock").expect("owner");
        assert_eq!(
            node.command(&["GET", "redlease:{multi}:lock"])
                .expect("get"),
            lease.owner()
        );
        assert_ne!(
            node.command(&["EXISTS", "redlease:{multi}:born"])
                .expect("exists"),
            "0"
        );
    }
    // One whole cluster down: still a quorum.
    for node in clusters[2].nodes() {
        node.kill().expect("kill");
    }
    lease.release().await.expect("release");
    let again = manager.try_acquire("multi").await.expect("2 of 3 clusters");
    again.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_finds_the_leases_on_every_shard() {
    let cluster = start(3, 0);
    let manager = manager(vec![cluster.cluster_url()]).await;
    let mut shards = HashSet::new();
    let mut leases = Vec::new();
    for i in 0..30 {
        let resource = format!("jobs:{i}");
        let shard = cluster
            .primary_of(&format!("redlease:{{{resource}}}:lock"))
            .expect("slot owner")
            .port();
        shards.insert(shard);
        leases.push(manager.try_acquire(&resource).await.expect("free resource"));
    }
    assert_eq!(shards.len(), 3, "the resources span every shard");
    let listed: HashSet<String> = manager
        .list("jobs:*", 1000)
        .await
        .expect("list")
        .held
        .into_iter()
        .map(|status| status.resource)
        .collect();
    let expected: HashSet<String> = (0..30).map(|i| format!("jobs:{i}")).collect();
    let missing: Vec<_> = expected.difference(&listed).collect();
    assert!(missing.is_empty(), "not listed: {missing:?}");
    assert_eq!(
        manager.list("jobs:*", 7).await.expect("list").held.len(),
        7,
        "bounded across shards"
    );
    // A shard that is down hides only its own leases, and is named.
    let dead = cluster
        .primary_of("redlease:{jobs:0}:lock")
        .expect("slot owner");
    let dead_port = dead.port();
    let on_live_shards = (0..30)
        .filter(|i| {
            let key = format!("redlease:{{jobs:{i}}}:lock");
            cluster.primary_of(&key).expect("slot owner").port() != dead_port
        })
        .count();
    dead.kill().expect("kill a shard's primary");
    let listing = manager.list("jobs:*", 1000).await.expect("list");
    assert_eq!(
        listing.held.len(),
        on_live_shards,
        "{:?}",
        listing.unscanned
    );
    assert_eq!(listing.unscanned.len(), 1);
    let why = listing.unscanned[0].to_string();
    let dead_port = dead_port.expect("tcp");
    assert!(
        why.contains(&format!(
            "shard 127.0.0.1:{dead_port} (connection failed: not reachable"
        )),
        "{why}"
    );
    drop(leases);
}
