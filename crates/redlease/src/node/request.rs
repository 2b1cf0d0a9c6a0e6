//! One script call on a node, within the node timeout.
//!
//! A request may have to connect first, load a script the node forgot (`NOSCRIPT`), or
//! reconnect once after a connection that broke while idle; all of that together must
//! cost at most the node timeout. The usual request needs none of it: a live connection,
//! one round trip. On a direct connection that round trip is already bounded by the
//! client's response timeout, which is the node timeout (see `link::config`), so it is
//! sent as it is, without a second timer of ours around it (two timers per request were
//! a visible share of the client's work per lock). Only when it needs more does the rest
//! run under a timer, for what is left of the node timeout.

use std::sync::atomic::Ordering;

use redis::Value;
use tokio::time::Instant;

use super::verdict::{needs_new_connection, refusal};
use super::{Conn, Node, Refusal};
use crate::error::NodeError;
use crate::ops::{Invocation, needs_script};

/// How a request ended before it could be answered, with the generation of the
/// connection it used (if it got one).
type Failed = (Refusal, Option<u64>);

impl Node {
    /// Run `invocation`, started at `started`, within the node timeout: its reply and the
    /// connection that answered it.
    pub(super) async fn eval(
        &self,
        invocation: &Invocation,
        started: Instant,
    ) -> Result<(Value, Conn), NodeError> {
        let mut first = None;
        if let Some((Conn::Direct(conn), generation)) = self.current() {
            let mut conn = Conn::Direct(conn);
            match invocation.query(&mut conn).await {
                Ok(value) => return Ok(self.answered(value, conn)),
                // The script to load, or a connection to replace: the rest below.
                Err(e) if needs_script(&e) || (needs_new_connection(&e) && !e.is_timeout()) => {
                    first = Some((conn, generation, e));
                }
                Err(e) => return Err(self.failed((Refusal::Redis(e), Some(generation)))),
            }
        }
        let left = self.timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, self.attempt(invocation, first)).await {
            Ok(Ok((value, conn))) => Ok(self.answered(value, conn)),
            Ok(Err(failed)) => Err(self.failed(failed)),
            Err(_elapsed) => {
                self.note_timeout(None);
                Err(NodeError::Timeout(self.timeout))
            }
        }
    }

    /// The request, from the start (connect if needed, send), or resumed after `first`:
    /// the first send's error on a live connection.
    async fn attempt(
        &self,
        invocation: &Invocation,
        first: Option<(Conn, u64, redis::RedisError)>,
    ) -> Result<(Value, Conn), Failed> {
        let (conn, generation, answer) = match first {
            Some((mut conn, generation, e)) => {
                let answer = invocation.recover(&mut conn, e).await;
                (conn, generation, answer)
            }
            None => {
                let (mut conn, generation) = self.connection().await?;
                let answer = invocation.invoke(&mut conn).await;
                (conn, generation, answer)
            }
        };
        match answer {
            // A connection that broke while idle (the node restarted, a proxy reset it),
            // or a Sentinel primary that was demoted (READONLY): reconnect once within the
            // same timeout. Every script is safe to run twice for the same owner.
            Err(e) if needs_new_connection(&e) && !e.is_timeout() => {
                self.invalidate(Some(generation));
                let (mut conn, generation) = self.connection().await?;
                match invocation.invoke(&mut conn).await {
                    Ok(value) => Ok((value, conn)),
                    Err(e) => Err((Refusal::Redis(e), Some(generation))),
                }
            }
            Ok(value) => Ok((value, conn)),
            Err(e) => Err((Refusal::Redis(e), Some(generation))),
        }
    }

    /// The node answered: it is not hung.
    fn answered(&self, value: Value, conn: Conn) -> (Value, Conn) {
        self.timeouts_in_row.store(0, Ordering::Relaxed);
        self.last_answer_us
            .store(self.micros_since_epoch(), Ordering::Relaxed);
        (value, conn)
    }

    /// The node error for `failed`, after dropping a connection that is of no use.
    fn failed(&self, (refused, generation): Failed) -> NodeError {
        match refused {
            Refusal::Redis(e) if e.is_timeout() => {
                self.note_timeout(generation);
                NodeError::Timeout(self.timeout)
            }
            Refusal::Redis(e) => {
                if let Some(refusal) = refusal(&e) {
                    // Credentials or configuration: the connection is of no use as it is.
                    self.invalidate(generation);
                    refusal
                } else if needs_new_connection(&e) {
                    self.invalidate(generation);
                    NodeError::Connection(e.to_string())
                } else {
                    NodeError::Redis(e.to_string())
                }
            }
            Refusal::Unusable(why) => NodeError::Connection(why),
        }
    }
}
