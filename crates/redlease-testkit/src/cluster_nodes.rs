//! Reading `CLUSTER NODES`: who serves which slots, and who is a replica of
//! whom, as one node sees it.
//!
//! Every question the kit asks a Redis Cluster (is it fully formed, which
//! primary owns a key, has a replica taken over) is answered from this
//! text, one line per node:
//! `<id> <ip:port@bus[,hostname]> <flags> <primary-id|-> <ping> <pong> <epoch> <link> <slots>...`.

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) port: u16,
    pub(crate) flags: Vec<String>,
    /// The id of the primary this node replicates, for replicas.
    pub(crate) primary_id: Option<String>,
    pub(crate) connected: bool,
    /// Inclusive slot ranges served (importing/migrating markers ignored).
    pub(crate) slots: Vec<(u16, u16)>,
}

impl Entry {
    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    pub(crate) fn is_myself(&self) -> bool {
        self.flag("myself")
    }

    pub(crate) fn is_primary(&self) -> bool {
        self.flag("master")
    }

    /// Marked failed (or possibly failed) or without an address yet.
    pub(crate) fn is_unhealthy(&self) -> bool {
        ["fail", "fail?", "handshake", "noaddr"]
            .iter()
            .any(|f| self.flag(f))
    }

    pub(crate) fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(lo, hi)| (lo..=hi).contains(&slot))
    }
}

/// Parses the reply of `CLUSTER NODES`; lines it cannot read are an error
/// naming them.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            parse_line(line).ok_or_else(|| format!("unreadable CLUSTER NODES line: {line}"))
        })
        .collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    let address = fields[1].split(['@', ',']).next()?;
    let port = address.rsplit_once(':')?.1.parse().ok()?;
    let mut slots = Vec::new();
    for range in &fields[8..] {
        if range.starts_with('[') {
            continue;
        }
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        slots.push((lo.parse().ok()?, hi.parse().ok()?));
    }
    Some(Entry {
        id: fields[0].to_string(),
        port,
        flags: fields[2].split(',').map(str::to_string).collect(),
        primary_id: Some(fields[3]).filter(|id| *id != "-").map(str::to_string),
        connected: fields[7] == "connected",
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfe 127.0.0.1:30004@31004 slave e7d1eecc 0 1426238317239 4 connected
67ed2db8 127.0.0.1:30002@31002,host master - 0 1426238316232 2 connected 5461-10922 [93->-292f8b36]
e7d1eecc 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 16383
6ec23923 127.0.0.1:30003@31003 master,fail - 1426238316232 0 3 disconnected
";

    #[test]
    fn reads_roles_ports_and_slots() {
        let entries = parse(NODES).expect("parses");
        assert_eq!(entries.len(), 4);
        let replica = &entries[0];
        assert_eq!(replica.port, 30004);
        assert!(!replica.is_primary());
        assert_eq!(replica.primary_id.as_deref(), Some("e7d1eecc"));
        assert_eq!(entries[1].slots, vec![(5461, 10922)]);
        assert_eq!(entries[1].port, 30002);
        let me = &entries[2];
        assert!(me.is_myself() && me.is_primary() && me.serves(16383) && me.serves(0));
        assert!(!me.serves(5461));
        assert!(entries[3].is_unhealthy() && !entries[3].connected);
    }

    #[test]
    fn garbage_is_named() {
        let err = parse("nonsense line").expect_err("garbage");
        assert!(err.contains("nonsense line"), "{err}");
    }
}
