//! Validation: every option checked at once, naming the field, the value and what is
//! allowed, and the configuration a manager runs with.

use std::time::Duration;

use super::{
    MAX_DRIFT_FACTOR, MAX_MAX_TTL, MAX_MIN_REPLICAS, MAX_NODE_TIMEOUT, Options, Renewal, Server,
    Tls, check_prefix, check_ttl, parse_servers, tls,
};
use crate::error::Error;
use crate::protocol::{self, RetryPolicy};

impl<F> super::Builder<F> {
    /// Check every option and return the validated configuration.
    pub(crate) fn validate(self) -> Result<Config, Error> {
        self.options.validate()
    }
}

impl Options {
    /// Check every option and return the validated configuration.
    pub(crate) fn validate(self) -> Result<Config, Error> {
        let servers = parse_servers(&self.servers)?;
        tls::install_crypto_provider();
        check_prefix(&self.key_prefix)?;
        if !(self.drift_factor.is_finite() && (0.0..=MAX_DRIFT_FACTOR).contains(&self.drift_factor))
        {
            return Err(Error::invalid(
                "drift_factor",
                self.drift_factor,
                "out of range",
                "a number from 0.0 to 0.5 (default 0.01)",
            ));
        }
        if self.max_ttl < Duration::from_millis(1) || self.max_ttl > MAX_MAX_TTL {
            return Err(Error::invalid(
                "max_ttl",
                self.max_ttl,
                "out of range",
                "1 ms to 1 day (default 5 min)",
            ));
        }
        check_ttl("ttl", self.ttl, self.max_ttl, self.drift_factor)?;
        let node_timeout = self
            .node_timeout
            .unwrap_or_else(|| default_node_timeout(self.ttl));
        // One slow node's answer must not be able to use up the whole lease.
        let drift = protocol::drift(self.ttl, self.drift_factor);
        if node_timeout.is_zero()
            || node_timeout.saturating_add(drift) >= self.ttl
            || node_timeout > MAX_NODE_TIMEOUT
        {
            return Err(Error::invalid(
                "node_timeout",
                node_timeout,
                format!(
                    "must be positive and, with the drift allowance ({drift:?}), shorter than the ttl ({:?})",
                    self.ttl
                ),
                "0 < node_timeout < ttl - drift allowance, at most 1 min; a few ms to a few % of the ttl is typical",
            ));
        }
        if self.retry.base.is_zero() || self.retry.max < self.retry.base {
            return Err(Error::invalid(
                "retry",
                self.retry,
                "base must be positive and max at least base",
                "base > 0 and max >= base (default base 10 ms, max 250 ms)",
            ));
        }
        if self.handoff > Duration::from_secs(1) || self.handoff >= self.ttl {
            return Err(Error::invalid(
                "handoff",
                self.handoff,
                "too long",
                "0 (off) up to 1 s, and below the ttl (default 50 ms)",
            ));
        }
        if self.wake_up_fallback < Duration::from_millis(1) {
            return Err(Error::invalid(
                "wake_up_fallback",
                self.wake_up_fallback,
                "too short",
                "1 ms or more (default 1 s)",
            ));
        }
        if self.min_replicas > MAX_MIN_REPLICAS {
            return Err(Error::invalid(
                "min_replicas",
                self.min_replicas,
                "too many",
                format!("0 (off) to {MAX_MIN_REPLICAS}"),
            ));
        }
        let tls = tls::load(self.tls_ca_cert.as_deref(), self.tls_client_cert.as_ref())?;
        let r = self.renewal;
        if !(r.fraction.is_finite() && r.fraction > 0.0 && r.fraction <= 0.75) {
            return Err(Error::invalid(
                "renewal.fraction",
                r.fraction,
                "out of range",
                "more than 0 and at most 0.75 (default 1/3)",
            ));
        }
        if r.max_hold.is_some_and(|h| h.is_zero()) {
            return Err(Error::invalid(
                "renewal.max_hold",
                r.max_hold,
                "must be positive",
                "None (no cap) or a positive duration",
            ));
        }
        Ok(Config {
            servers,
            ttl: self.ttl,
            wait: self.wait,
            retry: self.retry,
            drift_factor: self.drift_factor,
            node_timeout,
            key_prefix: self.key_prefix,
            max_ttl: self.max_ttl,
            fencing: self.fencing,
            token_at_acquire: self.token_at_acquire,
            renewal: self.renewal,
            wake_ups: self.wake_ups,
            handoff: self.handoff,
            wake_up_fallback: self.wake_up_fallback,
            delayed_restart: self.delayed_restart,
            min_replicas: self.min_replicas,
            tls,
        })
    }
}

/// The default per-node timeout for a ttl: 1 % of it, clamped to 10-250 ms.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(redlease::config::default_node_timeout(Duration::from_secs(30)), Duration::from_millis(250));
/// ```
pub fn default_node_timeout(ttl: Duration) -> Duration {
    (ttl / 100).clamp(Duration::from_millis(10), Duration::from_millis(250))
}

/// The shortest ttl (whole milliseconds) allowed with `node_timeout` (`None`: the
/// default for that ttl) and `drift_factor`: one node's answer time plus the drift
/// allowance must leave some validity.
///
/// ```
/// use std::time::Duration;
/// use redlease::config::min_ttl;
/// assert_eq!(min_ttl(None, 0.01), Duration::from_millis(13));
/// assert_eq!(min_ttl(Some(Duration::from_millis(100)), 0.01), Duration::from_millis(104));
/// ```
pub fn min_ttl(node_timeout: Option<Duration>, drift_factor: f64) -> Duration {
    let fits = |ttl: Duration| {
        let timeout = node_timeout.unwrap_or_else(|| default_node_timeout(ttl));
        timeout.saturating_add(protocol::drift(ttl, drift_factor)) < ttl
    };
    let mut ms = node_timeout.map_or(1, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    // Bounded: the drift factor is at most 0.5, so the answer is at most about twice
    // the node timeout (at most a minute) plus a few ms.
    while !fits(Duration::from_millis(ms)) && ms < 10 * MAX_NODE_TIMEOUT.as_millis() as u64 {
        ms += 1;
    }
    Duration::from_millis(ms)
}

/// The validated configuration a manager runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub servers: Vec<Server>,
    pub ttl: Duration,
    pub wait: Duration,
    pub retry: RetryPolicy,
    pub drift_factor: f64,
    pub node_timeout: Duration,
    pub key_prefix: String,
    pub max_ttl: Duration,
    pub fencing: bool,
    /// Several nodes: mint the token in the acquisition, not on demand.
    pub token_at_acquire: bool,
    pub renewal: Renewal,
    pub wake_ups: bool,
    pub handoff: Duration,
    pub wake_up_fallback: Duration,
    pub delayed_restart: bool,
    pub min_replicas: u32,
    pub tls: Option<Tls>,
}
