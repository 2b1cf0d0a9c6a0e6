//! The command line, as clap derive types.
//!
//! Everything the user can type is declared here, and the doc comments are the `--help`
//! text (and the man page, and the completions), so they cannot drift apart. Every option
//! can also come from a `REDLEASE_*` environment variable, shown in `--help`. The options
//! to reach the servers are flattened into the commands that talk to servers (under their
//! own heading), so `sandbox` and `demo` accept only what they use.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::args::{parse_duration, parse_resource, parse_wait};

/// Heading of the options that say how to reach the servers.
const CONNECTION: &str = "Connection options";

/// Distributed locks (leases) on Redis, with fencing tokens: a flock for shells, cron and CI.
///
/// One server is a single-instance lock; several independent servers make a Redlock
/// whose quorum is N/2 + 1. Every lease carries a fencing token that grows with each
/// acquisition of a resource.
#[derive(Debug, Parser)]
#[command(
    name = "redlease",
    version,
    propagate_version = true,
    after_long_help = crate::exit::HELP,
    after_help = "Exit codes: see --help, or `redlease man`."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the servers: for every command that talks to them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = CONNECTION)]
pub struct Connection {
    /// Redis servers, comma-separated, each one lock node: redis://[user@]host[:port][/db],
    /// rediss://... (TLS), unix:///path/to/socket, redis+sentinel://host:port[,host:port...]/SERVICE
    /// (the primary Sentinel names, followed across failovers; sentinels that require a
    /// password: ...?sentinel_password=P) or
    /// redis+cluster://host:port[,host:port...] (a Redis Cluster). [default: redis://127.0.0.1:6379]
    #[arg(
        long,
        env = "REDLEASE_SERVERS",
        value_delimiter = ',',
        value_name = "URL[,URL...]"
    )]
    pub servers: Option<Vec<String>>,

    /// How long to wait for one server's answer before counting it as down, e.g. 50ms.
    /// [default: 1% of the ttl, between 10ms and 250ms]
    #[arg(long, env = "REDLEASE_NODE_TIMEOUT", value_name = "DURATION",
          value_parser = parse_duration, allow_hyphen_values = true)]
    pub node_timeout: Option<Duration>,

    /// Read the servers' password from this file (first line). Used for every server
    /// URL without a password of its own; keeps the password out of `ps` and the shell
    /// history. The password can also come from REDLEASE_PASSWORD.
    #[arg(long, env = "REDLEASE_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// A grant or extend counts on a server only once this many of its replicas confirmed
    /// it (Redis WAIT, within --node-timeout); otherwise it is released there and counts
    /// as a failed vote. For a primary with replicas behind Sentinel: a lease then
    /// survives a failover. [default: 0]
    #[arg(long, env = "REDLEASE_MIN_REPLICAS", value_name = "N")]
    pub min_replicas: Option<u32>,

    /// Trust this CA certificate (PEM) for rediss:// servers, e.g. a private CA.
    #[arg(long, env = "REDLEASE_TLS_CA_CERT", value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,

    /// Client certificate (PEM) for rediss:// servers that require one (with --tls-key).
    #[arg(
        long,
        env = "REDLEASE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The client certificate's private key (PEM), with --tls-cert.
    #[arg(
        long,
        env = "REDLEASE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
}

/// Output format, for the commands whose output is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, for scripts.
    Json,
    /// `key: value` lines, for people.
    Human,
}

