//! The dedup store on Workers KV.

use worker::kv::{KvError, KvStore};

use crate::dedup::{DedupKey, DedupStore};

/// Dedup keys in the `DEDUP` KV namespace.
pub(crate) struct KvDedup(pub(crate) KvStore);

impl DedupStore for KvDedup {
    type Error = KvError;

    async fn seen(&self, key: &DedupKey) -> Result<bool, KvError> {
        Ok(self.0.get(key.as_str()).bytes().await?.is_some())
    }

    async fn record(&self, key: &DedupKey, event: &str, ttl_seconds: u64) -> Result<(), KvError> {
        self.0
            .put(key.as_str(), event)?
            .expiration_ttl(ttl_seconds)
            .execute()
            .await
    }
}
