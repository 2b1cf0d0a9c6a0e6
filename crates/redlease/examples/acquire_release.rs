//! Acquire a lease, use its fencing token, release it.
//!
//! Run against `redlease sandbox` (it prints `REDLEASE_SERVERS=...`) or a local
//! redis-server: `cargo run -p redlease --example acquire_release`.

mod common;

use common::servers;

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), redlease::Error> {
    let manager = redlease::LockManager::builder()
        .servers(servers())
        .ttl(Duration::from_secs(10))
        .wait(Duration::from_secs(5))
        .build()
        .await?;
    let lease = manager.acquire("examples:report").await?;
    // On several nodes the token is minted by this first call (none is minted for a lease
    // whose token nobody asks for).
    let token = lease.fencing_token().await?;
    println!(
        "holding {:?} with fencing token {token} for {:?}",
        lease.resource(),
        lease.remaining()
    );
    lease.release().await?;
    println!("released");
    Ok(())
}
