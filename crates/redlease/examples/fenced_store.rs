//! `with_lock` handing the fencing token to a store that checks it.
//!
//! A lease can end while its holder is paused (GC, swap, a stopped VM); the holder then
//! writes believing it still holds the lock. The store stops it: it remembers the highest
//! token it has seen and refuses writes that carry a smaller one. Here the store is a
//! value in memory; in production it is your database (`UPDATE ... WHERE fence <= $token`)
//! or a Lua script in Redis.
//!
//! `cargo run -p redlease --example fenced_store` (REDLEASE_SERVERS or a local redis-server).

mod common;

use common::servers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A store that accepts a write only with a token at least as high as any it has seen.
#[derive(Default)]
struct FencedStore {
    highest: u64,
    value: String,
}

impl FencedStore {
    fn write(&mut self, token: u64, value: &str) -> Result<(), String> {
        if token < self.highest {
            return Err(format!(
                "stale token {token}: a later holder wrote with {}",
                self.highest
            ));
        }
        self.highest = token;
        self.value = value.to_owned();
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), redlease::Error> {
    let manager = redlease::LockManager::builder()
        .servers(servers())
        .ttl(Duration::from_secs(10))
        .build()
        .await?;
    let store = Arc::new(Mutex::new(FencedStore::default()));
    for run in 1..=3 {
        let store = Arc::clone(&store);
        let written = manager
            .with_lock("examples:fenced", |lease| async move {
                let token = lease.fencing_token().await.map_err(|e| e.to_string())?;
                let mut store = store.lock().map_err(|_| "store poisoned".to_owned())?;
                store.write(token, &format!("run {run}"))?;
                Ok::<u64, String>(token)
            })
            .await?;
        println!("run {run}: {written:?}");
    }
    // A former holder that woke up late, with an old token, is refused.
    let refused = store
        .lock()
        .map(|mut s| s.write(1, "late write"))
        .unwrap_or_else(|_| Err("store poisoned".to_owned()));
    println!("late write with token 1: {refused:?}");
    Ok(())
}
