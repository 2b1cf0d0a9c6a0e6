//! Who holds what: `list` (like lslocks), the holder in `status`, and `extend` keeping
//! the ttl the holder recorded. Real binary, real servers.

mod common;

use std::time::Duration;

use common::{Background, LONG, TempDir, cluster, redlease, run, wait_until};

fn lines(out: &common::Run) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {out:#?}")))
        .collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned()
}

#[test]
fn list_shows_each_held_lease_and_who_holds_it() {
    let c = cluster(3);
    let servers = c.urls();
    let dir = TempDir::new("list");
    let exec = Background::spawn(redlease(&servers).current_dir(dir.path()).args([
        "exec",
        "jobs:a",
        "-c",
        "echo ready > started; sleep 30",
    ]));
    assert!(
        wait_until(LONG, || dir.path().join("started").exists()),
        "never started"
    );
    let acquired = run(
        redlease(&servers).args(["acquire", "--ttl", "60s", "jobs:b"]),
        LONG,
    );
    acquired.expect_code(0);
    let owner_b = acquired.json()["owner"].as_str().expect("owner").to_owned();
    run(redlease(&servers).args(["acquire", "other"]), LONG).expect_code(0);

    let out = run(redlease(&servers).args(["list", "jobs:*"]), LONG);
    out.expect_code(0);
    let rows = lines(&out);
    assert_eq!(rows.len(), 2, "{out:#?}");
    let (a, b) = (&rows[0], &rows[1]);
    assert_eq!(a["resource"], "jobs:a");
    assert!(a["owner"].as_str().is_some_and(|o| o.len() == 32), "{a}");
    assert!(a["remaining_ms"].as_u64().is_some_and(|ms| ms > 0), "{a}");
    assert!(a["fencing_token"].as_u64().is_some_and(|t| t >= 1), "{a}");
    // exec holds it itself, running the command.
    assert_eq!(a["holder"]["pid"], exec.pid(), "{a}");
    assert_eq!(a["holder"]["host"], hostname().as_str(), "{a}");
    assert!(
        a["holder"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("sh -c 'echo ready > started; sleep 30'")),
        "{a}"
    );
    // acquire records the process that ran it: this test.
    assert_eq!(b["resource"], "jobs:b");
    assert_eq!(b["owner"], owner_b.as_str());
    assert_eq!(b["holder"]["pid"], std::process::id(), "{b}");
    assert!(
        b["remaining_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 30_000 && ms <= 60_000),
        "{b}"
    );

    assert_eq!(lines(&run(redlease(&servers).arg("list"), LONG)).len(), 3);
    let limited = run(redlease(&servers).args(["list", "--limit", "1"]), LONG);
    assert_eq!(lines(&limited).len(), 1, "{limited:#?}");
    let human = run(
        redlease(&servers).args(["list", "--format", "human", "jobs:*"]),
        LONG,
    );
    human.expect_code(0);
    let table: Vec<&str> = human.stdout.lines().collect();
    assert_eq!(table.len(), 3, "{human:#?}");
    assert!(table[0].starts_with("RESOURCE"), "{human:#?}");
    assert!(table[1].starts_with("jobs:a") && table[1].contains("sleep 30"));

    // status shows the holder too.
    let status = run(redlease(&servers).args(["status", "jobs:a"]), LONG);
    assert_eq!(status.json()["holder"]["pid"], exec.pid(), "{status:#?}");

    // Once exec is done, its lease is no longer listed.
    exec.signal(libc::SIGTERM);
    exec.finish(LONG);
    let out = run(redlease(&servers).args(["list", "jobs:*"]), LONG);
    let rows = lines(&out);
    assert_eq!(rows.len(), 1, "{out:#?}");
    assert_eq!(rows[0]["resource"], "jobs:b");
    let none = run(redlease(&servers).args(["list", "nothing:*"]), LONG);
    none.expect_code(0);
    assert!(none.stdout.is_empty(), "{none:#?}");
}

#[test]
fn list_with_too_few_servers_is_an_error_not_an_empty_list() {
    let c = cluster(3);
    let servers = c.urls();
    run(redlease(&servers).args(["acquire", "r"]), LONG).expect_code(0);
    c.node(0).kill().expect("kill");
    c.node(1).kill().expect("kill");
    let out = run(redlease(&servers).args(["list"]), LONG);
    out.expect_code(69);
    assert!(
        out.stderr.contains("only 1 of 3 servers could be scanned"),
        "{out:#?}"
    );
}

#[test]
fn list_names_a_server_it_could_not_scan_on_stderr() {
    let c = cluster(3);
    let servers = c.urls();
    run(redlease(&servers).args(["acquire", "r"]), LONG).expect_code(0);
    c.node(2).kill().expect("kill");
    let out = run(redlease(&servers).args(["list"]), LONG);
    out.expect_code(0);
    assert_eq!(
        lines(&out).len(),
        1,
        "still listed from the others: {out:#?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "redlease: server 3 ({}) could not be scanned, leases held only there may be missing",
            servers[2]
        )),
        "{out:#?}"
    );
}

#[test]
fn extend_without_ttl_keeps_the_leases_own_ttl() {
    let c = cluster(3);
    let servers = c.urls();
    let acquired = run(
        redlease(&servers).args(["acquire", "--ttl", "1m", "deploy"]),
        LONG,
    );
    acquired.expect_code(0);
    let owner = acquired.json()["owner"].as_str().expect("owner").to_owned();
    let extended = run(
        redlease(&servers).args(["extend", "--owner", &owner, "deploy"]),
        LONG,
    );
    extended.expect_code(0);
    let validity = extended.json()["validity_ms"].as_u64().expect("validity");
    assert!(validity > 30_000 && validity <= 60_000, "{extended:#?}");

    // A lease whose holder recorded no ttl (another client): --ttl is required.
    let manager = redlease::blocking::LockManager::builder()
        .servers(servers.clone())
        .build()
        .expect("manager");
    let lease = manager
        .acquire_for("bare", Duration::from_secs(60), Duration::ZERO)
        .expect("acquire");
    let info = lease.forget().expect("forgotten while held");
    let out = run(
        redlease(&servers).args(["extend", "--owner", &info.owner, "bare"]),
        LONG,
    );
    out.expect_code(64);
    assert!(out.stderr.contains("--ttl"), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
    let status = run(redlease(&servers).args(["status", "bare"]), LONG);
    assert!(
        status.json()["remaining_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 30_000),
        "the refused extend must not have shortened the lease: {status:#?}"
    );
    let out = run(
        redlease(&servers).args(["extend", "--owner", &info.owner, "--ttl", "20s", "bare"]),
        LONG,
    );
    out.expect_code(0);
    assert!(
        out.json()["validity_ms"]
            .as_u64()
            .is_some_and(|ms| ms <= 20_000),
        "{out:#?}"
    );
}
