//! Where the examples find their servers.

/// `REDLEASE_SERVERS` (comma-separated URLs, as `redlease sandbox` prints), or one local
/// redis-server.
pub fn servers() -> Vec<String> {
    std::env::var("REDLEASE_SERVERS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
        .split(',')
        .map(str::to_owned)
        .collect()
}
