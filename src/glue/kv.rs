//! The dedup store on Workers KV.

use worker::kv::{KvError, KvStore};

use crate::dedup::{Claim, DedupKey, DedupStore};

/// Dedup keys in the `DEDUP` KV namespace.
pub(crate) struct KvDedup(pub(crate) KvStore);

impl DedupStore for KvDedup {
    type Error = KvError;

    // Check only: KV has no atomic check-and-set, so two concurrent deliveries of
    // one event can both pass (see README, "Strict dedup").
    async fn claim(&self, key: &DedupKey) -> Result<Claim, KvError> {
        Ok(match self.0.get(key.as_str()).bytes().await? {
            Some(_) => Claim::Duplicate,
            None => Claim::New,
        })
    }

    async fn record(&self, key: &DedupKey, event: &str, ttl_seconds: u64) -> Result<(), KvError> {
        self.0
            .put(key.as_str(), event)?
            .expiration_ttl(ttl_seconds)
            .execute()
            .await
    }

    async fn release(&self, _key: &DedupKey) -> Result<(), KvError> {
        Ok(())
    }
}
