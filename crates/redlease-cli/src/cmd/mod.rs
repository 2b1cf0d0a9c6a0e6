//! One module per subcommand, and the dispatch from the parsed command line.
//!
//! Each command is an async function from its arguments to an exit code (or a
//! [`Failure`]); printing the failure and exiting is left to `main`, so the commands
//! stay testable and never call `process::exit` themselves.

mod acquire;
mod bench;
mod demo;
mod exec;
mod extend;
mod nodes;
mod release;
mod sandbox;
mod status;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

/// Run the command the user asked for.
pub async fn run(cli: &Cli) -> Result<u8, Failure> {
    match &cli.command {
        Command::Exec(args) => exec::run(cli, args).await,
        Command::Acquire(args) => acquire::run(cli, args).await,
        Command::Extend(args) => extend::run(cli, args).await,
        Command::Release(args) => release::run(cli, args).await,
        Command::Status(args) => status::run(cli, args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(cli, &args.args),
        Command::Nodes(args) => nodes::run(cli, args).await,
    }
}
