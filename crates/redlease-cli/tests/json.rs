//! The JSON that `acquire`, `extend`, `release` and `status` print: field names and
//! types are an interface that scripts parse.

mod common;

use common::{LONG, cluster, redlease, run};

#[test]
fn acquire_extend_release_status_shapes() {
    let c = cluster(3);
    let servers = c.urls();

    let acquired = run(
        redlease(&servers).args(["acquire", "--ttl", "30s", "jobs:1"]),
        LONG,
    );
    acquired.expect_code(0);
    assert_eq!(acquired.stdout.lines().count(), 1, "{acquired:#?}");
    let lease = acquired.json();
    assert_eq!(lease["resource"], "jobs:1");
    let owner = lease["owner"]
        .as_str()
        .expect("owner is a string")
        .to_owned();
    assert!(!owner.is_empty());
    let token = lease["fencing_token"].as_u64().expect("token is a number");
    assert!(token >= 1);
    let validity = lease["validity_ms"].as_u64().expect("validity is a number");
    assert!(validity > 0 && validity <= 30_000, "{validity}");

    let status = run(redlease(&servers).args(["status", "jobs:1"]), LONG);
    status.expect_code(0);
    let s = status.json();
    assert_eq!(s["resource"], "jobs:1");
    assert_eq!(s["held"], true);
    assert_eq!(s["owner"], owner.as_str());
    assert!(
        s["remaining_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0 && ms <= 30_000),
        "{s}"
    );
    assert_eq!(s["last_fencing_token"], token);
    assert_eq!(s["quorum"], 2);
    let nodes = s["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    for (node, url) in nodes.iter().zip(&servers) {
        assert_eq!(node["server"], url.as_str());
        assert_eq!(node["reachable"], true);
        assert_eq!(node["owner"], owner.as_str());
        assert!(node["ttl_ms"].as_u64().is_some());
        assert_eq!(node["fence"], token);
        assert!(node["error"].is_null());
    }

    let extended = run(
        redlease(&servers).args(["extend", "--owner", &owner, "--ttl", "60s", "jobs:1"]),
        LONG,
    );
    extended.expect_code(0);
    let e = extended.json();
    assert_eq!(e["resource"], "jobs:1");
    assert_eq!(e["owner"], owner.as_str());
    assert_eq!(e["fencing_token"], token);
    assert!(
        e["validity_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 30_000 && ms <= 60_000),
        "{e}"
    );

    let released = run(
        redlease(&servers).args(["release", "--owner", &owner, "jobs:1"]),
        LONG,
    );
    released.expect_code(0);
    let r = released.json();
    assert_eq!(r["resource"], "jobs:1");
    assert_eq!(r["owner"], owner.as_str());
    assert_eq!(r["released"], true);

    let status = run(redlease(&servers).args(["status", "jobs:1"]), LONG);
    status.expect_code(0);
    let s = status.json();
    assert_eq!(s["held"], false);
    assert!(s["owner"].is_null() && s["remaining_ms"].is_null(), "{s}");
    assert_eq!(s["last_fencing_token"], token);
}

#[test]
fn status_shows_unreachable_nodes_and_hides_passwords() {
    let c = cluster(3);
    let mut servers = c.urls();
    c.node(2).kill().expect("kill");
    // A password in the URL must never be printed (the servers have none, so AUTH
    // fails on them: that only makes them unreachable, which is what we look at).
    servers[1] = servers[1].replace("redis://", "redis://user:hunter2@");
    let out = run(redlease(&servers).args(["status", "r"]), LONG);
    assert!(
        !out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"),
        "{out:#?}"
    );
    let s = out.json();
    let nodes = s["nodes"].as_array().expect("nodes");
    assert_eq!(nodes[0]["reachable"], true);
    assert_eq!(nodes[2]["reachable"], false);
    assert!(
        nodes[2]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{s}"
    );
    assert!(nodes[2]["owner"].is_null() && nodes[2]["fence"].is_null());
    assert!(
        nodes[1]["server"]
            .as_str()
            .is_some_and(|u| u.contains("***")),
        "{s}"
    );
}
