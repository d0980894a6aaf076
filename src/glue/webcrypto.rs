//! HMAC-SHA256 by the runtime's WebCrypto. Its SHA-256 runs in native code with
//! the CPU's SHA instructions; compiled to wasm, ours runs several times slower,
//! which dominated the CPU time of large bodies.

use std::cell::OnceCell;
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::signature::{Secrets, DIGEST_LEN};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        key: &Uint8Array,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &str,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

thread_local! {
    // The secrets do not change while an isolate lives: import them once.
    static KEYS: OnceCell<Rc<Vec<JsValue>>> = const { OnceCell::new() };
}

/// The configured secrets as WebCrypto keys.
pub(crate) struct WebCryptoHmac(Rc<Vec<JsValue>>);

impl WebCryptoHmac {
    /// The isolate's keys, imported on first use; `None` if the runtime refuses
    /// them, and the caller then verifies in wasm.
    pub(crate) async fn get(secrets: &Secrets) -> Option<Self> {
        if let Some(keys) = KEYS.with(|cell| cell.get().cloned()) {
            return Some(Self(keys));
        }
        let algorithm = Object::new();
        Reflect::set(&algorithm, &"name".into(), &"HMAC".into()).ok()?;
        Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into()).ok()?;
        let usages = Array::of1(&"verify".into());
        let mut keys = Vec::new();
        for secret in secrets.raw_keys() {
            let raw = Uint8Array::from(secret);
            let promise = import_key("raw", &raw, &algorithm, false, &usages).ok()?;
            keys.push(JsFuture::from(promise).await.ok()?);
        }
        // Two first requests may both import; either result serves.
        let keys = KEYS.with(|cell| cell.get_or_init(|| Rc::new(keys)).clone());
        Some(Self(keys))
    }
}

impl WebCryptoHmac {
    /// Whether HMAC-SHA256 of `body` under each secret equals `claimed`, in
    /// the secrets' order. WebCrypto compares in constant time.
    pub(crate) async fn check(&self, claimed: &[u8; DIGEST_LEN], body: &Uint8Array) -> Vec<bool> {
        let claimed = Uint8Array::from(&claimed[..]);
        let mut matched = Vec::with_capacity(self.0.len());
        for key in self.0.iter() {
            let verdict = match subtle_verify("HMAC", key, &claimed, body) {
                Ok(promise) => JsFuture::from(promise)
                    .await
                    .ok()
                    .and_then(|answer| answer.as_bool())
                    .unwrap_or(false),
                Err(_) => false,
            };
            matched.push(verdict);
        }
        matched
    }
}
