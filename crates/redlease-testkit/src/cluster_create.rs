//! Forming a Redis Cluster out of freshly started cluster-mode servers.
//!
//! `redis-cli --cluster create` is the standard way, and the kit uses it
//! whenever it can; but it refuses fewer than 3 primaries, and a cluster of
//! one shard (with or without replicas) is exactly what "Redlock over
//! several single-shard clusters" needs. For 1 or 2 primaries the kit does
//! by hand what redis-cli does: give each primary a contiguous slot range
//! and its own config epoch, introduce every node to the first one
//! (`CLUSTER MEET`, with the bus port, which is not the default port+10000
//! here), and once everyone knows everyone make the replicas follow their
//! primary (`CLUSTER REPLICATE`). Either way, primaries are nodes
//! `0..primaries` by start order only for the hand-made cluster; redis-cli
//! picks its own, so callers ask the cluster who is what.

use std::io;
use std::time::Duration;

use crate::cluster::requirepass;
use crate::cluster_nodes;
use crate::group::Group;
use crate::node::Node;
use crate::redis_cluster::{REDIS_CLI_ENV, RedisClusterOptions};
use crate::tool::{self, Tool};
use crate::wait;

/// Number of hash slots of a Redis Cluster.
pub(crate) const SLOTS: u32 = 16384;

/// Forms the cluster: with redis-cli for 3 or more primaries, by hand
/// otherwise.
pub(crate) fn create(group: &Group, options: &RedisClusterOptions) -> io::Result<()> {
    if options.primaries >= 3 {
        with_redis_cli(group, options)
    } else {
        by_hand(group, options)
    }
}

fn with_redis_cli(group: &Group, options: &RedisClusterOptions) -> io::Result<()> {
    let program = tool::program(options.redis_cli.as_deref(), REDIS_CLI_ENV, "redis-cli");
    let mut args = Vec::new();
    if let Some(password) = requirepass(&options.extra_args) {
        args.extend(["-a".into(), password, "--no-auth-warning".into()]);
    }
    args.extend(["--cluster".into(), "create".into()]);
    args.extend(
        group
            .nodes
            .iter()
            .filter_map(Node::port)
            .map(|port| format!("127.0.0.1:{port}")),
    );
    args.extend([
        "--cluster-replicas".into(),
        options.replicas_per_primary.to_string(),
        "--cluster-yes".into(),
    ]);
    let tool = Tool {
        program: &program,
        install_hint: "install it with `apt-get install -y redis-tools` (or set REDLEASE_REDIS_CLI)",
    };
    let log = group.dir.join("cluster-create.log");
    tool.run(&args, &group.dir, &log, options.ready_timeout)
        .map(|_| ())
}

fn by_hand(group: &Group, options: &RedisClusterOptions) -> io::Result<()> {
    let primaries = options.primaries;
    let expect_ok = |node: &Node, args: &[&str]| -> io::Result<()> {
        let reply = node.command(args)?;
        if reply == "OK" {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{}: {} replied {reply}",
                node.url(),
                args.join(" ")
            )))
        }
    };
    for (i, node) in group.nodes.iter().take(primaries).enumerate() {
        let (lo, hi) = slot_range(i, primaries);
        expect_ok(
            node,
            &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
        )?;
        expect_ok(node, &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?;
    }
    let first = &group.nodes[0];
    let (port, bus) = (first.port(), group.extra_port(0));
    let (Some(port), Some(bus)) = (port, bus) else {
        return Err(io::Error::other("the first cluster node has no port"));
    };
    for node in &group.nodes[1..] {
        expect_ok(
            node,
            &[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &port.to_string(),
                &bus.to_string(),
            ],
        )?;
    }
    let total = group.nodes.len();
    wait::until(
        options.ready_timeout,
        "every cluster node to know every other",
        || {
            for node in &group.nodes {
                let text = node
                    .command(&["CLUSTER", "NODES"])
                    .map_err(|e| e.to_string())?;
                let view = cluster_nodes::parse(&text)?;
                let known = view.iter().filter(|e| !e.is_unhealthy()).count();
                if known != total {
                    return Err(format!("{} knows {known} of {total} nodes", node.url()));
                }
            }
            Ok(())
        },
    )?;
    let replicas = &group.nodes[primaries..];
    for (i, replica) in replicas.iter().enumerate() {
        let primary = &group.nodes[i / options.replicas_per_primary.max(1)];
        let id = primary.command(&["CLUSTER", "MYID"])?;
        // A replica only accepts a primary it already knows as one: retry
        // while gossip about the new slots is still on its way.
        wait::until(
            Duration::from_secs(10).min(options.ready_timeout),
            "CLUSTER REPLICATE to be accepted",
            || expect_ok(replica, &["CLUSTER", "REPLICATE", &id]).map_err(|e| e.to_string()),
        )?;
    }
    Ok(())
}

/// The slots of primary `index` of `primaries`: contiguous, even ranges.
fn slot_range(index: usize, primaries: usize) -> (u32, u32) {
    let per = SLOTS / primaries as u32;
    let lo = per * index as u32;
    let hi = if index + 1 == primaries {
        SLOTS - 1
    } else {
        lo + per - 1
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_ranges_cover_everything_once() {
        assert_eq!(slot_range(0, 1), (0, 16383));
        assert_eq!(slot_range(0, 2), (0, 8191));
        assert_eq!(slot_range(1, 2), (8192, 16383));
    }
}
