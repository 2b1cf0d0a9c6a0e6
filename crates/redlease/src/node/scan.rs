//! Finding keys on a node by SCAN, for operators (`list`), never on the lock's path.
//!
//! SCAN, never KEYS: KEYS blocks a server for as long as it walks the whole keyspace.
//! SCAN walks one server's keyspace, so on a Redis Cluster node each shard's primary is
//! scanned in turn (the primaries from `CLUSTER SLOTS`, each SCAN routed to its address):
//! a SCAN sent through the cluster client would go to one shard and silently miss the
//! keys of every other. The bound is the same as for one server: at most `limit` keys in
//! all, and each call within the node timeout.
//!
//! A shard or server that cannot be scanned does not hide what the others hold: the
//! keys found are returned beside the failure, which names the shard.

use redis::Value;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::link::{Conn, Refusal};
use super::verdict::refusal;
use super::{Node, NodeError};

/// Keys found on one node, and what could not be scanned there.
pub(crate) struct Scanned {
    pub keys: Vec<String>,
    pub failure: Option<NodeError>,
}

/// SCAN's batch size hint.
const BATCH: usize = 512;

impl Node {
    /// Keys matching `pattern`, at most `limit` of them, from every server of this node.
    pub(crate) async fn scan(&self, pattern: &str, limit: usize) -> Scanned {
        let connected = tokio::time::timeout(self.timeout, self.connection()).await;
        let mut conn = match connected {
            Ok(Ok((conn, _))) => conn,
            Ok(Err((Refusal::Redis(e), _))) => {
                // Credentials refused is not "unreachable": say which (the CLI exits 77).
                let error = refusal(&e).unwrap_or_else(|| NodeError::Connection(e.to_string()));
                return failed(error);
            }
            Ok(Err((Refusal::Unusable(why), _))) => return failed(NodeError::Connection(why)),
            Err(_) => return failed(NodeError::Timeout(self.timeout)),
        };
        let mut keys = Vec::new();
        if matches!(conn, Conn::Direct(_)) {
            let failure = self
                .scan_one(&mut conn, None, pattern, limit, &mut keys)
                .await
                .err();
            return Scanned { keys, failure };
        }
        // Asked of a random primary: a shard that is down should not hide the others,
        // so a failed ask is tried on another (three tries, within one node timeout).
        let slots = redis::cmd("CLUSTER").arg("SLOTS").clone();
        let ask = async {
            let mut last = None;
            for _ in 0..3 {
                match conn.node_command(slots.clone()).await {
                    Ok(value) => return Ok(value),
                    Err(e) => last = Some(e),
                }
            }
            Err(last)
        };
        let primaries = match tokio::time::timeout(self.timeout, ask).await {
            Ok(Ok(value)) => primaries(&value, self.link.seed_host()),
            Ok(Err(e)) => {
                let why = e.map(|e| e.to_string()).unwrap_or_default();
                return failed(NodeError::Redis(format!("CLUSTER SLOTS: {why}")));
            }
            Err(_) => return failed(NodeError::Timeout(self.timeout)),
        };
        if primaries.is_empty() {
            return failed(NodeError::Protocol(
                "CLUSTER SLOTS named no primary: no shard could be scanned".into(),
            ));
        }
        let mut missed = Vec::new();
        for (host, port) in primaries {
            if keys.len() >= limit {
                break;
            }
            let at = SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port,
            };
            if let Err(e) = self
                .scan_one(&mut conn, Some(at), pattern, limit, &mut keys)
                .await
            {
                missed.push(format!("shard {host}:{port} ({e})"));
            }
        }
        let failure = (!missed.is_empty())
            .then(|| NodeError::Connection(format!("could not scan {}", missed.join("; "))));
        Scanned { keys, failure }
    }

    /// SCAN one server (`at`, on a cluster) until done or `keys` holds `limit`.
    async fn scan_one(
        &self,
        conn: &mut Conn,
        at: Option<SingleNodeRoutingInfo>,
        pattern: &str,
        limit: usize,
        keys: &mut Vec<String>,
    ) -> Result<(), NodeError> {
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(BATCH);
            let call = async {
                let value = match (&mut *conn, &at) {
                    (Conn::Cluster(cluster), Some(at)) => {
                        cluster
                            .route_command(scan, RoutingInfo::SingleNode(at.clone()))
                            .await?
                    }
                    (conn, _) => scan.query_async::<Value>(conn).await?,
                };
                redis::from_redis_value::<(u64, Vec<String>)>(value)
                    .map_err(redis::RedisError::from)
            };
            let (next, batch) = tokio::time::timeout(self.timeout, call)
                .await
                .map_err(|_| NodeError::Timeout(self.timeout))?
                .map_err(|e| unreachable_or_redis(&e))?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= limit {
                keys.truncate(limit);
                return Ok(());
            }
        }
    }
}

/// Credentials or permissions refused read as such; a server the client has no
/// connection to (it is down) as unreachable, not as the client library's error name.
fn unreachable_or_redis(e: &redis::RedisError) -> NodeError {
    if let Some(refused) = refusal(e) {
        refused
    } else if e.kind() == redis::ErrorKind::ClusterConnectionNotFound
        || e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
    {
        NodeError::Connection("not reachable (down, or no route to it)".into())
    } else {
        NodeError::Redis(e.to_string())
    }
}

fn failed(error: NodeError) -> Scanned {
    Scanned {
        keys: Vec::new(),
        failure: Some(error),
    }
}

/// The primaries' addresses in a `CLUSTER SLOTS` reply (each slot range: start, end,
/// primary `[host, port, id, …]`, replicas…), each once. A server that does not know
/// its own address (a cluster of one shard, never introduced to a peer) names itself
/// `""`: it is the one the client reached through `seed_host`.
fn primaries(reply: &Value, seed_host: &str) -> Vec<(String, u16)> {
    let mut found: Vec<(String, u16)> = Vec::new();
    let Value::Array(ranges) = reply else {
        return found;
    };
    for range in ranges {
        let Value::Array(fields) = range else {
            continue;
        };
        let Some(Value::Array(primary)) = fields.get(2) else {
            continue;
        };
        let host = primary
            .first()
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .map(|host| {
                if host.is_empty() {
                    seed_host.to_owned()
                } else {
                    host
                }
            });
        let port = primary
            .get(1)
            .and_then(|v| redis::from_redis_value_ref::<u16>(v).ok());
        if let (Some(host), Some(port)) = (host, port)
            && !found.contains(&(host.clone(), port))
        {
            found.push((host, port));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::primaries;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn each_primary_once_replicas_ignored() {
        let range = |start, end, port, replica| {
            Value::Array(vec![
                Value::Int(start),
                Value::Int(end),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(port), bulk("id")]),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(replica), bulk("id2")]),
            ])
        };
        let reply = Value::Array(vec![
            range(0, 100, 7000, 7003),
            range(101, 200, 7001, 7004),
            range(201, 300, 7000, 7003),
        ]);
        assert_eq!(
            primaries(&reply, "seed"),
            vec![
                ("127.0.0.1".to_owned(), 7000),
                ("127.0.0.1".to_owned(), 7001)
            ]
        );
        assert!(primaries(&Value::Nil, "seed").is_empty());
        let alone = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(16383),
            Value::Array(vec![bulk(""), Value::Int(7000), bulk("id")]),
        ])]);
        assert_eq!(primaries(&alone, "seed"), vec![("seed".to_owned(), 7000)]);
    }
}
