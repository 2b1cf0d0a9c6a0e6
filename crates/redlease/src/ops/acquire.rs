//! Acquire one resource on one node (`acquire.lua`).
//!
//! Set the lock key to our owner with the ttl if it is free (or a hand-off reservation
//! for us), and report what the decision in [`crate::protocol::attempt`] needs: the
//! node's fencing counter, the other holder's remaining ttl, whether the key is a
//! hand-off reservation, and the age of the node's delayed-restart marker. A refused
//! caller that waits joins the resource's wait queue on that node.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::parse::{ReplyError, array, counter, flag, int};
use super::{Compiled, Invocation, MarkerKey, NodeFacts, Op, Target, millis};
use crate::config::NodeKind;
use crate::protocol::AcquireReply;
pub(crate) use crate::protocol::queue::Role;

/// `acquire.lua`, after the mint it shares with `release.lua`.
pub(crate) const LUA: &str = concat!(include_str!("mint.lua"), include_str!("acquire.lua"));
static SCRIPT: Compiled = Compiled::new(LUA);

/// Where an acquisition's fencing token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fencing {
    /// No token: the script reads neither the counter nor the clock.
    Off,
    /// The client mints it from every node's counter and clock (several nodes).
    Client,
    /// The script mints it with the grant (single node: its counter is the whole quorum).
    Script,
}

impl Fencing {
    /// Whether a grant carries what this kind of token needs: the minted token itself
    /// (one node), or the node's clock, the floor of the client's token (several nodes).
    /// A grant without it (the script's unfenced short form) cannot count towards a token.
    pub(crate) fn grant_is_complete(self, reply: &AcquireReply) -> bool {
        match self {
            Fencing::Off => true,
            Fencing::Script => !reply.granted || reply.fence != 0,
            Fencing::Client => !reply.granted || reply.node_time_us != 0,
        }
    }
}

/// One acquisition's request, the same for every node and every attempt.
pub(crate) struct Acquire {
    pub target: Arc<Target>,
    pub ttl: Duration,
    pub role: Role,
    /// How long the caller has been waiting, in µs of its monotonic clock: the node
    /// derives the caller's place in the queue from it.
    pub waited_us: u64,
    /// Whether a fencing token is made, and where.
    pub fencing: Fencing,
    /// The node's delayed-restart marker, when delayed restart is on.
    pub marker: Option<MarkerKey>,
    /// How long a node keeps the wait queue after its last arrival.
    pub queue_ttl: Duration,
    /// How long a node keeps the fencing counter after it was written.
    pub counter_ttl: Duration,
    /// Try the plain commands of [`super::quick`] before the script (the lock is
    /// expected to be free).
    pub quick: bool,
    /// The owner of the caller's next attempt, which a refusal registers for a hand-off
    /// grant: the caller listens for the grants releases publish for it and counts them
    /// ([`crate::protocol::handoff`]). `None`: no registration.
    pub next: Option<String>,
}

impl Op for Acquire {
    type Reply = AcquireReply;

    fn invocation(&self) -> Invocation {
        self.invocation_for(NodeKind::Standalone)
    }

    fn invocation_for(&self, kind: NodeKind) -> Invocation {
        self.script(kind, false)
    }

    fn parse(value: &Value) -> Result<AcquireReply, ReplyError> {
        parse(value)
    }

    fn replicated_key<'a>(&'a self, reply: &AcquireReply) -> Option<&'a str> {
        reply.granted.then_some(self.target.keys.lock())
    }

    fn quick(&self, kind: NodeKind, facts: NodeFacts) -> Option<Invocation> {
        super::quick::commands(self, kind, facts)
    }

    fn quick_reply(
        &self,
        answer: &Value,
        facts: NodeFacts,
    ) -> Result<Option<AcquireReply>, ReplyError> {
        super::quick::reply(self, answer, facts)
    }

    /// The quick request got the lock but could not complete the grant (no marker, a
    /// token to floor): the script completes it where the key is still ours, and never
    /// takes the lock anew (see `acquire.lua`, ARGV[9]).
    fn follow_up(&self, kind: NodeKind) -> Invocation {
        self.script(kind, true)
    }
}

