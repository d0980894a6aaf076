//! The dedup store on Workers KV, called on the binding itself: one call per
//! operation, no wrapper objects built per request.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::dedup::{Claim, DedupKey, DedupStore};

#[wasm_bindgen(inline_js = "
export function put_with_ttl(namespace, key, value, ttl) {
  return namespace.put(key, value, { expirationTtl: ttl });
}
")]
extern "C" {
    /// A KV namespace binding.
    pub(crate) type KvNamespace;
    /// The value as text, or null.
    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch)]
    fn put_with_ttl(
        namespace: &KvNamespace,
        key: &str,
        value: &str,
        ttl: f64,
    ) -> Result<Promise, JsValue>;
}

/// Dedup keys in the `DEDUP` KV namespace.
pub(crate) struct KvDedup(KvNamespace);

impl KvDedup {
    /// The namespace bound as `name`, if any.
    pub(crate) fn open(env: &Env, name: &str) -> Option<Self> {
        super::env::binding(env, name).map(|namespace| Self(namespace.unchecked_into()))
    }
}

/// What failed, for the log: the runtime's message, never a key or a value.
fn failure(operation: &str, error: JsValue) -> String {
    let message = js_sys::Reflect::get(&error, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown error".into());
    format!("KV {operation} failed: {message}")
}

impl DedupStore for KvDedup {
    type Error = String;

    // Check only: KV has no atomic check-and-set, so two concurrent deliveries of
    // one event can both pass (see README, "Strict dedup").
    async fn claim(&self, key: &DedupKey) -> Result<Claim, String> {
        let read = self.0.get(key.as_str()).map_err(|e| failure("read", e))?;
        let value = JsFuture::from(read).await.map_err(|e| failure("read", e))?;
        Ok(if value.is_null() || value.is_undefined() {
            Claim::New
        } else {
            Claim::Duplicate
        })
    }

    async fn record(&self, key: &DedupKey, event: &str, ttl_seconds: u64) -> Result<(), String> {
        // TTLs are validated to at most a year: exact in an f64.
        let write = put_with_ttl(&self.0, key.as_str(), event, ttl_seconds as f64)
            .map_err(|e| failure("write", e))?;
        JsFuture::from(write)
            .await
            .map(drop)
            .map_err(|e| failure("write", e))
    }

    async fn release(&self, _key: &DedupKey) -> Result<(), String> {
        Ok(())
    }
}
