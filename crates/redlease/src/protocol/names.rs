//! Names: the Redis keys of one resource, and owner values.

use rand::RngCore;

/// Names of the Redis keys of one resource.
///
/// Both keys share the hash tag `{resource}`, so they live in the same Redis Cluster slot
/// and the scripts that touch both work there. The prefix may not contain braces (checked
/// by the builder), so the first `{` of the key is always ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `<prefix>{<resource>}:lock`: holds the owner, with the lease's TTL.
    pub lock: String,
    /// `<prefix>{<resource>}:fence`: the node's fencing counter, without TTL.
    pub fence: String,
    /// `<prefix>{<resource>}:queue`: waiting owners by arrival (a sorted set), while any.
    pub queue: String,
    /// `<prefix>{<resource>}:seen`: when each waiting owner last tried (a hash).
    pub seen: String,
    /// `<prefix>{<resource>}:released`: the pub/sub channel on which releases wake waiters.
    pub channel: String,
    /// `<prefix>{<resource>}:born`: the per-resource delayed-restart marker, in the
    /// keys' slot (used where a node is a Redis Cluster).
    pub born: String,
    /// `<prefix>{<resource>}:holder`: who holds it (owner, then the holder's description),
    /// with the lease's TTL, when the holder described itself.
    pub holder: String,
}

impl Keys {
    /// Keys for `resource` under `prefix`.
    ///
    /// ```
    /// let keys = redlease::protocol::Keys::new("redlease:", "orders:42");
    /// assert_eq!(keys.lock, "redlease:{orders:42}:lock");
    /// assert_eq!(keys.fence, "redlease:{orders:42}:fence");
    /// ```
    pub fn new(prefix: &str, resource: &str) -> Self {
        // Built on every acquire: plain concatenation, not `format!` (a few times cheaper).
        let tagged_len = prefix.len() + resource.len() + 2;
        let name = |suffix: &str| {
            let mut key = String::with_capacity(tagged_len + suffix.len());
            key.push_str(prefix);
            key.push('{');
            key.push_str(resource);
            key.push('}');
            key.push_str(suffix);
            key
        };
        Keys {
            lock: name(":lock"),
            fence: name(":fence"),
            queue: name(":queue"),
            seen: name(":seen"),
            channel: name(":released"),
            born: name(":born"),
            holder: name(":holder"),
        }
    }
}

/// A fresh owner value: 128 bits from a CSPRNG, as 32 hex digits.
///
/// Never derived from time, pid or hostname: an owner must be unguessable and unique per
/// acquisition, so that no other process (or a retry of the same one) can be mistaken
/// for the holder. The thread-local generator (ChaCha, seeded and periodically reseeded
/// from the operating system) is as unguessable as asking the OS each time, without a
/// system call per acquisition attempt.
pub fn new_owner() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_unique_hex() {
        let a = new_owner();
        let b = new_owner();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let k = Keys::new("", "a}b");
        assert_eq!(k.lock, "{a}b}:lock");
        assert_eq!(k.fence, "{a}b}:fence");
    }
}
