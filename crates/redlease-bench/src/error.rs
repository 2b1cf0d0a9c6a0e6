//! The one error type of the runner.
//!
//! A benchmark fails for few reasons (bad options, servers that cannot be started or
//! reached, a file that cannot be written); each gets a variant so that the binaries can
//! print one clear line and exit non-zero instead of panicking.

use std::io;

/// Why a benchmark run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An option is out of range.
    #[error("invalid option {option}: {problem}")]
    Invalid {
        /// The option's name, as on the command line.
        option: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// The local redis-servers could not be started.
    #[error("could not start local redis-servers (is redis-server installed?): {0}")]
    Cluster(#[source] io::Error),
    /// redlease refused the configuration or failed outside of a measured operation.
    #[error("redlease: {0}")]
    Redlease(#[from] redlease::Error),
    /// A raw Redis call failed while setting up.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Preparing the servers for a run failed (e.g. marking redlease's markers ready).
    #[error("setting up the run: {0}")]
    Setup(String),
    /// Something that cannot happen with valid options (a histogram refused its bounds,
    /// a worker task panicked).
    #[error("internal: {0}")]
    Internal(String),
}

impl BenchError {
    pub(crate) fn invalid(option: &'static str, problem: impl Into<String>) -> Self {
        BenchError::Invalid {
            option,
            problem: problem.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        BenchError::Io {
            context: context.into(),
            source,
        }
    }
}
