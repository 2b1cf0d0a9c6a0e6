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
mod list;
mod nodes;
mod release;
mod sandbox;
mod status;
pub mod supervisor;

pub use supervisor::PARENT_DEATH_SIGNAL;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

/// Run the command the user asked for.
pub async fn run(cli: &Cli) -> Result<u8, Failure> {
    match &cli.command {
        Command::Exec(args) => exec::run(args).await,
        Command::Acquire(args) => acquire::run(args).await,
        Command::Extend(args) => extend::run(args).await,
        Command::Release(args) => release::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::List(args) => list::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(&args.args),
        Command::Nodes(args) => nodes::run(args).await,
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "redlease", &mut out);
            crate::output::print_bytes(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Failure::output(&e))?;
            crate::output::print_bytes(&out)
        }
    }
}
