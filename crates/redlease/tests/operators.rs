//! What operators see: who holds what (`list`, `status`), with the holder's own
//! description, kept in step with the lease by extend and release.

mod common;

use std::time::Duration;

use common::{manager, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_names_the_servers_it_could_not_scan() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let lease = m.acquire("jobs:a").await.expect("acquire");
    cluster.node(1).kill().expect("kill node 1");
    let listing = m.list("jobs:*", 100).await.expect("list");
    let names: Vec<&str> = listing.held.iter().map(|s| s.resource.as_str()).collect();
    assert_eq!(names, ["jobs:a"], "still found on the other nodes");
    assert_eq!(listing.unscanned.len(), 1, "{:?}", listing.unscanned);
    assert_eq!(listing.unscanned[0].index, 1);
    assert!(!listing.is_complete());
    drop(lease);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_status_show_held_leases_with_their_holders() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let mut a = m.acquire("jobs:a").await.expect("acquire a");
    a.describe(r#"{"host":"h1","pid":1}"#)
        .await
        .expect("describe");
    let b = m.acquire("jobs:b").await.expect("acquire b");
    let other = m.acquire("other").await.expect("acquire other");
    let released = m.acquire("jobs:c").await.expect("acquire c");
    released.release().await.expect("release c");

    let listing = m.list("jobs:*", 100).await.expect("list");
    assert!(listing.is_complete(), "{:?}", listing.unscanned);
    let held = listing.held;
    let names: Vec<&str> = held.iter().map(|s| s.resource.as_str()).collect();
    assert_eq!(
        names,
        ["jobs:a", "jobs:b"],
        "released and unmatched ones left out"
    );
    assert_eq!(held[0].holder.as_deref(), Some(a.owner()));
    assert_eq!(
        held[0].holder_info.as_deref(),
        Some(r#"{"host":"h1","pid":1}"#)
    );
    assert_eq!(held[1].holder_info, None, "b gave no description");
    assert_eq!(m.list("*", 1).await.expect("list").held.len(), 1, "bounded");

    // Extend keeps the description; release removes it with the lock.
    a.extend(Duration::from_secs(20)).await.expect("extend");
    let status = m.status("jobs:a").await.expect("status");
    assert!(
        status
            .remaining
            .is_some_and(|r| r > Duration::from_secs(10))
    );
    assert!(status.holder_info.is_some());
    let key = redlease::protocol::Keys::new("redlease:", "jobs:a").holder;
    let pttl: i64 = cluster
        .node(0)
        .command(&["PTTL", key.as_str()])
        .expect("PTTL")
        .parse()
        .expect("int");
    assert!(
        pttl > 10_000,
        "the description lives as long as the lease: {pttl}"
    );
    a.release().await.expect("release a");
    assert_eq!(
        cluster
            .node(0)
            .command(&["EXISTS", key.as_str()])
            .expect("EXISTS"),
        "0"
    );
    assert!(
        m.status("jobs:a")
            .await
            .expect("status")
            .holder_info
            .is_none()
    );

    // A released lease cannot describe itself any more; a huge description is refused.
    let e = b
        .describe(&"x".repeat(redlease::MAX_HOLDER_INFO + 1))
        .await
        .expect_err("too long");
    assert_eq!(e.field(), Some("holder info"));
    b.release().await.expect("release b");
    other.release().await.expect("release other");
}
