//! The blocking API, for programs without an async runtime.
//!
//! `cargo run -p redlease --example blocking` (REDLEASE_SERVERS or a local redis-server).

mod common;

use common::servers;

use std::time::Duration;

fn main() -> Result<(), redlease::Error> {
    let manager = redlease::blocking::LockManager::builder()
        .servers(servers())
        .ttl(Duration::from_secs(5))
        .build()?;
    let steps = manager.with_lock("examples:blocking", |lease| {
        let mut done = 0;
        for _ in 0..3 {
            // Long work checks between steps that the lease is still valid.
            if lease.ensure_valid().is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            done += 1;
        }
        done
    })?;
    println!("did {steps} steps under the lock");
    // Background work (releases of dropped leases) finishes before the program exits.
    manager.flush(Duration::from_secs(1));
    Ok(())
}