impl Acquire {
    /// `acquire.lua` for a node of `kind`; `confirm`: the follow-up of a quick request.
    fn script(&self, kind: NodeKind, confirm: bool) -> Invocation {
        let keys = &self.target.keys;
        let mut call = SCRIPT.call(4 + usize::from(self.marker.is_some()));
        call.key(keys.lock())
            .key(keys.fence())
            .key(keys.queue())
            .key(keys.seen());
        if let Some(marker) = &self.marker {
            // A cluster shard loses only its own slots: a node-wide marker would live on
            // another shard than the lock it must vouch for.
            let key = match kind {
                NodeKind::Cluster => self.target.keys.born(),
                _ => marker.key(&self.target),
            };
            call.key(key);
        }
        call.arg(&self.target.owner)
            .arg(millis(self.ttl))
            .arg(match self.role {
                Role::Try => "try",
                Role::Wait => "wait",
            })
            .arg(self.waited_us)
            .arg(match self.fencing {
                Fencing::Off => "",
                Fencing::Client => "fence",
                Fencing::Script => "mint",
            })
            .arg(millis(self.queue_ttl))
            .arg(self.target.waiter.as_ref())
            .arg(millis(self.counter_ttl))
            .arg(if confirm { "confirm" } else { "" })
            .arg(self.next.as_deref().unwrap_or(""));
        call
    }
}

/// Parse the reply of `acquire.lua`: `{ granted, fence, pttl, handoff, age, now }`, or for
/// a grant `{ 1, fence, age, now }` with fencing and `{ 1, age }` without (no counter, no
/// clock: the attempt refuses that form where it asked for a token, see `acquire/`).
///
/// ```
/// use redis::Value;
/// let reply = Value::Array(vec![
///     Value::Int(0),
///     Value::BulkString(b"17".to_vec()),
///     Value::Int(900),
///     Value::Int(0),
///     Value::Int(-1),
///     Value::BulkString(b"1764576000123456".to_vec()),
/// ]);
/// let parsed = redlease::ops::acquire::parse(&reply).unwrap();
/// assert!(!parsed.granted);
/// assert_eq!(parsed.fence, 17);
/// assert_eq!(parsed.holder_pttl_ms, Some(900));
/// assert!(redlease::ops::acquire::parse(&Value::Nil).is_err());
/// ```
pub fn parse(value: &Value) -> Result<AcquireReply, ReplyError> {
    const NAME: &str = "acquire";
    let grant = |granted: &Value| match flag(NAME, granted)? {
        true => Ok(()),
        false => Err(ReplyError::new(NAME, "a short reply that is not a grant")),
    };
    if let Value::Array(items) = value {
        match items.as_slice() {
            [granted, age] => {
                grant(granted)?;
                return Ok(AcquireReply {
                    granted: true,
                    marker_age_ms: u64::try_from(int(NAME, age)?).ok(),
                    ..AcquireReply::default()
                });
            }
            [granted, age, born] => {
                grant(granted)?;
                return Ok(AcquireReply {
                    granted: true,
                    marker_age_ms: Some(count(NAME, age)?),
                    marker_born_ms: Some(count(NAME, born)?),
                    ..AcquireReply::default()
                });
            }
            [granted, fence, age, now] => {
                grant(granted)?;
                let (age, now) = (int(NAME, age)?, counter(NAME, now)?);
                return Ok(AcquireReply {
                    granted: true,
                    fence: counter(NAME, fence)?,
                    holder_pttl_ms: None,
                    handoff: false,
                    marker_age_ms: u64::try_from(age).ok(),
                    node_time_us: now,
                    marker_born_ms: born(age, now),
                });
            }
            _ => {}
        }
    }
    let [granted, fence, pttl, handoff, age, now] = array::<6>(NAME, value)?;
    let granted = flag(NAME, granted)?;
    let fence = counter(NAME, fence)?;
    let pttl = int(NAME, pttl)?;
    let (age, now) = (int(NAME, age)?, counter(NAME, now)?);
    Ok(AcquireReply {
        granted,
        fence,
        holder_pttl_ms: if granted {
            None
        } else {
            u64::try_from(pttl).ok()
        },
        handoff: flag(NAME, handoff)?,
        marker_age_ms: u64::try_from(age).ok(),
        node_time_us: now,
        marker_born_ms: born(age, now),
    })
}

/// A marker's birth from its `age` (ms, -1 without a marker) and the node's time `now_us`
/// when it measured it (the script computed the age as its time minus the birth).
fn born(age: i64, now_us: u64) -> Option<u64> {
    let age = u64::try_from(age).ok()?;
    (now_us / 1000).checked_sub(age)
}

