//! The arguments of the commands that work on one lease or list them (`acquire`,
//! `extend`, `release`, `status`, `list`): kept apart from `cli.rs` so that each file
//! stays readable; the doc comments are their `--help` text.

use std::time::Duration;

use clap::Args;

use super::{Connection, FormatArg, TtlArg, WaitArgs};
use crate::args::{parse_duration, parse_resource};

/// Arguments of `acquire`.
#[derive(Debug, Args)]
pub struct AcquireArgs {
    #[command(flatten)]
    pub ttl: TtlArg,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// The resource to lock: any non-empty name, e.g. `orders:42`.
    #[arg(value_parser = parse_resource)]
    pub resource: String,

    #[command(flatten)]
    pub format: FormatArg,

    #[command(flatten)]
    pub connection: Connection,
}

/// Arguments of `extend`.
#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The owner value printed by `acquire`.
    #[arg(long, env = "REDLEASE_OWNER")]
    pub owner: String,

    /// The lease's new time to live from now, e.g. 30s (at most 5m). [default: the ttl
    /// the lease was acquired with]
    #[arg(long, env = "REDLEASE_TTL", value_name = "DURATION",
          value_parser = parse_duration, allow_hyphen_values = true)]
    pub ttl: Option<Duration>,

    /// The resource of the lease.
    #[arg(value_parser = parse_resource)]
    pub resource: String,

    #[command(flatten)]
    pub format: FormatArg,

    #[command(flatten)]
    pub connection: Connection,
}

/// Arguments of `release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The owner value printed by `acquire`.
    #[arg(long, env = "REDLEASE_OWNER")]
    pub owner: String,

    /// The resource of the lease.
    #[arg(value_parser = parse_resource)]
    pub resource: String,

    #[command(flatten)]
    pub format: FormatArg,

    #[command(flatten)]
    pub connection: Connection,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Resources to look at: a glob (`*` any characters, `?` one, `[abc]` one of).
    #[arg(default_value = "*")]
    pub pattern: String,

    /// List at most N leases (1 to 1000000).
    #[arg(long, env = "REDLEASE_LIMIT", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub limit: u32,

    #[command(flatten)]
    pub format: FormatArg,

    #[command(flatten)]
    pub connection: Connection,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The resource to look at.
    #[arg(value_parser = parse_resource)]
    pub resource: String,

    #[command(flatten)]
    pub format: FormatArg,

    #[command(flatten)]
    pub connection: Connection,
}
