//! Read or set a node's delayed-restart marker (`marker.lua`): operator actions.
//!
//! The acquire script writes the marker at first contact and reports its age; these are
//! the operator's tools around it (`redlease nodes`): read every node's marker age, mark
//! nodes ready (back-date the marker by `max_ttl`), or reset a deployment.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::parse::{ReplyError, int};
use super::{Compiled, Invocation, Op, millis};

pub(crate) const LUA: &str = include_str!("marker.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// What to do with the marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Read its age.
    Age,
    /// Delete it: the node looks new.
    Reset,
    /// Back-date it by `max_ttl`: the node's grants count at once.
    Ready,
}

/// One marker operation.
pub(crate) struct Marker {
    pub key: Arc<str>,
    pub action: Action,
    pub max_ttl: Duration,
}

impl Op for Marker {
    /// The marker's age afterwards; `None` when there is none.
    type Reply = Option<Duration>;

    fn invocation(&self) -> Invocation {
        let mut call = SCRIPT.call(1);
        call.key(self.key.as_ref())
            .arg(match self.action {
                Action::Age => "age",
                Action::Reset => "reset",
                Action::Ready => "ready",
            })
            .arg(millis(self.max_ttl));
        call
    }

    fn parse(value: &Value) -> Result<Option<Duration>, ReplyError> {
        let ms = int("marker", value)?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }
}
