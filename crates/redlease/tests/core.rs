//! The core protocol on real redis-servers: mutual exclusion, fencing, faults, ownership
//! and input validation.

mod common;

use std::time::{Duration, Instant};

use common::{builder, manager, start};
use redlease::{Error, ErrorKind, LockManager, LostReason};
use redlease_testkit::workload::{RacyCounter, TokenOrder};

/// 32 tasks, 50 non-atomic read-modify-writes each, under the lock, refereed by the test
/// kit's shared workload (the same critical section the demo, the benchmarks and the
/// chaos suite run): no overlap, no lost update, no section after its lease ended,
/// tokens strictly increasing in section order.
async fn contend(manager: LockManager, resource: &'static str) {
    const TASKS: u64 = 32;
    const ROUNDS: u64 = 50;
    let counter = RacyCounter::in_memory();
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let (manager, counter) = (manager.clone(), counter.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let lease = manager
                    .acquire(resource)
                    .await
                    .expect("acquire within wait");
                counter
                    .section(
                        lease.fencing_token().await.expect("token"),
                        Duration::from_micros(200),
                        || lease.is_valid(),
                    )
                    .await
                    .expect("an in-memory counter cannot fail");
                lease.release().await.expect("release");
            }
        }));
    }
    for h in handles {
        h.await.expect("worker panicked");
    }
    let verdict = counter.verdict().await.expect("verdict");
    assert_eq!(verdict.completed, TASKS * ROUNDS, "{verdict:?}");
    assert_eq!(
        verdict.tokens.recorded as u64,
        TASKS * ROUNDS,
        "{verdict:?}"
    );
    assert!(verdict.passed(), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_exclusion_single_node() {
    let cluster = start(1);
    let m = manager(&cluster).await;
    contend(m, "counter:1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_exclusion_five_nodes() {
    let cluster = start(5);
    let m = builder(&cluster)
        .wait(Duration::from_secs(120))
        .build()
        .await
        .expect("config");
    contend(m, "counter:5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minority_down_still_works_majority_down_is_unavailable() {
    let mut cluster = start(5);
    cluster.node_mut(1).kill().expect("kill");
    cluster.node_mut(3).kill().expect("kill");
    let m = manager(&cluster).await;
    let mut lease = m.acquire("minority").await.expect("3 of 5 is a quorum");
    assert!(lease.fencing_token().await.expect("token") >= 1);
    lease
        .extend(Duration::from_secs(5))
        .await
        .expect("extend on 3 of 5");
    lease.release().await.expect("release on 3 of 5");

    cluster.node_mut(4).kill().expect("kill");
    let wait = Duration::from_millis(800);
    let m = builder(&cluster).wait(wait).build().await.expect("config");
    let started = Instant::now();
    let err = m
        .acquire("minority")
        .await
        .expect_err("2 of 5 is no quorum");
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let failed: Vec<usize> = err.node_failures().iter().map(|f| f.index).collect();
    for i in [1, 3, 4] {
        assert!(failed.contains(&i), "node {i} not named in: {err}");
    }
    assert!(
        took <= wait + m.node_timeout() + Duration::from_secs(2),
        "took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn majority_paused_is_unavailable_not_a_hang() {
    let cluster = start(5);
    let m = builder(&cluster)
        .wait(Duration::from_millis(700))
        .build()
        .await
        .expect("config");
    // The deployment is in use before the fault (nodes that miss its first use entirely
    // are held back for max_ttl by delayed restart: see tests/restart.rs).
    m.try_acquire("paused")
        .await
        .expect("all up")
        .release()
        .await
        .expect("release");
    for i in 0..3 {
        cluster.node(i).pause().expect("pause");
    }
    let started = Instant::now();
    let err = m.acquire("paused").await.expect_err("no quorum");
    let took = started.elapsed();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.node_failures()
            .iter()
            .any(|f| matches!(f.error, redlease::NodeError::Timeout(_))),
        "{err}"
    );
    assert!(
        took <= m.wait() + m.node_timeout() + Duration::from_secs(2),
        "took {took:?}"
    );
    for i in 0..3 {
        cluster.node(i).resume().expect("resume");
    }
    // The hung connections must not poison the nodes forever.
    let lease = m
        .acquire_for("paused", Duration::from_secs(5), Duration::from_secs(20))
        .await
        .expect("nodes are back");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_paused_node_costs_at_most_a_node_timeout() {
    let cluster = start(5);
    let m = manager(&cluster).await;
    cluster.node(2).pause().expect("pause");
    for i in 0..10 {
        let started = Instant::now();
        let lease = m
            .try_acquire(&format!("slow:{i}"))
            .await
            .expect("4 of 5 answer");
        let took = started.elapsed();
        assert!(
            took < m.node_timeout() * 2 + Duration::from_secs(1),
            "acquisition {i} took {took:?}"
        );
        lease.release().await.expect("release");
    }
    cluster.node(2).resume().expect("resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_survives_wiped_minorities() {
    let cluster = start(5);
    // Without delayed restart, so that the wiped nodes' grants count at once: the tokens
    // must stay in order from the counters and clocks alone. (With it, this client knows
    // the wiped nodes lost their data and holds them back for max_ttl.)
    let m = builder(&cluster)
        .delayed_restart(false)
        .build()
        .await
        .expect("config");
    let mut tokens = Vec::new();
    for round in 0..20usize {
        let lease = m.acquire("fenced").await.expect("acquire");
        tokens.push(lease.fencing_token().await.expect("token"));
        lease.release().await.expect("release");
        // A different pair of nodes forgets everything each round.
        cluster.node(round % 5).wipe().expect("wipe");
        cluster.node((round + 2) % 5).wipe().expect("wipe");
    }
    let order = TokenOrder::of(&tokens, 0);
    assert!(order.increasing(), "{order:?}: {tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_survives_one_down_and_one_wiped() {
    let mut cluster = start(5);
    let m = manager(&cluster).await;
    let first = m.acquire("fenced2").await.expect("acquire");
    let t1 = first.fencing_token().await.expect("token");
    first.release().await.expect("release");
    cluster.node_mut(0).kill().expect("kill");
    cluster.node(1).wipe().expect("wipe");
    let second = m.acquire("fenced2").await.expect("acquire");
    assert!(second.fencing_token().await.expect("token") > t1);
    second.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_names_the_holding_nodes() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let lease = m.acquire("busy").await.expect("acquire");
    let err = m.try_acquire("busy").await.expect_err("held");
    assert!(err.is_busy(), "{err}");
    // The attempt stops as soon as a quorum is impossible: 2 of 3 refusals.
    assert!(err.busy_nodes().len() >= 2, "{err}");
    assert!(
        err.holder_ttl()
            .is_some_and(|t| t <= Duration::from_secs(5))
    );
    lease.release().await.expect("release");
    m.try_acquire("busy")
        .await
        .expect("free again")
        .release()
        .await
        .expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_extends_or_releases() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let lease = m.acquire("owned").await.expect("acquire");
    assert_eq!(lease.resource(), "owned");
    assert_eq!(lease.owner().len(), 32);
    assert!(lease.remaining() > Duration::from_secs(4));
    assert!(lease.remaining() <= Duration::from_secs(5));

    let stranger = "0123456789abcdef0123456789abcdef";
    assert!(!m.release_owner("owned", stranger).await.expect("answered"));
    let err = m
        .extend_owner("owned", stranger, Duration::from_secs(5))
        .await
        .expect_err("not the owner");
    assert!(err.is_lost(), "{err}");
    // Three nodes: no token until asked for; then the nodes' counter is it.
    assert_eq!(lease.minted_token(), None);
    let token = lease.fencing_token().await.expect("token");
    assert_eq!(lease.minted_token(), Some(token));
    let status = m.status("owned").await.expect("status");
    assert_eq!(status.holder.as_deref(), Some(lease.owner()));
    assert_eq!(status.last_fencing_token, token);

    // The owner, by value only (as the CLI does it). Where tokens are minted on demand the
    // counter may be an earlier lease's, so the extended lease mints its own when asked
    // (above the first: two tokens of one lease, both above every earlier lease's).
    let extended = m
        .extend_owner("owned", lease.owner(), Duration::from_secs(5))
        .await
        .expect("owner extends");
    assert_eq!(extended.minted_token(), None);
    assert!(extended.fencing_token().await.expect("token") > token);
    let _ = extended.forget();
    let owner = lease.owner().to_owned();
    let _ = lease.forget();
    assert!(m.release_owner("owned", &owner).await.expect("released"));
    // Idempotent: the second time it is simply not held.
    assert!(!m.release_owner("owned", &owner).await.expect("idempotent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_an_expired_lease_reports_lost() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let mut lease = m
        .acquire_for("short", Duration::from_millis(300), Duration::from_secs(5))
        .await
        .expect("acquire");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lease.remaining(), Duration::ZERO);
    assert!(!lease.is_valid());
    let err = lease
        .extend(Duration::from_secs(5))
        .await
        .expect_err("expired");
    assert!(err.is_lost(), "{err}");
    assert_eq!(err.lost_reason(), Some(LostReason::Expired));
    // Release after loss is fine (idempotent).
    lease.release().await.expect("release after loss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_after_the_key_was_taken_reports_not_held() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let mut lease = m.acquire("stolen").await.expect("acquire");
    for node in cluster.nodes() {
        node.wipe().expect("wipe");
    }
    let err = lease
        .extend(Duration::from_secs(5))
        .await
        .expect_err("gone everywhere");
    assert_eq!(err.lost_reason(), Some(LostReason::NotHeld), "{err}");
    // A failed extend never re-creates the key.
    let status = m.status("stolen").await.expect("status");
    assert_eq!(status.holder, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_lease_is_released() {
    let cluster = start(1);
    let m = manager(&cluster).await;
    let lease = m.acquire("dropped").await.expect("acquire");
    drop(lease);
    let again = m
        .acquire_for("dropped", Duration::from_secs(5), Duration::from_secs(3))
        .await
        .expect("released in the background, long before the 5 s ttl");
    again.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restart_reconnects() {
    let mut cluster = start(1);
    let m = manager(&cluster).await;
    m.try_acquire("restart")
        .await
        .expect("up")
        .release()
        .await
        .expect("release");
    cluster.node_mut(0).kill().expect("kill");
    let err = m.try_acquire("restart").await.expect_err("down");
    assert!(err.is_unavailable(), "{err}");
    cluster.node_mut(0).restart().expect("restart");
    let lease = m
        .acquire_for("restart", Duration::from_secs(5), Duration::from_secs(10))
        .await
        .expect("reconnected");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfenced_manager_skips_tokens() {
    let cluster = start(3);
    let m = builder(&cluster)
        .fencing(false)
        .build()
        .await
        .expect("config");
    let lease = m.acquire("unfenced").await.expect("acquire");
    assert_eq!(lease.minted_token(), None);
    let err = lease
        .fencing_token()
        .await
        .expect_err("no token without fencing");
    assert!(err.is_invalid_argument(), "{err}");
    assert!(err.to_string().contains("fencing turned off"), "{err}");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_sockets_and_passwords() {
    let cluster = redlease_testkit::Cluster::start_with(redlease_testkit::ClusterOptions {
        nodes: 1,
        unix_sockets: true,
        ..Default::default()
    })
    .expect("start");
    let m = manager(&cluster).await;
    m.acquire("unix")
        .await
        .expect("acquire")
        .release()
        .await
        .expect("release");

    let secured = redlease_testkit::Cluster::start_with(redlease_testkit::ClusterOptions {
        nodes: 1,
        extra_args: vec!["--requirepass".into(), "s3cret-pw".into()],
        ..Default::default()
    })
    .expect("start");
    let port = secured.node(0).port().expect("tcp");
    let good = format!("redis://:s3cret-pw@127.0.0.1:{port}/2");
    let m = LockManager::builder()
        .servers([good.clone()])
        .build()
        .await
        .expect("config");
    let lease = m.acquire("auth").await.expect("authenticated");
    assert!(!format!("{m:?}").contains("s3cret-pw"));
    lease.release().await.expect("release");

    let bad = format!("redis://:wrong-pw@127.0.0.1:{port}");
    let m = LockManager::builder()
        .servers([bad])
        .wait(Duration::ZERO)
        .build()
        .await
        .expect("config");
    let err = m.acquire("auth").await.expect_err("wrong password");
    assert!(err.is_unavailable(), "{err}");
    assert!(!err.to_string().contains("wrong-pw"), "{err}");
    assert!(!format!("{err:?}").contains("wrong-pw"), "{err:?}");
    // The refusal is named as such, so that callers (the CLI: exit 77) can tell it from
    // a server that is down.
    assert!(
        err.node_failures().iter().all(|f| f.error.is_auth()),
        "{err}"
    );
    for url in [
        format!("redis://127.0.0.1:{port}"),
        format!("redis://:s3cret-pw@127.0.0.1:{port}/99"),
    ] {
        let m = LockManager::builder()
            .servers([url])
            .wait(Duration::ZERO)
            .build()
            .await
            .expect("config");
        let err = m
            .acquire("auth")
            .await
            .expect_err("no password, or no db 99");
        let failure = &err.node_failures()[0].error;
        assert!(failure.is_auth() || failure.is_config(), "{err}");
    }
}

#[tokio::test]
async fn invalid_input_is_named() {
    fn field(e: Error) -> String {
        match e.field() {
            Some(field) => field.to_owned(),
            None => panic!("expected an invalid argument, got {e:?}"),
        }
    }
    let ok = || LockManager::builder().servers(["redis://127.0.0.1:1"]);
    let cases: Vec<(redlease::Builder, &str)> = vec![
        (LockManager::builder(), "servers"),
        (ok().servers(["redis//127.0.0.1"]), "servers[0]"),
        (
            ok().servers(["redis://127.0.0.1:1", "ftp://x"]),
            "servers[1]",
        ),
        (ok().ttl(Duration::ZERO), "ttl"),
        (ok().ttl(Duration::from_secs(301)), "ttl"),
        (
            ok().max_ttl(Duration::from_secs(1))
                .ttl(Duration::from_secs(2)),
            "ttl",
        ),
        (ok().drift_factor(0.9), "drift_factor"),
        (ok().drift_factor(-0.01), "drift_factor"),
        (ok().key_prefix("app{x}:"), "key_prefix"),
        (ok().node_timeout(Duration::from_secs(10)), "node_timeout"),
        (
            ok().ttl(Duration::from_millis(100))
                .node_timeout(Duration::from_millis(100)),
            "node_timeout",
        ),
    ];
    for (b, expected) in cases {
        let debug = format!("{b:?}");
        let e = b.build().await.expect_err(&debug);
        let msg = e.to_string();
        assert!(msg.contains("allowed"), "{msg}");
        assert_eq!(field(e), expected, "{debug}");
    }

    let m = ok()
        .build()
        .await
        .expect("a down node is not a config error");
    assert_eq!(field(m.acquire("").await.expect_err("empty")), "resource");
    assert_eq!(
        field(m.try_acquire(&"r".repeat(2000)).await.expect_err("long")),
        "resource"
    );
    assert_eq!(
        field(
            m.acquire_for("r", Duration::from_secs(3600), Duration::ZERO)
                .await
                .expect_err("ttl")
        ),
        "ttl"
    );
    assert_eq!(
        field(m.release_owner("r", "").await.expect_err("owner")),
        "owner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acquisition_dropped_mid_attempt_leaves_no_keys() {
    let cluster = start(3);
    // Minting at acquisition: the attempt waits for every node's answer.
    let m = builder(&cluster)
        .token_at_acquire(true)
        .build()
        .await
        .expect("manager");
    m.try_acquire("dropped-mid-way")
        .await
        .expect("all up")
        .release()
        .await
        .expect("release");
    // With node 2 hung, a fenced attempt holds grants from nodes 0 and 1 while it waits
    // for node 2's answer (up to the 250 ms node timeout): drop it then.
    cluster.node(2).pause().expect("pause");
    let cut = tokio::time::timeout(Duration::from_millis(60), m.acquire("dropped-mid-way")).await;
    assert!(cut.is_err(), "the attempt should still have been waiting");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..2 {
        let held = cluster
            .node(i)
            .command(&["EXISTS", "redlease:{dropped-mid-way}:lock"])
            .expect("EXISTS");
        assert_eq!(held, "0", "node {i} still holds the dropped attempt's key");
    }
    cluster.node(2).resume().expect("resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_are_exact_above_2_pow_53() {
    // Lua numbers are doubles; the scripts must count in decimal strings.
    for nodes in [1, 3] {
        let cluster = start(nodes);
        for node in cluster.nodes() {
            node.command(&["SET", "redlease:{big}:fence", "9999999999999999999"])
                .expect("SET");
        }
        let m = manager(&cluster).await;
        let lease = m.acquire("big").await.expect("acquire");
        assert_eq!(
            lease.fencing_token().await.expect("token"),
            10_000_000_000_000_000_000,
            "{nodes} nodes"
        );
        lease.release().await.expect("release");
        let next = m.acquire("big").await.expect("acquire");
        assert_eq!(
            next.fencing_token().await.expect("token"),
            10_000_000_000_000_000_001,
            "{nodes} nodes"
        );
        next.release().await.expect("release");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_for_the_last_attempts_cleanup() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    m.try_acquire("flushed")
        .await
        .expect("all up")
        .release()
        .await
        .expect("release");
    // Node 1 is held by someone else and node 2 hangs: a single attempt wins node 0 only,
    // fails, and (out of time) leaves its clean-up to the background.
    cluster
        .node(1)
        .command(&[
            "SET",
            "redlease:{flushed}:lock",
            "someone-else",
            "PX",
            "30000",
        ])
        .expect("SET");
    cluster.node(2).pause().expect("pause");
    let err = m.try_acquire("flushed").await.expect_err("no quorum");
    assert!(err.is_busy() || err.is_unavailable(), "{err}");
    assert!(
        m.flush(Duration::from_secs(5)).await,
        "background work finished"
    );
    let left = cluster
        .node(0)
        .command(&["EXISTS", "redlease:{flushed}:lock"])
        .expect("EXISTS");
    assert_eq!(
        left, "0",
        "the failed attempt's grant on node 0 was released"
    );
    cluster.node(2).resume().expect("resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_down_names_the_two_and_counts_truthfully() {
    // One node answers (busy), two are down. If both failures arrive first, no quorum is
    // possible whoever holds it: unavailable, and the message counts the two nodes that
    // could not take part (it used to say "only 0 of 3 answered" although one had). If
    // the refusal arrives first, it settles the vote: busy, naming it. Either way the
    // counts are what happened.
    let cluster = start(3);
    let m = manager(&cluster).await;
    let lease = m.acquire("two-down").await.expect("acquire");
    cluster.node(1).kill().expect("kill");
    cluster.node(2).kill().expect("kill");
    for _ in 0..10 {
        let e = m.try_acquire("two-down").await.expect_err("no quorum");
        if e.is_unavailable() {
            assert_eq!(e.node_failures().len(), 2, "{e}");
            assert!(
                e.to_string().contains("2 of 3 nodes could not take part"),
                "{e}"
            );
        } else {
            assert!(e.is_busy(), "{e}");
            assert_eq!(e.busy_nodes().len(), 1, "{e}");
            assert!(!e.node_failures().is_empty(), "{e}");
        }
        assert!(!e.to_string().contains("0 of 3"), "{e}");
    }
    let _ = lease.forget();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ttl_within_the_node_timeout_is_refused_by_name() {
    // A lease shorter than one node's answer time could be spent before the vote ends:
    // refused before anything is sent, naming ttl and the real minimum.
    let cluster = start(1);
    let m = manager(&cluster).await; // node timeout 250 ms
    for ttl in [Duration::from_millis(50), Duration::from_millis(250)] {
        let e = m
            .acquire_for("short", ttl, Duration::ZERO)
            .await
            .expect_err("shorter than the node timeout");
        assert_eq!(e.field(), Some("ttl"), "{e}");
        assert!(e.to_string().contains("node timeout"), "{e}");
    }
    let mut lease = m
        .acquire_for("short", Duration::from_secs(1), Duration::ZERO)
        .await
        .expect("1 s is fine");
    let e = lease
        .extend(Duration::from_millis(100))
        .await
        .expect_err("extend to less than the node timeout");
    assert_eq!(e.field(), Some("ttl"), "{e}");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_under_two_names_is_refused() {
    // localhost and 127.0.0.1, or two databases of one instance: one failure domain that
    // would vote twice. The servers' own identity settles it, not the URL text.
    let cluster = start(1);
    let url = cluster.urls()[0].clone();
    let port = url.rsplit(':').next().expect("port").to_owned();
    for twin in [format!("redis://localhost:{port}"), format!("{url}/1")] {
        let e = builder(&cluster)
            .servers([url.clone(), twin.clone()])
            .build()
            .await
            .expect_err("the same server twice");
        assert_eq!(e.field(), Some("servers[1]"), "{twin}: {e}");
        assert!(e.to_string().contains("same Redis server"), "{e}");
    }
}
