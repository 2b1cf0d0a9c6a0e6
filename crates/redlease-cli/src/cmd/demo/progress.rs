//! The demo's live display: a progress bar on a terminal, plain lines otherwise.
//!
//! A bar redrawn in place is unreadable in a CI log or a pipe, so when stdout is not a
//! terminal the same information comes as one line per second instead.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinSet;

use super::worker::Board;
use crate::cli::DemoArgs;

/// How often the bar is refreshed.
const TICK: Duration = Duration::from_millis(100);
/// How often a plain line is printed.
const LINE_EVERY: Duration = Duration::from_secs(1);

/// Where progress goes.
pub enum Display {
    /// A terminal: a bar redrawn in place.
    Bar(ProgressBar),
    /// A pipe or file: periodic lines.
    Lines { last: Instant },
}

impl Display {
    /// Choose the display for stdout, and announce the run.
    pub fn new(board: &Board, args: &DemoArgs, nodes: usize) -> Self {
        let intro = format!(
            "redlease demo: {} workers, {} critical sections, {nodes} redis-servers (quorum {})",
            args.workers,
            args.sections,
            redlease::protocol::quorum(nodes)
        );
        // A closed stdout only loses the display; the summary reports the failure.
        let _ = crate::output::print_line(&intro);
        if !std::io::stdout().is_terminal() {
            return Display::Lines {
                last: Instant::now(),
            };
        }
        let bar = ProgressBar::with_draw_target(
            Some(u64::from(board.sections)),
            ProgressDrawTarget::stdout(),
        );
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:40.cyan/blue}] {pos}/{len} sections  {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Display::Bar(bar)
    }

    /// Refresh until every worker has finished.
    pub async fn follow(&mut self, board: &Board, workers: &mut JoinSet<()>) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                joined = workers.join_next() => {
                    if joined.is_none() {
                        self.update(board, true);
                        return;
                    }
                }
                _ = tick.tick() => self.update(board, false),
            }
        }
    }

    fn update(&mut self, board: &Board, last: bool) {
        let done = board.counter.completed();
        let per_worker: Vec<String> = board
            .per_worker
            .iter()
            .map(|n| n.load(Ordering::Relaxed).to_string())
            .collect();
        let token = board
            .counter
            .last_token()
            .map_or_else(|| "-".to_owned(), |t| t.to_string());
        match self {
            Display::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(format!(
                    "fencing token {token}  per worker [{}]",
                    per_worker.join(" ")
                ));
            }
            Display::Lines { last: printed } => {
                if last || printed.elapsed() >= LINE_EVERY {
                    *printed = Instant::now();
                    let _ = crate::output::print_line(&format!(
                        "  {done}/{} sections, fencing token {token}, per worker [{}]",
                        board.sections,
                        per_worker.join(" ")
                    ));
                }
            }
        }
    }

    /// Remove the bar before the summary is printed.
    pub fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
