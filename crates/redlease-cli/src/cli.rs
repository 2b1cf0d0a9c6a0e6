//! The command line, as clap derive types.
//!
//! Everything the user can type is declared here, and the doc comments are the `--help`
//! text, so the help and the parser cannot drift apart. Each subcommand has its own
//! argument struct; adding one (say `bench`) is a new variant plus a new struct and
//! module under `cmd/`.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::args::{parse_duration, parse_resource, parse_wait};

/// Default servers when neither `--servers` nor `REDLEASE_SERVERS` is given.
pub const DEFAULT_SERVERS: &str = "redis://127.0.0.1:6379";

/// Distributed locks (leases) on Redis, with fencing tokens: a flock for shells, cron and CI.
///
/// One server is a single-instance lock; several independent servers make a Redlock
/// whose quorum is N/2 + 1. Every lease carries a fencing token that grows with each
/// acquisition of a resource.
///
/// Exit codes: 0 success; 1 the owner given does not hold the lease; 64 invalid usage;
/// 69 fewer than a quorum of servers reachable (or redis-server missing); 70 the lease
/// was lost while the command ran; 75 the resource is held by someone else and the wait
/// ran out; `exec` otherwise exits with the command's own status (128+N when killed by
/// signal N, 126/127 when it could not be started).
#[derive(Debug, Parser)]
#[command(name = "redlease", version, propagate_version = true)]
pub struct Cli {
    /// Redis servers, comma-separated: redis://[user:password@]host[:port][/db] or
    /// unix:///path/to/socket. [default: redis://127.0.0.1:6379]
    #[arg(
        long,
        global = true,
        env = "REDLEASE_SERVERS",
        value_delimiter = ',',
        value_name = "URL[,URL...]",
        hide_env_values = true
    )]
    pub servers: Vec<String>,

    /// How long to wait for one server's answer before counting it as down, e.g. 50ms.
    /// [default: 1% of the ttl, between 10ms and 250ms]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub node_timeout: Option<Duration>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The servers given with `--servers` or `REDLEASE_SERVERS`, blank entries skipped.
    pub fn servers_given(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The servers to use: the option, the environment, or the default. Blank entries
    /// are skipped, so an empty `REDLEASE_SERVERS` means the default, as if unset.
    pub fn servers(&self) -> Vec<String> {
        let given: Vec<String> = self
            .servers
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if given.is_empty() {
            vec![DEFAULT_SERVERS.to_owned()]
        } else {
            given
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command while holding a lease; renew it meanwhile, release it afterwards.
    ///
    /// The command gets REDLEASE_FENCING_TOKEN, REDLEASE_RESOURCE and REDLEASE_OWNER in
    /// its environment and runs in its own process group. SIGINT and SIGTERM sent to
    /// redlease are forwarded to it. If the lease is lost while it runs, its process
    /// group gets SIGTERM, then SIGKILL after --kill-after, and redlease exits 70.
    /// Otherwise redlease exits with the command's status.
    ///
    /// Example: redlease exec nightly-report -- ./make-report.sh
    #[command(override_usage = "redlease exec [OPTIONS] <RESOURCE> -- <CMD>...")]
    Exec(ExecArgs),
    /// Acquire a lease and print it as JSON; it stays held until its ttl runs out.
    ///
    /// Prints {"resource":..,"owner":..,"fencing_token":N,"validity_ms":N}. Keep the
    /// owner: `extend` and `release` need it. The lease is not renewed.
    Acquire(AcquireArgs),
    /// Extend a lease acquired earlier so that it lasts --ttl from now.
    ///
    /// Prints the same JSON line as `acquire`, with the new validity. Exits 1 if OWNER
    /// no longer holds the lease.
    Extend(ExtendArgs),
    /// Release a lease acquired earlier.
    ///
    /// Prints {"resource":..,"owner":..,"released":true}. Exits 1 if OWNER did not hold
    /// the lease (it expired, was released already, or the owner is wrong).
    Release(ReleaseArgs),
    /// Show who holds a resource, according to each server, as one JSON object.
    ///
    /// Exits 69 (after printing) when fewer than a quorum of servers answered.
    Status(StatusArgs),
    /// Start local redis-servers to try redlease with; stop them on Ctrl-C.
    ///
    /// The first line of output is REDLEASE_SERVERS=..., ready for `export` or `eval`.
    Sandbox(SandboxArgs),
    /// Show redlease at work: workers contending for one resource on a local sandbox.
    ///
    /// Each critical section does a non-atomic read-modify-write of a counter in Redis.
    /// The summary checks that no update was lost and that fencing tokens grew in the
    /// order the critical sections ran, and gives acquire latency percentiles.
    /// Exits 0 when every check passed, 1 otherwise. Needs redis-server installed.
    Demo(DemoArgs),
    /// Benchmark redlease against the raw redis-rs floor: runs the separate
    /// `redlease-bench` program with these arguments.
    ///
    /// The benchmark runner is not part of this command: `redlease bench ARGS...` runs
    /// `redlease-bench ARGS...` (found next to redlease, or on PATH) and exits with its
    /// status; --servers and --node-timeout are handed over through the environment. Get it
    /// with `cargo install --path crates/redlease-bench`. `redlease bench --help` shows its
    /// options.
    ///
    /// Example: redlease bench --scenario contended --nodes 1,5 --ops 2000
    #[command(disable_help_flag = true)]
    Bench(BenchArgs),
    /// Show or set the servers' delayed-restart markers, as one JSON object.
    ///
    /// A server that comes back without its data (restart without persistence, FLUSHALL)
    /// does not count as a grant until --max-ttl has passed, while the other servers show
    /// the deployment has been in use for longer. Without options this shows each
    /// server's marker age. --ready back-dates the markers so that every server counts at
    /// once (when you know the servers kept their data or were down for longer than the
    /// max ttl); --reset deletes them, for a deployment started afresh with no lease
    /// outstanding. Exits 69 (after printing) when fewer than a quorum of servers answered.
    Nodes(NodesArgs),
}

/// Arguments of `bench`: everything goes to `redlease-bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Arguments for `redlease-bench` (see `redlease bench --help`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// Arguments of `nodes`.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Mark every reachable server ready: its grants count at once.
    #[arg(long, conflicts_with = "reset")]
    pub ready: bool,
    /// Delete every reachable server's marker: the deployment counts as new.
    #[arg(long)]
    pub reset: bool,
    /// The longest ttl any client uses (the clients' max ttl), e.g. 5m.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub max_ttl: Duration,
}

/// Lease time options shared by the commands that acquire or extend.
#[derive(Debug, Args)]
pub struct TtlArg {
    /// Time to live of the lease on each server, e.g. 500ms, 10s, 2m (at most 5m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub ttl: Duration,
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub ttl: TtlArg,

    /// How long to wait for the resource if someone else holds it: a duration, 0 for a
    /// single attempt, or `forever`. Unreachable servers are given 3s at most.
    #[arg(long, value_name = "DURATION", default_value = "forever", value_parser = parse_wait)]
    pub wait: Duration,

    /// After the lease is lost and the command got SIGTERM, send SIGKILL if it is still
    /// running after this long.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub kill_after: Duration,

    /// The resource to lock: any non-empty name, e.g. `orders:42`.
    #[arg(value_parser = parse_resource)]
    pub resource: String,

    /// The command to run, and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Arguments of `acquire`.
#[derive(Debug, Args)]
pub struct AcquireArgs {
    #[command(flatten)]
    pub ttl: TtlArg,

    /// How long to wait for the resource if someone else holds it: a duration, 0 for a
    /// single attempt, or `forever`. Unreachable servers are given 3s at most.
    #[arg(long, value_name = "DURATION", default_value = "forever", value_parser = parse_wait)]
    pub wait: Duration,

    /// The resource to lock: any non-empty name, e.g. `orders:42`.
    #[arg(value_parser = parse_resource)]
    pub resource: String,
}

/// Arguments of `extend`.
#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The owner value printed by `acquire`.
    #[arg(long)]
    pub owner: String,

    #[command(flatten)]
    pub ttl: TtlArg,

    /// The resource of the lease.
    #[arg(value_parser = parse_resource)]
    pub resource: String,
}

/// Arguments of `release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The owner value printed by `acquire`.
    #[arg(long)]
    pub owner: String,

    /// The resource of the lease.
    #[arg(value_parser = parse_resource)]
    pub resource: String,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The resource to look at.
    #[arg(value_parser = parse_resource)]
    pub resource: String,
}

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Number of redis-servers to start (1 to 15).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=15))]
    pub nodes: u8,

    /// First port: the servers listen on 127.0.0.1:P, P+1, ... [default: free ports]
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u16).range(1..=65000))]
    pub port: Option<u16>,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of workers contending for the resource (1 to 64), each with its own
    /// connections.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,

    /// Number of critical sections to run in total (1 to 100000).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sections: u32,

    /// Number of redis-servers in the sandbox (1 to 15).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=15))]
    pub nodes: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn servers_go_before_or_after_the_subcommand() {
        let before = Cli::try_parse_from([
            "redlease",
            "--servers",
            "redis://a:1,redis://b:2",
            "status",
            "r",
        ]);
        let after = Cli::try_parse_from([
            "redlease",
            "status",
            "r",
            "--servers",
            "redis://a:1,redis://b:2",
        ]);
        for cli in [before, after] {
            let cli = cli.expect("parses");
            assert_eq!(cli.servers(), ["redis://a:1", "redis://b:2"]);
        }
    }

    #[test]
    fn blank_servers_mean_the_default() {
        let cli =
            Cli::try_parse_from(["redlease", "--servers", "", "status", "r"]).expect("parses");
        assert_eq!(cli.servers(), [DEFAULT_SERVERS]);
        let cli = Cli::try_parse_from([
            "redlease",
            "--servers",
            " redis://a:1, ,redis://b:2",
            "status",
            "r",
        ])
        .expect("parses");
        assert_eq!(cli.servers(), ["redis://a:1", "redis://b:2"]);
    }

    #[test]
    fn exec_takes_the_command_verbatim() {
        let cli = Cli::try_parse_from([
            "redlease",
            "exec",
            "--ttl",
            "2s",
            "r",
            "--",
            "sh",
            "-c",
            "echo --ttl",
        ])
        .expect("parses");
        let Command::Exec(args) = cli.command else {
            panic!("not exec");
        };
        assert_eq!(args.ttl.ttl, Duration::from_secs(2));
        assert_eq!(args.wait, Duration::MAX);
        assert_eq!(args.command, ["sh", "-c", "echo --ttl"]);
    }

    #[test]
    fn bad_input_is_refused() {
        for argv in [
            &["redlease", "exec", "--ttl", "soon", "r", "--", "true"][..],
            &["redlease", "exec", "", "--", "true"],
            &["redlease", "exec", "--bogus", "r", "--", "true"],
            &["redlease", "exec", "r"],
            &["redlease", "release", "r"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }
}
