//! A lease renewed in the background while the work runs, and told loudly if it is lost.
//!
//! `keep_alive()` extends the lease at a third of its ttl; `lost()` completes if renewal
//! cannot keep it (nodes unreachable past the deadline, the key taken away), so the work
//! can stop before it does damage.
//!
//! `cargo run -p redlease --example keep_alive` (REDLEASE_SERVERS or a local redis-server).

mod common;

use common::servers;

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), redlease::Error> {
    let manager = redlease::LockManager::builder()
        .servers(servers())
        .ttl(Duration::from_secs(2))
        .build()
        .await?;
    let lease = manager.acquire("examples:keep-alive").await?;
    lease.keep_alive()?;
    let lost = lease.lost();
    let work = async {
        // Longer than the ttl: only renewal keeps the lease.
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    tokio::select! {
        () = work => println!("work done; renewals so far: {}", manager.renewal_stats().renewals),
        reason = lost => println!("lease lost ({reason}): stopping the work"),
    }
    lease.release().await?;
    Ok(())
}