/// A non-negative integer element.
fn count(name: &'static str, value: &Value) -> Result<u64, ReplyError> {
    u64::try_from(int(name, value)?).map_err(|_| ReplyError::new(name, "a negative count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn granted() {
        let v = Value::Array(vec![
            Value::Int(1),
            bulk("0"),
            Value::Int(-1),
            Value::Int(0),
            Value::Int(1500),
            bulk("1764576000123456"),
        ]);
        assert_eq!(
            parse(&v),
            Ok(AcquireReply {
                granted: true,
                fence: 0,
                holder_pttl_ms: None,
                handoff: false,
                marker_age_ms: Some(1500),
                node_time_us: 1_764_576_000_123_456,
                marker_born_ms: Some(1_764_576_000_123 - 1500),
            })
        );
    }

    #[test]
    fn a_fenced_grant_is_four_elements() {
        let v = Value::Array(vec![
            Value::Int(1),
            bulk("17"),
            Value::Int(1500),
            bulk("1764576000123456"),
        ]);
        assert_eq!(
            parse(&v),
            Ok(AcquireReply {
                granted: true,
                fence: 17,
                holder_pttl_ms: None,
                handoff: false,
                marker_age_ms: Some(1500),
                node_time_us: 1_764_576_000_123_456,
                marker_born_ms: Some(1_764_576_000_123 - 1500),
            })
        );
    }

    #[test]
    fn a_fenced_grant_needs_its_token_or_the_clock() {
        let short = parse(&Value::Array(vec![Value::Int(1), Value::Int(-1)])).expect("a grant");
        let scripted = parse(&Value::Array(vec![
            Value::Int(1),
            bulk("17"),
            Value::Int(-1),
            bulk("1764576000123456"),
        ]))
        .expect("a grant");
        // The one-node quick grant: the token from `INCR`, no clock.
        let incr = AcquireReply {
            granted: true,
            fence: 1_764_576_000_123_457,
            ..AcquireReply::default()
        };
        let refused = AcquireReply::default();
        for (fencing, reply, complete) in [
            (Fencing::Off, short, true),
            (Fencing::Script, short, false),
            (Fencing::Client, short, false),
            (Fencing::Script, scripted, true),
            (Fencing::Client, scripted, true),
            (Fencing::Script, incr, true),
            (Fencing::Client, incr, false),
            (Fencing::Script, refused, true),
            (Fencing::Client, refused, true),
        ] {
            assert_eq!(
                fencing.grant_is_complete(&reply),
                complete,
                "{fencing:?} {reply:?}"
            );
        }
    }

    #[test]
    fn an_unfenced_grant_is_two_integers() {
        let reply = |age| Value::Array(vec![Value::Int(1), Value::Int(age)]);
        assert_eq!(
            parse(&reply(1500)),
            Ok(AcquireReply {
                granted: true,
                marker_age_ms: Some(1500),
                ..AcquireReply::default()
            })
        );
        assert_eq!(parse(&reply(-1)).map(|r| r.marker_age_ms), Ok(None));
        // With a marker, its birth on the node's clock comes along.
        let with_marker = Value::Array(vec![Value::Int(1), Value::Int(1500), Value::Int(9000)]);
        assert_eq!(
            parse(&with_marker),
            Ok(AcquireReply {
                granted: true,
                marker_age_ms: Some(1500),
                marker_born_ms: Some(9000),
                ..AcquireReply::default()
            })
        );
        // Only a grant has the short forms, with their elements' types.
        for bad in [
            Value::Array(vec![Value::Int(0), Value::Int(5)]),
            Value::Array(vec![Value::Int(1), bulk("5")]),
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![Value::Int(1), Value::Int(-1), Value::Int(9000)]),
            Value::Array(vec![Value::Int(0), Value::Int(1500), Value::Int(9000)]),
            Value::Array(vec![Value::Int(0), bulk("7"), Value::Int(5), bulk("9")]),
            Value::Array(vec![Value::Int(1), bulk("-7"), Value::Int(5), bulk("9")]),
            Value::Array(vec![Value::Int(1), bulk("7"), bulk("5"), bulk("9")]),
            Value::Array(vec![Value::Int(1), bulk("7"), Value::Int(5)]),
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn garbage_is_rejected() {
        let valid = || {
            vec![
                Value::Int(0),
                bulk("7"),
                Value::Int(900),
                Value::Int(0),
                Value::Int(5),
                bulk("1764576000123456"),
            ]
        };
        assert!(parse(&Value::Array(valid())).is_ok());
        let mut cases = vec![Value::Nil, Value::Int(1), Value::Array(vec![])];
        // Each element replaced by something the script never returns.
        let bad: [(usize, Value); 9] = [
            (0, Value::Int(2)),
            (0, bulk("1")),
            (1, bulk("-3")),
            (1, bulk("18446744073709551616")),
            (1, bulk("")),
            (2, bulk("x")),
            (3, Value::Int(7)),
            (4, Value::Nil),
            (5, bulk("-1")),
        ];
        for (index, value) in bad {
            let mut reply = valid();
            reply[index] = value;
            cases.push(Value::Array(reply));
        }
        let mut short = valid();
        short.pop();
        cases.push(Value::Array(short));
        let mut long = valid();
        long.push(Value::Nil);
        cases.push(Value::Array(long));
        for case in cases {
            assert!(parse(&case).is_err(), "{case:?}");
        }
    }
}
