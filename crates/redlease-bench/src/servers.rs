//! The servers a run locks on: started here for the run, or given and vetted.
//!
//! The bench sends bursts of traffic, so servers it did not start must be loopback
//! ones (every host a URL reaches: a cluster's seeds, a Sentinel service's sentinels),
//! and the keys it wrote there are removed afterwards. Servers it started (independent
//! redis-servers, or a Redis Cluster of N shards as one node) are stopped with the run,
//! and their processes are what the redis CPU time is measured on.

use crate::error::BenchError;
use crate::options::Deployment;

/// Servers the bench started, stopped when dropped.
pub(crate) enum Local {
    Servers(redlease_testkit::Cluster),
    Cluster(redlease_testkit::RedisCluster),
}

impl Local {
    pub(crate) fn urls(&self) -> Vec<String> {
        match self {
            Local::Servers(c) => c.urls(),
            Local::Cluster(c) => vec![c.cluster_url()],
        }
    }

    /// Every server process, for the redis CPU time.
    pub(crate) fn pids(&self) -> Vec<u32> {
        let nodes = match self {
            Local::Servers(c) => c.nodes(),
            Local::Cluster(c) => c.nodes(),
        };
        nodes.iter().filter_map(|n| n.pid()).collect()
    }
}

pub(crate) async fn start(deployment: &Deployment) -> Result<Option<Local>, BenchError> {
    let deployment = deployment.clone();
    tokio::task::spawn_blocking(move || match deployment {
        Deployment::Given => Ok(None),
        Deployment::Local(k) => {
            redlease_testkit::Cluster::start(k).map(|c| Some(Local::Servers(c)))
        }
        Deployment::Shards(s) => {
            redlease_testkit::RedisCluster::start(s, 0).map(|c| Some(Local::Cluster(c)))
        }
    })
    .await
    .map_err(|e| BenchError::Internal(format!("starting redis-servers: {e}")))?
    .map_err(BenchError::Cluster)
}

/// Only loopback (or unix-socket) servers: this bench sends bursts of traffic and must
/// never be pointed at a shared server by accident.
pub fn check_loopback(servers: &[String]) -> Result<(), BenchError> {
    for server in servers {
        let targets = redlease::config::server_targets(server)
            .map_err(|e| BenchError::invalid("servers", e.to_string()))?;
        // A cluster's seeds and a Sentinel service's sentinels are checked; the servers
        // they lead to are theirs (a local cluster or Sentinel names local servers).
        let ok = targets.hosts.iter().all(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        if !ok {
            return Err(BenchError::invalid(
                "servers",
                "only loopback servers (127.0.0.0/8, ::1, localhost, unix sockets) may be benchmarked",
            ));
        }
    }
    Ok(())
}

/// Delete the keys matching `pattern` (this run's prefix) from servers the bench did not
/// start (SCAN + DEL, bounded).
pub(crate) async fn cleanup(urls: &[String], pattern: &str) -> Result<(), BenchError> {
    for url in urls {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let mut cursor: u64 = 0;
        for _ in 0..100_000 {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1_000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers() {
        assert!(check_loopback(&["redis://127.0.0.1:6379".into()]).is_ok());
        assert!(check_loopback(&["redis://localhost".into()]).is_ok());
        assert!(check_loopback(&["redis://[::1]:7000".into()]).is_ok());
        assert!(check_loopback(&["unix:///tmp/r.sock".into()]).is_ok());
        assert!(check_loopback(&["redis://10.0.0.1:6379".into()]).is_err());
        assert!(check_loopback(&["redis://example.com".into()]).is_err());
        assert!(check_loopback(&["nonsense".into()]).is_err());
        let cluster = "redis+cluster://127.0.0.1:7000,localhost:7001";
        assert!(check_loopback(&[cluster.into()]).is_ok());
        let sentinel = "redis+sentinel://127.0.0.1:26379,127.0.0.2:26379/svc";
        assert!(check_loopback(&[sentinel.into()]).is_ok());
        let hidden = "redis+cluster://127.0.0.1:7000,10.0.0.1:7000";
        assert!(check_loopback(&[hidden.into()]).is_err());
    }
}
