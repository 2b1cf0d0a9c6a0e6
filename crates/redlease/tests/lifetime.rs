//! Leases that live exactly as long as the work: renewal, loud loss, scoped and blocking
//! APIs, on real redis-servers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{builder, manager, start};
use redlease::{Error, LostReason, Renewal};
use redlease_testkit::Node;

/// Number of EVALSHA calls a node has served (extends included).
fn evalsha_calls(node: &Node) -> u64 {
    let info = node.command(&["INFO", "commandstats"]).expect("INFO");
    info.split(['\r', '\n', ' '])
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_lease_stays_exclusive_for_five_ttls() {
    let cluster = start(3);
    let ttl = Duration::from_millis(800);
    let holder = builder(&cluster).ttl(ttl).build().await.expect("config");
    let rival = builder(&cluster).ttl(ttl).build().await.expect("config");
    let lease = holder.acquire("alive").await.expect("acquire");
    lease.keep_alive().expect("runtime");
    let token = lease.fencing_token().await.expect("token");
    let until = Instant::now() + ttl * 5;
    let mut tries = 0;
    while Instant::now() < until {
        let err = rival.try_acquire("alive").await.expect_err("still held");
        assert!(err.is_busy(), "{err}");
        assert!(lease.is_valid(), "renewal let the lease lapse");
        tries += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tries >= 10);
    let stats = holder.renewal_stats();
    assert!(stats.renewals >= 10, "{stats:?}");
    assert_eq!(stats.lost, 0, "{stats:?}");
    assert_eq!(stats.scheduled, 1, "{stats:?}");
    lease.release().await.expect("release");
    let next = rival.acquire("alive").await.expect("free after release");
    assert!(next.fencing_token().await.expect("token") > token);
    next.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn majority_paused_is_reported_lost_by_the_deadline() {
    let cluster = start(5);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(2))
        .node_timeout(Duration::from_millis(100))
        .build()
        .await
        .expect("config");
    let lease = m.acquire("paused-holder").await.expect("acquire");
    lease.keep_alive().expect("runtime");
    let lost = lease.lost();
    for i in 0..3 {
        cluster.node(i).pause().expect("pause");
    }
    // From here no extend can reach a quorum; an extend already in flight may still
    // have moved the deadline once.
    let deadline_bound = Instant::now() + Duration::from_secs(2);
    let reason = tokio::time::timeout(Duration::from_secs(10), lost)
        .await
        .expect("loss must be reported, not hang");
    let reported = Instant::now();
    assert!(
        reported <= deadline_bound + Duration::from_millis(500),
        "reported {:?} after the deadline",
        reported.saturating_duration_since(deadline_bound)
    );
    assert!(
        matches!(reason, LostReason::RenewalFailed | LostReason::Expired),
        "{reason:?}"
    );
    assert!(!lease.is_valid());
    let err = lease.handle().ensure_valid().expect_err("lost");
    assert!(err.is_lost());
    let stats = m.renewal_stats();
    assert!(stats.failures >= 1, "{stats:?}");
    for i in 0..3 {
        cluster.node(i).resume().expect("resume");
    }
    lease.release().await.expect("release after loss is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lock_cuts_off_work_when_the_lease_is_lost() {
    let cluster = Arc::new(start(5));
    let m = builder(&cluster)
        .ttl(Duration::from_secs(2))
        .node_timeout(Duration::from_millis(100))
        .build()
        .await
        .expect("config");
    let progress = Arc::new(AtomicU64::new(0));
    let steps = progress.clone();
    let pausing = tokio::spawn({
        let cluster = cluster.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for i in 0..3 {
                cluster.node(i).pause().expect("pause");
            }
        }
    });
    let started = Instant::now();
    let result = m
        .with_lock("cut-off", |lease| async move {
            assert!(lease.fencing_token().await.expect("token") >= 1);
            loop {
                steps.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    pausing.await.expect("pauser");
    let err: Error = match result {
        Err(e) => e,
        Ok(never) => match never {},
    };
    assert!(err.is_lost(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let after = progress.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        progress.load(Ordering::SeqCst),
        after,
        "work kept running after loss"
    );
    for i in 0..3 {
        cluster.node(i).resume().expect("resume");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_extend_reaches_redis_after_release_drop_or_forget() {
    let cluster = start(1);
    let ttl = Duration::from_millis(600);
    let m = builder(&cluster).ttl(ttl).build().await.expect("config");
    let node = cluster.node(0);

    let released = m.acquire("quiet:released").await.expect("acquire");
    released.keep_alive().expect("runtime");
    tokio::time::sleep(ttl).await; // a few renewals happen
    assert!(released.is_valid());
    released.release().await.expect("release");
    let calls = evalsha_calls(node);
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(
        evalsha_calls(node),
        calls,
        "an extend reached redis after release"
    );

    let dropped = m.acquire("quiet:dropped").await.expect("acquire");
    dropped.keep_alive().expect("runtime");
    tokio::time::sleep(ttl).await;
    drop(dropped);
    tokio::time::sleep(Duration::from_millis(200)).await; // the background release
    let calls = evalsha_calls(node);
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(
        evalsha_calls(node),
        calls,
        "an extend reached redis after drop"
    );
    let status = m.status("quiet:dropped").await.expect("status");
    assert_eq!(status.holder, None, "drop released the lease");

    let forgotten = m.acquire("quiet:forgotten").await.expect("acquire");
    forgotten.keep_alive().expect("runtime");
    let info = forgotten.forget();
    let calls = evalsha_calls(node);
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(evalsha_calls(node), calls, "a forgotten lease was renewed");
    let status = m.status("quiet:forgotten").await.expect("status");
    assert_eq!(status.holder, None, "a forgotten lease expires by its ttl");
    assert_eq!(info.resource, "quiet:forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_cap_ends_the_lease_loudly() {
    let cluster = start(1);
    let m = builder(&cluster)
        .ttl(Duration::from_millis(600))
        .renewal(Renewal {
            max_renewals: Some(2),
            ..Renewal::default()
        })
        .build()
        .await
        .expect("config");
    let started = Instant::now();
    let err = m
        .with_lock("capped", |_lease| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await
        .expect_err("cap reached");
    assert_eq!(
        err.lost_reason(),
        Some(LostReason::RenewalCapReached),
        "{err}"
    );
    // Two renewals at ttl/3, then the last ttl: about one second.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lock_releases_after_errors_and_panics() {
    let cluster = start(1);
    let m = manager(&cluster).await;
    let out: Result<u32, &str> = m
        .with_lock("scoped", |lease| async move {
            assert!(lease.is_valid());
            Err("work failed")
        })
        .await
        .expect("lock held");
    assert_eq!(out, Err("work failed"));
    m.try_acquire("scoped")
        .await
        .expect("released after an error")
        .release()
        .await
        .expect("release");

    let m2 = m.clone();
    let panicked = tokio::spawn(async move {
        m2.with_lock("scoped", |_lease| async move {
            panic!("work panicked");
        })
        .await
    })
    .await;
    assert!(panicked.expect_err("panic propagates").is_panic());
    m.try_acquire("scoped")
        .await
        .expect("released after a panic")
        .release()
        .await
        .expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_task_or_memory_growth_over_1000_cycles() {
    let cluster = start(1);
    let m = builder(&cluster)
        .ttl(Duration::from_millis(300))
        .build()
        .await
        .expect("config");
    let runtime = tokio::runtime::Handle::current();
    let cycle = |i: u32| {
        let m = m.clone();
        async move {
            let mut lease = m
                .acquire(&format!("cycle:{}", i % 7))
                .await
                .expect("acquire");
            lease.keep_alive().expect("runtime");
            lease
                .extend(Duration::from_millis(300))
                .await
                .expect("extend");
            lease.release().await.expect("release");
        }
    };
    for i in 0..100 {
        cycle(i).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tasks_before = runtime.metrics().num_alive_tasks();
    let rss_before = rss_kib();
    for i in 0..1000 {
        cycle(i).await;
    }
    // Let the renewal schedule drop the released leases (one interval).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tasks_after = runtime.metrics().num_alive_tasks();
    let rss_after = rss_kib();
    assert!(
        tasks_after <= tasks_before + 2,
        "tasks grew from {tasks_before} to {tasks_after}"
    );
    assert!(
        rss_after <= rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn blocking_api_mutual_exclusion() {
    let cluster = start(3);
    let m = redlease::blocking::LockManager::builder()
        .servers(cluster.urls())
        .ttl(Duration::from_secs(5))
        .node_timeout(Duration::from_millis(250))
        .wait(Duration::from_secs(60))
        .build()
        .expect("config");
    let counter = Arc::new(AtomicU64::new(0));
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (m, counter, tokens) = (m.clone(), counter.clone(), tokens.clone());
            std::thread::spawn(move || {
                for i in 0..25 {
                    if (t + i) % 2 == 0 {
                        m.with_lock("blocking", |lease| {
                            tokens
                                .lock()
                                .expect("tokens")
                                .push(lease.fencing_token().expect("token"));
                            let seen = counter.load(Ordering::SeqCst);
                            std::thread::sleep(Duration::from_micros(300));
                            counter.store(seen + 1, Ordering::SeqCst);
                        })
                        .expect("with_lock");
                    } else {
                        let lease = m.acquire("blocking").expect("acquire");
                        tokens
                            .lock()
                            .expect("tokens")
                            .push(lease.fencing_token().expect("token"));
                        let seen = counter.load(Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(300));
                        counter.store(seen + 1, Ordering::SeqCst);
                        lease.release().expect("release");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(counter.load(Ordering::SeqCst), 200, "lost update");
    let tokens = tokens.lock().expect("tokens").clone();
    assert_eq!(tokens.len(), 200);
    for pair in tokens.windows(2) {
        assert!(
            pair[1] > pair[0],
            "token went from {} to {}",
            pair[0],
            pair[1]
        );
    }

    // Blocking leases renew and report loss too.
    let mut lease = m
        .acquire_for(
            "blocking:short",
            Duration::from_millis(300),
            Duration::from_secs(5),
        )
        .expect("acquire");
    lease.keep_alive().expect("renewal");
    std::thread::sleep(Duration::from_millis(900));
    assert!(lease.is_valid(), "renewed on the runtime thread");
    lease.extend(Duration::from_millis(300)).expect("extend");
    lease.release().expect("release");
}

#[test]
fn blocking_flush_lets_a_dropped_lease_be_released_before_exit() {
    let cluster = start(1);
    let m = redlease::blocking::LockManager::builder()
        .servers(cluster.urls())
        .ttl(Duration::from_secs(30))
        .build()
        .expect("config");
    let lease = m.acquire("flushed").expect("acquire");
    drop(lease); // released in the background
    assert!(m.flush(Duration::from_secs(5)), "background work finished");
    let key = redlease::protocol::Keys::new("redlease:", "flushed").lock;
    assert_eq!(
        cluster
            .node(0)
            .command(&["EXISTS", key.as_str()])
            .expect("EXISTS"),
        "0",
        "the dropped lease was released"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_renewals_keep_each_leases_own_verdict() {
    // Renewal sends the extends that are due together as one call per node: a lease whose
    // key is gone must still be found lost, and only that one.
    let cluster = start(3);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(2))
        .build()
        .await
        .expect("config");
    let names: Vec<String> = (0..40).map(|i| format!("batched:{i}")).collect();
    let leases = futures_util::future::join_all(names.iter().map(|name| m.acquire(name)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("acquire");
    for lease in &leases {
        lease.keep_alive().expect("runtime");
    }
    let victim = &leases[7];
    let key = redlease::protocol::Keys::new("redlease:", victim.resource()).lock;
    for i in 0..2 {
        cluster
            .node(i)
            .command(&["DEL", key.as_str()])
            .expect("DEL");
    }
    let reason = tokio::time::timeout(Duration::from_secs(10), victim.lost())
        .await
        .expect("the lease whose key was deleted is found lost");
    assert_eq!(reason, LostReason::NotHeld);
    // Two more renewal intervals: every other lease was renewed past its first ttl.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for (i, lease) in leases.iter().enumerate() {
        if i != 7 {
            assert!(lease.is_valid(), "{} was lost", lease.resource());
        }
    }
    assert_eq!(m.renewal_stats().lost, 1, "{:?}", m.renewal_stats());
    for lease in leases {
        let _ = lease.release().await;
    }
}