/// The output format option.
#[derive(Debug, Clone, Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, env = "REDLEASE_FORMAT", value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command while holding a lease; renew it meanwhile, release it afterwards.
    ///
    /// The command gets REDLEASE_FENCING_TOKEN, REDLEASE_RESOURCE and REDLEASE_OWNER in
    /// its environment and runs in its own process group, under a small supervisor
    /// process (redlease's own binary): if redlease dies, even by SIGKILL, the whole group
    /// is killed, the command's own children included. SIGHUP, SIGINT, SIGQUIT and SIGTERM sent to redlease are
    /// forwarded to its group; the lease is released once it has exited. Ctrl-Z (SIGTSTP)
    /// stops it and redlease; on SIGCONT the lease is checked first. If renewal fails,
    /// redlease warns; if the lease comes within --kill-after (plus a margin) of its end
    /// without a renewal, the group gets SIGTERM, then SIGKILL while the lease is still
    /// valid, and redlease exits with --lost-exit-code. Otherwise it exits with the
    /// command's status. On a terminal the command gets the foreground.
    ///
    /// Example: redlease exec nightly-report -- ./make-report.sh
    #[command(
        override_usage = "redlease exec [OPTIONS] <RESOURCE> -- <CMD>...\n       \
                                redlease exec [OPTIONS] <RESOURCE> -c <STRING>"
    )]
    Exec(ExecArgs),
    /// Acquire a lease and print it; it stays held until its ttl runs out.
    ///
    /// Prints {"resource":..,"owner":..,"fencing_token":N,"validity_ms":N}. Keep the
    /// owner: `extend` and `release` need it. The lease is not renewed. If the line
    /// cannot be written, the lease is released and redlease exits 74. The holder shown
    /// by `list` and `status` is the process that ran `redlease acquire` (redlease's
    /// parent, e.g. your script: its pid and command line), with this host and the ttl.
    Acquire(AcquireArgs),
    /// Extend a lease acquired earlier so that it lasts --ttl from now.
    ///
    /// Without --ttl the lease keeps its own ttl, the one it was acquired with (recorded
    /// with the lease by `acquire` and `exec`); a lease without that record needs --ttl.
    /// Prints the same line as `acquire`, with the new validity. Exits 1 if OWNER no
    /// longer holds the lease.
    Extend(ExtendArgs),
    /// Release a lease acquired earlier.
    ///
    /// Prints {"resource":..,"owner":..,"released":true}. Exits 1 if OWNER did not hold
    /// the lease (it expired, was released already, or the owner is wrong).
    Release(ReleaseArgs),
    /// List the leases held now, and who holds them (like lslocks).
    ///
    /// One JSON object per held lease: {"resource":..,"owner":..,"remaining_ms":N,
    /// "fencing_token":N,"holder":{"host":..,"pid":N,"command":..}}; `holder` is null
    /// when the holder did not describe itself. `exec` records its own pid and the
    /// command it runs; `acquire` records the process that ran it. The servers are
    /// scanned with SCAN (never KEYS), at most --limit leases. Exits 69 (77 when a
    /// server refused our credentials) when fewer than a quorum of servers answered.
    ///
    /// Example: redlease list 'deploy:*' --format human
    List(ListArgs),
    /// Show who holds a resource, according to each server.
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
    /// The summary checks that no update was lost, that no two holders were inside at
    /// once and that fencing tokens grew in the order the critical sections ran, and gives
    /// acquire latency percentiles. Exits 0 when every check passed, 1 otherwise. Needs
    /// redis-server installed.
    Demo(DemoArgs),
    /// Benchmark redlease against the raw redis-rs floor: runs the separate
    /// `redlease-bench` program with these arguments.
    ///
    /// The benchmark runner is not part of this command: `redlease bench ARGS...` runs
    /// `redlease-bench ARGS...` (found next to redlease, or on PATH) and exits with its
    /// status; REDLEASE_* variables are passed on. Get it with
    /// `cargo install --path crates/redlease-bench`. `redlease bench --help` shows its
    /// options.
    ///
    /// Example: redlease bench --scenario contended --nodes 1,5 --ops 2000
    #[command(disable_help_flag = true)]
    Bench(BenchArgs),
    /// Show or set the servers' delayed-restart markers.
    ///
    /// A server that comes back without its data (restart without persistence, FLUSHALL)
    /// does not count as a grant until --max-ttl has passed, while the other servers show
    /// the deployment has been in use for longer. Without options this shows each
    /// server's marker age. --ready back-dates the markers so that every server counts at
    /// once (when you know the servers kept their data or were down for longer than the
    /// max ttl); --reset deletes them, for a deployment started afresh with no lease
    /// outstanding. Exits 69 (after printing) when fewer than a quorum of servers answered.
    Nodes(NodesArgs),
    /// Print shell completions for bash, zsh or fish on stdout.
    ///
    /// Example: redlease completions bash > /etc/bash_completion.d/redlease
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout.
    ///
    /// Example: redlease man > /usr/local/share/man/man1/redlease.1
    Man,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    #[arg(long, env = "REDLEASE_MAX_TTL", value_name = "DURATION", default_value = "5m",
          value_parser = parse_duration, allow_hyphen_values = true)]
    pub max_ttl: Duration,
    #[command(flatten)]
    pub format: FormatArg,
    #[command(flatten)]
    pub connection: Connection,
}

/// Lease time option shared by the commands that acquire or extend.
#[derive(Debug, Args)]
pub struct TtlArg {
    /// Time to live of the lease on each server, e.g. 500ms, 10s, 2m (at most 5m).
    #[arg(long, env = "REDLEASE_TTL", value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration, allow_hyphen_values = true)]
    pub ttl: Duration,
}

