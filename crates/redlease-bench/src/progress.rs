//! A progress bar that stays out of the measurements.
//!
//! Workers only bump an atomic counter; a separate task copies it to the indicatif bar ten
//! times a second, so drawing never sits on a measured path. The bar is hidden when
//! stderr is not a terminal (CI, pipes, `--json > file`) or when progress is turned off.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub(crate) struct Progress {
    bar: ProgressBar,
    done: Arc<AtomicU64>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// A bar over `total` operations; hidden unless `enabled` and stderr is a terminal.
    pub(crate) fn new(enabled: bool, total: u64) -> Self {
        let bar = if enabled && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ops  {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let done = Arc::new(AtomicU64::new(0));
        let ticker = (!bar.is_hidden()).then(|| {
            let bar = bar.clone();
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    bar.set_position(done.load(Ordering::Relaxed));
                }
            })
        });
        Progress { bar, done, ticker }
    }

    /// The counter workers increment.
    pub(crate) fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.done)
    }

    /// What is running now.
    pub(crate) fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}
