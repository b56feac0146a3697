//! A node's cache of unsealed keys, followed across nodes.
//!
//! The cache is never trusted for liveness: each batch reads its
//! credentials fresh under lock, so a revoked key is refused everywhere as
//! soon as the revoke commits. What this module adds is that the key
//! itself leaves every node's memory promptly: a revoke sends
//! `pg_notify(REVOKED_CHANNEL, credential id)` in its own transaction, and
//! each node keeps one connection outside its pool `LISTEN`ing on that
//! channel and evicts the key named. A node that loses that connection
//! (or has not opened it yet) may have missed a notification: it clears
//! the whole cache, reconnects, and once it listens again clears it once
//! more (a key unsealed while it was not listening is dropped too).
//!
//! A key is only inserted by a batch that holds the credential's row lock
//! with the credential live, so it is inserted before any revoke of it
//! commits, hence before its notification is delivered: an eviction never
//! overtakes the insertion it must undo.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_postgres::AsyncMessage;

use super::{PgError, PgTarget};
use crate::otp::CredentialKey;

/// The channel a revoke notifies, with the credential's id as payload.
pub const REVOKED_CHANNEL: &str = "keyward_key_revoked";

/// The listening connection's `application_name`.
pub const LISTENER_NAME: &str = "keyward-revocations";

/// Wait before reconnecting a lost listener.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// How often the listening connection is checked, and how long a check
/// may take.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Unsealed keys by credential id, shared by a node's writer (which fills
/// it) and its listener (which evicts from it).
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<i64, Arc<CredentialKey>>>,
    evicted: AtomicU64,
    cleared: AtomicU64,
    listening: AtomicBool,
}

/// What a node's health answer shows of its cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyCacheStats {
    /// Keys held now.
    pub keys: usize,
    /// Keys dropped because a revoke named them.
    pub evicted: u64,
    /// Times the whole cache was dropped (listener lost or (re)started).
    pub cleared: u64,
    /// Whether the node follows revocations now.
    pub listening: bool,
}

impl KeyCache {
    fn keys(&self) -> MutexGuard<'_, HashMap<i64, Arc<CredentialKey>>> {
        // A panic while holding the lock left the map as it was: every
        // operation on it is a single insert or removal.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, credential: i64) -> Option<Arc<CredentialKey>> {
        self.keys().get(&credential).cloned()
    }

    pub fn insert(&self, credential: i64, key: CredentialKey) -> Arc<CredentialKey> {
        let key = Arc::new(key);
        self.keys().insert(credential, Arc::clone(&key));
        key
    }

    /// Drops the key of a revoked credential.
    pub fn evict(&self, credential: i64) {
        if self.keys().remove(&credential).is_some() {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every key.
    pub fn clear(&self) {
        self.keys().clear();
        self.cleared.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> KeyCacheStats {
        KeyCacheStats {
            keys: self.keys().len(),
            evicted: self.evicted.load(Ordering::Relaxed),
            cleared: self.cleared.load(Ordering::Relaxed),
            listening: self.listening.load(Ordering::Relaxed),
        }
    }
}

/// Follows revocations until the runtime stops: listens on
/// [`REVOKED_CHANNEL`] on its own connection and evicts the keys named;
/// on a lost connection clears the cache and reconnects.
pub fn follow_revocations(target: PgTarget, cache: Arc<KeyCache>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let ended = listen(&target, &cache).await;
            cache.listening.store(false, Ordering::Relaxed);
            cache.clear();
            match ended {
                Ok(()) => tracing::warn!("revocation listener: connection closed; cache cleared"),
                Err(err) => {
                    tracing::warn!(error = %err, "revocation listener lost; cache cleared")
                }
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    })
}

/// One listening connection, until it ends.
async fn listen(target: &PgTarget, cache: &KeyCache) -> Result<(), PgError> {
    let mut config = target.client_config()?;
    // Named apart from the pool's connections, for the server's operators.
    config.application_name(LISTENER_NAME);
    let (client, mut connection) = config.connect(target.tls_connector()?).await?;
    let (sender, mut notes) = tokio::sync::mpsc::unbounded_channel();
    // The connection drives the socket; notifications come out of it.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if sender.send(Ok(note)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    let _ = sender.send(Err(err));
                    return;
                }
            }
        }
    });
    let result: Result<(), PgError> = async {
        client
            .batch_execute(&format!("LISTEN {REVOKED_CHANNEL}"))
            .await?;
        // Whatever was cached before this point may have missed a revoke.
        cache.clear();
        cache.listening.store(true, Ordering::Relaxed);
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            tokio::select! {
                note = notes.recv() => {
                    let Some(note) = note else { return Ok(()) };
                    let note = note?;
                    if note.channel() != REVOKED_CHANNEL {
                        continue;
                    }
                    match note.payload().parse::<i64>() {
                        Ok(credential) => cache.evict(credential),
                        // Not ours to interpret: forget everything rather
                        // than keep a key that may be revoked.
                        Err(_) => cache.clear(),
                    }
                }
                // A connection that went silent (no reset from a dead
                // server) is found out here, not hours later.
                _ = ping.tick() => {
                    tokio::time::timeout(PING_EVERY, client.batch_execute(""))
                        .await
                        .map_err(|_| PgError::Unavailable)??;
                }
            }
        }
    }
    .await;
    driver.abort();
    result
}
