//! Waiters are woken, not polling: by a release, by the expiry of a crashed holder, and
//! by the fallback timer when the notification is lost. Hand-off keeps the releasing
//! client from barging ahead of a waiter.
//!
//! The fallback timer is set very long where a test must prove that the wake-up, not the
//! timer, got the waiter going; all bounds are generous.

mod common;

use std::time::{Duration, Instant};

use common::{builder, start};

const NEVER: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_wakes_the_waiter() {
    for nodes in [1, 3] {
        release_wakes_the_waiter(nodes, builder).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_handoff_a_release_still_wakes_the_waiter() {
    // With hand-off off, waiters subscribe without joining the queue: a release must
    // publish even though nobody is queued.
    for nodes in [1, 3] {
        release_wakes_the_waiter(nodes, |c| builder(c).handoff(Duration::ZERO)).await;
    }
}

async fn release_wakes_the_waiter(
    nodes: usize,
    make: impl Fn(&redlease_testkit::Cluster) -> redlease::Builder,
) {
    let cluster = start(nodes);
    let m = make(&cluster)
        .ttl(Duration::from_secs(30))
        .wake_up_fallback(NEVER)
        .build()
        .await
        .expect("config");
    let lease = m.acquire("woken").await.expect("acquire");
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move {
            let lease = m
                .acquire_for("woken", Duration::from_secs(30), Duration::from_secs(20))
                .await;
            (lease, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let released_at = Instant::now();
    lease.release().await.expect("release");
    let (second, acquired_at) = waiter.await.expect("waiter");
    let second = second.expect("woken by the release");
    let took = acquired_at.saturating_duration_since(released_at);
    // Neither the 30 s ttl nor the 60 s fallback: only the wake-up explains this.
    assert!(
        took < Duration::from_secs(10),
        "{nodes} nodes: took {took:?}"
    );
    second.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_holders_expiry_wakes_the_waiter() {
    let cluster = start(3);
    let m = builder(&cluster)
        .wake_up_fallback(NEVER)
        .build()
        .await
        .expect("config");
    let crashed = m
        .acquire_for(
            "crashed",
            Duration::from_millis(800),
            Duration::from_secs(5),
        )
        .await
        .expect("acquire");
    // The holder "crashes": it never releases; only the ttl frees the resource.
    let _ = crashed.forget();
    let started = Instant::now();
    let lease = m
        .acquire_for("crashed", Duration::from_secs(5), Duration::from_secs(20))
        .await
        .expect("acquired after the holder's expiry");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500),
        "took {took:?}: before expiry?"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notification_is_covered_by_the_timer() {
    let cluster = start(1);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(30))
        .wake_up_fallback(Duration::from_millis(300))
        .build()
        .await
        .expect("config");
    let holder = m.acquire("silent").await.expect("acquire");
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move {
            m.acquire_for("silent", Duration::from_secs(30), Duration::from_secs(20))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The lock disappears without any message: as if the PUBLISH was lost.
    cluster
        .node(0)
        .command(&["DEL", "redlease:{silent}:lock"])
        .expect("DEL");
    let started = Instant::now();
    let lease = waiter
        .await
        .expect("waiter")
        .expect("the fallback timer retried");
    assert!(started.elapsed() < Duration::from_secs(10));
    lease.release().await.expect("release");
    let _ = holder.forget();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_releaser_does_not_barge_ahead_of_a_waiter() {
    for nodes in [1, 3] {
        let cluster = start(nodes);
        let m = builder(&cluster).build().await.expect("config");
        let first = m.acquire("fair").await.expect("acquire");
        let waiter = {
            let m = m.clone();
            tokio::spawn(async move {
                let lease = m.acquire("fair").await.expect("waiter acquires");
                let token = lease.fencing_token().await.expect("token");
                tokio::time::sleep(Duration::from_millis(100)).await;
                lease.release().await.expect("release");
                token
            })
        };
        // Let the waiter queue up behind the holder.
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.release().await.expect("release");
        // The releaser comes straight back, with no wake-up delay at all.
        let again = m.acquire("fair").await.expect("acquire again");
        let waiter_token = waiter.await.expect("waiter");
        assert!(
            waiter_token < again.fencing_token().await.expect("token"),
            "{nodes} nodes: the releaser barged ahead of the waiter"
        );
        again.release().await.expect("release");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_attempt_is_not_held_back_by_a_stale_queue() {
    let cluster = start(1);
    let m = builder(&cluster).build().await.expect("config");
    let lease = m.acquire("oneshot").await.expect("acquire");
    // A one-shot attempt does not queue...
    assert!(m.try_acquire("oneshot").await.expect_err("held").is_busy());
    lease.release().await.expect("release");
    // ...so the release frees the lock for anyone at once.
    m.try_acquire("oneshot")
        .await
        .expect("free after release")
        .release()
        .await
        .expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_that_gave_up_or_was_dropped_reserves_nothing() {
    // G10: waiters that left (their wait ran out, or their acquire future was dropped)
    // must not keep the lock reserved: right after the release, anyone gets it.
    for nodes in [1, 3] {
        let cluster = start(nodes);
        let m = builder(&cluster)
            .ttl(Duration::from_secs(30))
            .build()
            .await
            .expect("config");
        let lease = m.acquire("departed").await.expect("acquire");
        let e = m
            .acquire_for(
                "departed",
                Duration::from_secs(30),
                Duration::from_millis(300),
            )
            .await
            .expect_err("held");
        assert!(e.is_busy(), "{e}");
        let dropped = tokio::time::timeout(
            Duration::from_millis(300),
            m.acquire_for("departed", Duration::from_secs(30), Duration::from_secs(30)),
        )
        .await;
        assert!(dropped.is_err(), "still held");
        assert!(m.flush(Duration::from_secs(5)).await, "clean-up finished");
        lease.release().await.expect("release");
        let next = m
            .try_acquire("departed")
            .await
            .unwrap_or_else(|e| panic!("{nodes} node(s): reserved for a waiter that left: {e}"));
        next.release().await.expect("release");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_keeps_its_place_on_the_nodes_it_won_in_a_split_vote() {
    // Two nodes, quorum 2. The holder's key disappears from node 0 only, so the waiter's
    // attempts win node 0 and lose node 1. It must stay queued on node 0: otherwise the
    // nodes would hand the lock to different waiters and every hand-off would split.
    let cluster = start(2);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(30))
        .wake_up_fallback(Duration::from_millis(200))
        .build()
        .await
        .expect("config");
    let holder = m.acquire("split").await.expect("acquire");
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move {
            m.acquire_for("split", Duration::from_secs(30), Duration::from_secs(20))
                .await
        })
    };
    let keys = redlease::protocol::Keys::new("redlease:", "split");
    let queued = |node: usize| {
        cluster
            .node(node)
            .command(&["ZCARD", keys.queue.as_str()])
            .expect("ZCARD")
    };
    // Refused on both nodes: queued on both.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((queued(0), queued(1)), ("1".into(), "1".into()));
    cluster
        .node(0)
        .command(&["DEL", keys.lock.as_str()])
        .expect("DEL");
    // Several attempts now win node 0 and lose node 1 (the fallback timer is 200 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(queued(0), "1", "the waiter lost its place on node 0");
    assert_eq!(queued(1), "1");
    holder.release().await.expect("release");
    let lease = waiter
        .await
        .expect("waiter")
        .expect("acquired after the release");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clean_up_of_a_split_vote_wakes_no_other_waiter() {
    // Three nodes. The holder's key disappears from node 0 only, so a waiter that retries
    // on a short timer keeps winning node 0, losing nodes 1 and 2, and cleaning up node 0.
    // Those clean-ups must not wake the other waiters: woken, they all tried at once,
    // lost to the holder (or split among themselves) and cleaned up in turn, waking
    // everyone again (most of the work per critical section, contended on 3-5 nodes).
    let cluster = start(3);
    let manager = |fallback: Duration| {
        builder(&cluster)
            .ttl(Duration::from_secs(30))
            .wake_up_fallback(fallback)
            .build()
    };
    let holder = manager(NEVER)
        .await
        .expect("config")
        .acquire("stampede")
        .await
        .expect("acquire");
    let sleeper = {
        let m = manager(NEVER).await.expect("config");
        tokio::spawn(async move {
            m.acquire_for("stampede", Duration::from_secs(30), Duration::from_secs(20))
                .await
        })
    };
    let keys = redlease::protocol::Keys::new("redlease:", "stampede");
    // The sleeper's entry in node 1's "last attempt" table: it changes on every attempt.
    let seen = || {
        cluster
            .node(1)
            .command(&["HGETALL", keys.seen.as_str()])
            .expect("HGETALL")
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (sleeper_id, first_seen) = {
        let entry = seen();
        let (id, at) = entry.split_once(' ').expect("the sleeper is queued");
        (id.to_owned(), at.to_owned())
    };
    let retrier = {
        let m = manager(Duration::from_millis(200)).await.expect("config");
        tokio::spawn(async move {
            m.acquire_for("stampede", Duration::from_secs(30), Duration::from_secs(20))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster
        .node(0)
        .command(&["DEL", keys.lock.as_str()])
        .expect("DEL");
    // The retrier's attempts now split again and again (its timer is 200 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let now_seen = cluster
        .node(1)
        .command(&["HGET", keys.seen.as_str(), sleeper_id.as_str()])
        .expect("HGET");
    assert_eq!(
        now_seen, first_seen,
        "the sleeper was woken by another waiter's clean-up"
    );
    // The sleeper waited longest: the release hands it the lock, then the retrier.
    holder.release().await.expect("release");
    let first = sleeper
        .await
        .expect("sleeper")
        .expect("the sleeper acquires after the release");
    first.release().await.expect("release");
    retrier
        .await
        .expect("retrier")
        .expect("the retrier acquires next")
        .release()
        .await
        .expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_waiter_tries_once_when_its_process_already_listens() {
    // Another waiter of the same manager already listens on the resource's channel, so a
    // new waiter that is refused cannot have missed a release: it must not try a second
    // time right away (the releaser of every contended hand-off comes straight back and
    // is refused: a needless second attempt on every node per critical section).
    let cluster = start(1);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(30))
        .wake_up_fallback(NEVER)
        .build()
        .await
        .expect("config");
    let holder = m.acquire("listened").await.expect("acquire");
    let waiter = |m: redlease::LockManager| {
        tokio::spawn(async move {
            m.acquire_for("listened", Duration::from_secs(30), Duration::from_secs(20))
                .await
        })
    };
    let first = waiter(m.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let scripts_run = || {
        let stats = cluster
            .node(0)
            .command(&["INFO", "commandstats"])
            .expect("INFO");
        stats
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
            .expect("EVALSHA counted")
    };
    let before = scripts_run();
    let second = waiter(m.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        scripts_run() - before,
        1,
        "the second waiter's attempts while the lock is held"
    );
    holder.release().await.expect("release");
    for w in [first, second] {
        w.await
            .expect("waiter")
            .expect("acquired in turn")
            .release()
            .await
            .expect("release");
    }
}