/// How long to wait for a busy resource, as flock has it.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// How long to wait for the resource if someone else holds it: a duration, 0 for a
    /// single attempt, or `forever`. Unreachable servers are given 3s at most.
    #[arg(short = 'w', long, env = "REDLEASE_WAIT", value_name = "DURATION",
          default_value = "forever", value_parser = parse_wait, allow_hyphen_values = true)]
    pub wait: Duration,

    /// Do not wait: fail at once if the resource is held (same as --wait 0).
    #[arg(short = 'n', long, conflicts_with = "wait")]
    pub nonblock: bool,

    /// Exit code when the resource is held by someone else and the wait ran out.
    #[arg(short = 'E', long, env = "REDLEASE_CONFLICT_EXIT_CODE", value_name = "N",
          default_value_t = crate::exit::BUSY)]
    pub conflict_exit_code: u8,
}

impl WaitArgs {
    /// The wait budget (`--nonblock` is a wait of 0).
    pub fn budget(&self) -> Duration {
        if self.nonblock {
            Duration::ZERO
        } else {
            self.wait
        }
    }
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub ttl: TtlArg,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// When the lease is at risk (not renewed in time), the command's group gets SIGTERM
    /// this long (plus a margin) before the lease ends, and SIGKILL if it is still running
    /// after it, so that it never runs without the lease. Must fit in half the ttl.
    /// [default: a quarter of the ttl]
    #[arg(long, env = "REDLEASE_KILL_AFTER", value_name = "DURATION",
          value_parser = parse_duration, allow_hyphen_values = true)]
    pub kill_after: Option<Duration>,

    /// Exit code when the lease was lost (or at risk) and the command was stopped.
    #[arg(long, env = "REDLEASE_LOST_EXIT_CODE", value_name = "N",
          default_value_t = crate::exit::LOST)]
    pub lost_exit_code: u8,

    /// Run STRING with `sh -c` instead of CMD (as flock -c does).
    #[arg(
        short = 'c',
        long = "command",
        value_name = "STRING",
        conflicts_with = "argv"
    )]
    pub shell: Option<OsString>,

    /// Say what happens on stderr: acquired (with the token), renewals at risk, released.
    #[arg(short = 'v', long, env = "REDLEASE_VERBOSE", conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print nothing but errors (no warnings).
    #[arg(short = 'q', long, env = "REDLEASE_QUIET")]
    pub quiet: bool,

    /// The resource to lock: any non-empty name, e.g. `orders:42`.
    #[arg(value_parser = parse_resource)]
    pub resource: String,

    /// The command to run, and its arguments (after `--`).
    #[arg(
        required_unless_present = "shell",
        trailing_var_arg = true,
        value_name = "CMD"
    )]
    pub argv: Vec<OsString>,

    #[command(flatten)]
    pub connection: Connection,
}

impl ExecArgs {
    /// The program and its arguments: CMD..., or `sh -c STRING`.
    pub fn program(&self) -> Vec<OsString> {
        match &self.shell {
            Some(line) => vec!["sh".into(), "-c".into(), line.clone()],
            None => self.argv.clone(),
        }
    }
}

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Number of redis-servers to start (1 to 15).
    #[arg(long, env = "REDLEASE_SANDBOX_NODES", default_value_t = 5,
          value_parser = clap::value_parser!(u8).range(1..=15))]
    pub nodes: u8,

    /// First port: the servers listen on 127.0.0.1:P, P+1, ... [default: free ports]
    #[arg(long, env = "REDLEASE_SANDBOX_PORT", value_name = "P",
          value_parser = clap::value_parser!(u16).range(1..=65000))]
    pub port: Option<u16>,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of workers contending for the resource (1 to 64), each with its own
    /// connections.
    #[arg(long, env = "REDLEASE_DEMO_WORKERS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,

    /// Number of critical sections to run in total (1 to 100000).
    #[arg(long, env = "REDLEASE_DEMO_SECTIONS", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sections: u32,

    /// Number of redis-servers in the sandbox (1 to 15).
    #[arg(long, env = "REDLEASE_DEMO_NODES", default_value_t = 5,
          value_parser = clap::value_parser!(u8).range(1..=15), conflicts_with = "servers")]
    pub nodes: u8,

    /// Run against these servers instead of a sandbox, comma-separated, any node kind
    /// (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://). The demo
    /// only touches keys of the resource "redlease-demo" under the default prefix.
    #[arg(
        long,
        env = "REDLEASE_DEMO_SERVERS",
        value_delimiter = ',',
        value_name = "URL[,URL...]"
    )]
    pub servers: Option<Vec<String>>,
}

mod operations;

pub use operations::{AcquireArgs, ExtendArgs, ListArgs, ReleaseArgs, StatusArgs};

#[cfg(test)]
mod tests;
