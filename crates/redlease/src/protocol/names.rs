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
        let names = ResourceKeys::new(prefix, resource);
        Keys {
            lock: names.lock().to_owned(),
            fence: names.fence().to_owned(),
            queue: names.queue().to_owned(),
            seen: names.seen().to_owned(),
            channel: names.channel().to_owned(),
            born: names.born().to_owned(),
            holder: names.holder().to_owned(),
        }
    }
}

/// The suffixes of a resource's keys, after `<prefix>{<resource>}`, in the order
/// [`ResourceKeys`] keeps them.
const SUFFIXES: [&str; 7] = [
    ":lock",
    ":fence",
    ":queue",
    ":seen",
    ":released",
    ":born",
    ":holder",
];

/// The resource and the names of its keys (see [`Keys`]) in one buffer, for the
/// library's own calls.
///
/// Every acquisition needs them, and [`Keys`]' seven strings cost seven allocations (and
/// seven frees) per call; this is one string, the resource then each name, with where
/// each ends. [`Keys`] is built from it, so the two cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceKeys {
    names: String,
    /// Where the resource, then each name (in the order of [`SUFFIXES`]), ends in `names`.
    ends: [usize; 8],
}

impl ResourceKeys {
    /// The names for `resource` under `prefix`.
    pub(crate) fn new(prefix: &str, resource: &str) -> Self {
        let tagged = prefix.len() + resource.len() + 2;
        let suffixes: usize = SUFFIXES.iter().map(|s| s.len()).sum();
        let mut names = String::with_capacity(resource.len() + 7 * tagged + suffixes);
        names.push_str(resource);
        let mut ends = [names.len(); 8];
        for (end, suffix) in ends.iter_mut().skip(1).zip(SUFFIXES) {
            names.push_str(prefix);
            names.push('{');
            names.push_str(resource);
            names.push('}');
            names.push_str(suffix);
            *end = names.len();
        }
        ResourceKeys { names, ends }
    }

    /// Part `i` of `names`: 0 the resource, then the keys in the order of [`SUFFIXES`].
    fn part(&self, i: usize) -> &str {
        // Always in bounds and on char boundaries: `new` recorded them as it wrote.
        let start = i.checked_sub(1).and_then(|before| self.ends.get(before));
        let end = self.ends.get(i).copied().unwrap_or_default();
        self.names
            .get(start.copied().unwrap_or_default()..end)
            .unwrap_or_default()
    }

    /// The resource.
    pub(crate) fn resource(&self) -> &str {
        self.part(0)
    }

    /// See [`Keys::lock`].
    pub(crate) fn lock(&self) -> &str {
        self.part(1)
    }

    /// See [`Keys::fence`].
    pub(crate) fn fence(&self) -> &str {
        self.part(2)
    }

    /// See [`Keys::queue`].
    pub(crate) fn queue(&self) -> &str {
        self.part(3)
    }

    /// See [`Keys::seen`].
    pub(crate) fn seen(&self) -> &str {
        self.part(4)
    }

    /// See [`Keys::channel`].
    pub(crate) fn channel(&self) -> &str {
        self.part(5)
    }

    /// See [`Keys::born`].
    pub(crate) fn born(&self) -> &str {
        self.part(6)
    }

    /// See [`Keys::holder`].
    pub(crate) fn holder(&self) -> &str {
        self.part(7)
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
    fn one_buffer_names_every_key_and_the_resource() {
        for (prefix, resource) in [("redlease:", "orders:42"), ("", "a}b"), ("p:", "{x}")] {
            let names = ResourceKeys::new(prefix, resource);
            let tagged = format!("{prefix}{{{resource}}}");
            assert_eq!(names.resource(), resource);
            assert_eq!(names.lock(), format!("{tagged}:lock"));
            assert_eq!(names.fence(), format!("{tagged}:fence"));
            assert_eq!(names.queue(), format!("{tagged}:queue"));
            assert_eq!(names.seen(), format!("{tagged}:seen"));
            assert_eq!(names.born(), format!("{tagged}:born"));
            assert_eq!(names.holder(), format!("{tagged}:holder"));
            assert_eq!(names.channel(), format!("{tagged}:released"));
        }
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let k = Keys::new("", "a}b");
        assert_eq!(k.lock, "{a}b}:lock");
        assert_eq!(k.fence, "{a}b}:fence");
    }
}
