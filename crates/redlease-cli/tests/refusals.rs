//! Servers that answer but refuse us: a password rejected or missing (77), a server given
//! twice under two names (64). The message must say which server and what to do, never
//! "check that the servers are running".

mod common;

use common::{LONG, TempDir, redlease, run};
use redlease_testkit::{Cluster, ClusterOptions};

fn with_password(nodes: usize, password: &str) -> Cluster {
    Cluster::start_with(ClusterOptions {
        nodes,
        extra_args: vec!["--requirepass".into(), password.into()],
        ..ClusterOptions::default()
    })
    .expect("start redis-servers with a password")
}

fn no_internal_words(out: &common::Run) {
    for internal in [
        "Pipeline failures",
        "AuthenticationFailed",
        "running and reachable",
        "s3cret",
    ] {
        assert!(!out.stderr.contains(internal), "{internal}: {out:#?}");
        assert!(!out.stdout.contains(internal), "{internal}: {out:#?}");
    }
}

#[test]
fn a_missing_password_exits_77_and_says_how_to_give_one() {
    let c = with_password(3, "s3cret");
    let servers = c.urls();
    for args in [
        &["acquire", "-n", "r"][..],
        &["exec", "-n", "r", "--", "true"],
        &["status", "r"],
        &["list"],
    ] {
        let out = run(redlease(&servers).args(args), LONG);
        out.expect_code(77);
        assert!(
            out.stderr
                .contains("requires a password: use --password-file or REDLEASE_PASSWORD"),
            "{args:?}: {out:#?}"
        );
        // The vote ends as soon as no quorum is possible: whichever servers refused
        // first are named, by their place in --servers and their URL.
        assert!(
            (1..=3).any(|i| out
                .stderr
                .contains(&format!("server {i} ({})", servers[i - 1]))),
            "{out:#?}"
        );
        no_internal_words(&out);
    }
}

#[test]
fn a_wrong_password_exits_77_and_names_the_server() {
    let c = with_password(1, "s3cret");
    let servers = c.urls();
    let dir = TempDir::new("wrongpass");
    let file = dir.path().join("password");
    std::fs::write(&file, "wrong\n").expect("write");
    let out = run(
        redlease(&servers)
            .args(["acquire", "-n", "--password-file"])
            .arg(&file)
            .arg("r"),
        LONG,
    );
    out.expect_code(77);
    assert!(
        out.stderr
            .contains("the password was rejected by server 1 (redis://:***@127.0.0.1:"),
        "{out:#?}"
    );
    assert!(
        !out.stderr.contains("wrong"),
        "the password is never shown: {out:#?}"
    );
    no_internal_words(&out);
    let out = run(
        redlease(&servers)
            .env("REDLEASE_PASSWORD", "s3cret")
            .args(["acquire", "-n", "r"]),
        LONG,
    );
    out.expect_code(0);
}

#[test]
fn one_server_under_two_names_is_refused() {
    let c = common::cluster(1);
    let url = c.urls()[0].clone();
    let servers = vec![url.clone(), url.replace("127.0.0.1", "localhost")];
    let out = run(redlease(&servers).args(["acquire", "-n", "r"]), LONG);
    out.expect_code(64);
    assert!(
        out.stderr
            .starts_with("redlease: invalid --servers entry 2: "),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains(&format!("same Redis server as entry 1 ({url})")),
        "{out:#?}"
    );
    assert!(!out.stderr.contains("servers["), "{out:#?}");
    // Nothing was acquired.
    let status = run(redlease(&servers[..1]).args(["status", "r"]), LONG);
    assert_eq!(status.json()["held"], false, "{status:#?}");
}

#[test]
fn a_user_without_the_commands_exits_77_and_says_what_the_acl_lacks() {
    // The password is right but the user's ACL forbids what redlease sends: the advice is
    // about permissions, not the password (which a NOPERM refusal used to be taken for).
    let c = redlease_testkit::Cluster::start(1).expect("redis-server");
    c.node(0)
        .acl_setuser(
            "reader",
            &["on", ">read-pass", "~*", "-@all", "+get", "+ping"],
        )
        .expect("acl setuser");
    let port = c.node(0).port().expect("tcp");
    let servers = vec![format!("redis://reader:read-pass@127.0.0.1:{port}")];
    let out = run(redlease(&servers).args(["acquire", "-n", "r"]), LONG);
    out.expect_code(77);
    assert!(
        out.stderr
            .contains("refused our commands for this user (ACL:"),
        "{out:#?}"
    );
    assert!(!out.stderr.contains("password was rejected"), "{out:#?}");
    no_internal_words(&out);
}
