//! Property tests: the script reply parsers never panic, whatever a node sends back.
//!
//! A node that answers garbage (a proxy in the way, a different Redis version, a bug in a
//! script) must be a failed vote, never a crash of the client. So every parser is fed
//! arbitrary `redis::Value` trees (every variant, nested a few levels), well-formed
//! replies with one element swapped for anything, and must return `Ok` only for the
//! shape its script produces. Well-formed replies, built the way the Lua scripts build
//! them, must parse back to exactly what was encoded.
//!
//! 256 cases per property by default; for a longer run:
//! `PROPTEST_CASES=100000 cargo test -p redlease --test prop_replies`.

use proptest::prelude::*;
use redlease::ops::status::StatusReply;
use redlease::ops::{acquire, extend, fence, release, status};
use redlease::protocol::{AcquireReply, ExtendReply};
use redlease::redis::{self, Value};

/// Byte strings that are often digits (fencing counters), sometimes anything.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9]{0,21}".prop_map(String::into_bytes),
        "[-+ 0-9a-f]{0,6}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![-3i64..=3, any::<i64>(), Just(i64::MIN), Just(i64::MAX)]
}

/// A server error, built by the client's own RESP parser.
fn server_error() -> impl Strategy<Value = Value> {
    ("[A-Z]{1,8}", "[ -~]{0,16}").prop_filter_map("parses as an error", |(code, detail)| {
        let wire = format!("-{code} {detail}\r\n");
        redis::parse_redis_value(wire.as_bytes())
            .ok()
            .filter(|v| matches!(v, Value::ServerError(_)))
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        Just(Value::Okay),
        int().prop_map(Value::Int),
        bytes().prop_map(Value::BulkString),
        "\\PC{0,8}".prop_map(Value::SimpleString),
        any::<f64>().prop_map(Value::Double),
        any::<bool>().prop_map(Value::Boolean),
        bytes().prop_map(Value::BigNumber),
        "\\PC{0,8}".prop_map(|text| Value::VerbatimString {
            format: redis::VerbatimFormat::Text,
            text
        }),
        server_error(),
    ]
}

/// Any reply tree, at most 3 levels deep.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 6, |inner| {
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..7).prop_map(Value::Array),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
            pairs.clone().prop_map(Value::Map),
            (inner.clone(), pairs).prop_map(|(data, attributes)| Value::Attribute {
                data: Box::new(data),
                attributes
            }),
            proptest::collection::vec(inner, 0..4).prop_map(|data| Value::Push {
                kind: redis::PushKind::Message,
                data
            }),
        ]
    })
}

fn encode_counter(fence: u64, form: u8) -> Value {
    match form % 3 {
        0 => Value::BulkString(fence.to_string().into_bytes()),
        1 => Value::SimpleString(fence.to_string()),
        _ => i64::try_from(fence).map_or_else(
            |_| Value::BulkString(fence.to_string().into_bytes()),
            Value::Int,
        ),
    }
}

/// What `acquire.lua` returns, and what the parser must make of it.
fn acquire_reply() -> impl Strategy<Value = (Value, AcquireReply)> {
    (
        any::<bool>(),
        any::<u64>(),
        any::<u8>(),
        prop_oneof![Just(-2i64), Just(-1i64), 0..=i64::MAX],
        any::<bool>(),
        prop_oneof![Just(-1i64), 0..=i64::MAX],
        any::<u64>(),
    )
        .prop_map(|(granted, fence, form, pttl, handoff, age, now)| {
            let pttl = if granted { -1 } else { pttl };
            let value = Value::Array(vec![
                Value::Int(granted.into()),
                encode_counter(fence, form),
                Value::Int(pttl),
                Value::Int(handoff.into()),
                Value::Int(age),
                encode_counter(now, form),
            ]);
            let parsed = AcquireReply {
                granted,
                fence,
                holder_pttl_ms: u64::try_from(pttl).ok(),
                handoff,
                marker_age_ms: u64::try_from(age).ok(),
                node_time_us: now,
                marker_born_ms: u64::try_from(age)
                    .ok()
                    .and_then(|age| (now / 1000).checked_sub(age)),
            };
            (value, parsed)
        })
}

/// A well-formed reply of any script, with one element replaced by anything.
fn near_miss() -> impl Strategy<Value = Value> {
    (acquire_reply(), any::<prop::sample::Index>(), value()).prop_map(|((reply, _), at, junk)| {
        let Value::Array(mut items) = reply else {
            unreachable!("acquire replies are arrays")
        };
        let i = at.index(items.len());
        items[i] = junk;
        Value::Array(items)
    })
}

/// Feed `v` to every parser; `Ok` only for the shape each script returns.
fn parse_all(v: &Value) {
    let is_array_of = |n: usize| matches!(v, Value::Array(items) if items.len() == n);
    if acquire::parse(v).is_ok() {
        // The full reply, or a grant's `{ 1, age }` or `{ 1, fence, age, now }`.
        let short_grant = matches!(v, Value::Array(items)
            if matches!(items.len(), 2 | 4) && items[0] == Value::Int(1));
        assert!(is_array_of(6) || short_grant, "acquire accepted {v:?}");
    }
    if extend::parse(v).is_ok() {
        assert!(is_array_of(2), "extend accepted {v:?}");
    }
    if status::parse(v).is_ok() {
        assert!(is_array_of(4), "status accepted {v:?}");
    }
    match fence::parse(v) {
        Ok(flag) => assert_eq!(*v, Value::Int(flag.into())),
        Err(e) => assert!(e.to_string().contains("fence"), "{e}"),
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
    fn arbitrary_replies_never_panic(v in value()) {
        parse_all(&v);
    }

    #[test]
    fn near_misses_never_panic(v in near_miss()) {
        parse_all(&v);
    }

    #[test]
    fn acquire_replies_round_trip((v, expected) in acquire_reply()) {
        prop_assert_eq!(acquire::parse(&v), Ok(expected));
    }

    #[test]
    fn extend_replies_round_trip(extended in any::<bool>(), fence in any::<u64>(), form in any::<u8>()) {
        let v = Value::Array(vec![Value::Int(extended.into()), encode_counter(fence, form)]);
        prop_assert_eq!(extend::parse(&v), Ok(ExtendReply { extended, fence }));
    }

    #[test]
    fn status_replies_round_trip(
        owner in proptest::option::of("[0-9a-f]{32}|\\PC{1,12}"),
        pttl in prop_oneof![Just(-2i64), Just(-1i64), 0..=i64::MAX],
        fence in any::<u64>(),
        form in any::<u8>(),
        holder_info in proptest::option::of("\\PC{1,40}"),
    ) {
        // status.lua answers "" and -2 when nobody holds the resource.
        let (text, pttl) = match &owner {
            Some(o) => (o.clone(), pttl),
            None => (String::new(), -2),
        };
        let v = Value::Array(vec![
            Value::BulkString(text.into_bytes()),
            Value::Int(pttl),
            encode_counter(fence, form),
            Value::BulkString(holder_info.clone().unwrap_or_default().into_bytes()),
        ]);
        let expected = StatusReply { owner, pttl_ms: u64::try_from(pttl).ok(), fence, holder_info };
        prop_assert_eq!(status::parse(&v), Ok(expected));
    }

    #[test]
    fn flags_round_trip(flag in any::<bool>()) {
        prop_assert_eq!(release::parse(&Value::Int(flag.into())), Ok(flag));
    }
}
