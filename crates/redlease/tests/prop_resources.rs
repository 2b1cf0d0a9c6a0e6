//! Property tests: resource names. Any string is either refused as an invalid `resource`
//! (empty, or longer than the documented maximum) or attempted; nothing panics.
//!
//! Resource names come from callers' data (ids, paths, user input): arbitrary Unicode,
//! braces that look like hash tags, control characters, very long strings. Every call
//! that takes a resource is tried against a loopback port where nothing listens, so an
//! attempt fails fast as "unavailable" and the tests stay quick.
//!
//! 256 cases per property by default; for a longer run:
//! `PROPTEST_CASES=100000 cargo test -p redlease --test prop_resources`.

use std::time::Duration;

use proptest::prelude::*;
use redlease::config::MAX_RESOURCE_LEN;
use redlease::{Error, ErrorKind, LockManager};

/// Loopback, a port nobody listens on: connecting is refused at once.
const NOWHERE: &str = "redis://127.0.0.1:1";

/// One manager over an unreachable node, and a runtime to drive it.
fn manager() -> (tokio::runtime::Runtime, LockManager) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let manager = rt
        .block_on(
            LockManager::builder()
                .servers([NOWHERE])
                .node_timeout(Duration::from_millis(20))
                .wait(Duration::ZERO)
                .build(),
        )
        .expect("a valid configuration");
    (rt, manager)
}

/// Names around the length limit and with every awkward character.
fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,64}",
        "[{}:a ]{0,16}",
        ".*",
        (0usize..=3, "[a-zé{}]").prop_map(|(extra, unit)| {
            // Around MAX_RESOURCE_LEN bytes, in one- and two-byte characters.
            let mut s = unit.repeat(MAX_RESOURCE_LEN / unit.len());
            s.push_str(&"x".repeat(extra));
            s
        }),
        (MAX_RESOURCE_LEN..4 * MAX_RESOURCE_LEN).prop_map(|n| "r".repeat(n)),
    ]
}

/// The resource must be refused, with the field named `resource`.
fn refused(outcome: Result<impl Sized, Error>) -> Result<(), TestCaseError> {
    match outcome {
        Err(e) if e.is_invalid_argument() => {
            prop_assert_eq!(e.field(), Some("resource"));
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!("not an invalid argument: {e}"))),
        Ok(_) => Err(TestCaseError::fail("accepted")),
    }
}

fn config() -> ProptestConfig {
    // 256 cases unless PROPTEST_CASES says otherwise. Failures are reported with their
    // minimal input; no files are written.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_resource_is_refused_or_attempted(resource in resource()) {
        let (rt, manager) = manager();
        let valid = !resource.is_empty() && resource.len() <= MAX_RESOURCE_LEN;
        let owner = "0123456789abcdef0123456789abcdef";
        let ttl = Duration::from_secs(1);
        if valid {
            let e = rt.block_on(manager.try_acquire(&resource)).expect_err("unreachable");
            prop_assert_eq!(e.kind(), ErrorKind::Unavailable, "{}", e);
            let e = rt.block_on(manager.status(&resource));
            prop_assert!(e.is_ok_and(|s| s.holder.is_none()));
            let e = rt.block_on(manager.release_owner(&resource, owner)).expect_err("unreachable");
            prop_assert_eq!(e.kind(), ErrorKind::Unavailable, "{}", e);
            let e = rt.block_on(manager.extend_owner(&resource, owner, ttl)).expect_err("unreachable");
            prop_assert!(!e.is_invalid_argument(), "{}", e);
        } else {
            refused(rt.block_on(manager.try_acquire(&resource)))?;
            refused(rt.block_on(manager.acquire_for(&resource, ttl, Duration::from_millis(5))))?;
            refused(rt.block_on(manager.status(&resource)))?;
            refused(rt.block_on(manager.release_owner(&resource, owner)))?;
            refused(rt.block_on(manager.extend_owner(&resource, owner, ttl)))?;
            let e = rt.block_on(manager.try_acquire(&resource)).expect_err("refused");
            // The message shows at most a prefix of a long name, never all of it.
            prop_assert!(e.to_string().len() < 400, "{}", e);
        }
    }
}
