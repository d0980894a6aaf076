//! The values the driver gets: each step's need as one plain object (built
//! here, read there as fields, never as more calls into wasm), and their
//! TypeScript types, which `src/worker/*.mjs` are checked against.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::ingress::Unread;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("needs.d.ts");

#[wasm_bindgen(module = "/src/wasm/needs.js")]
extern "C" {
    pub(crate) fn started(task: JsValue, need: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = readBody)]
    pub(crate) fn read_body(step: u32, limit: f64, declared: bool, drain: bool) -> JsValue;
    pub(crate) fn verify(step: u32, claimed: Uint8Array) -> JsValue;
    #[wasm_bindgen(js_name = kvGet)]
    pub(crate) fn kv_get(step: u32, key: &str) -> JsValue;
    #[wasm_bindgen(js_name = kvPut)]
    pub(crate) fn kv_put(step: u32, key: &str, value: &str, ttl: f64) -> JsValue;
    pub(crate) fn table(
        step: u32,
        shard: &str,
        op: &str,
        key: &str,
        token: &str,
        ttl_ms: Option<f64>,
    ) -> JsValue;
    pub(crate) fn wait(step: u32, ms: f64) -> JsValue;
    pub(crate) fn send(step: u32, delay_ms: f64, sends: Array) -> JsValue;
    #[wasm_bindgen(js_name = queueSend)]
    pub(crate) fn queue_send(binding: &str, bytes: Option<Uint8Array>) -> JsValue;
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reply(
        step: u32,
        status: u16,
        body: &str,
        allow: Option<&str>,
        unread: u32,
        warnings: Array,
        line: Option<String>,
        flush: Option<u32>,
        deliveries: JsValue,
    ) -> JsValue;
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attempt(
        step: u32,
        lines: Array,
        log: JsValue,
        flush: Option<u32>,
        url: &str,
        headers: Array,
        body: Uint8Array,
        timeout_ms: f64,
        keep_bytes: f64,
        guard: Option<String>,
    ) -> JsValue;
    #[wasm_bindgen(js_name = deliveryWait)]
    pub(crate) fn delivery_wait(
        step: u32,
        lines: Array,
        log: JsValue,
        flush: Option<u32>,
        ms: f64,
    ) -> JsValue;
    pub(crate) fn settle(
        step: u32,
        lines: Array,
        log: JsValue,
        flush: Option<u32>,
        retry_seconds: Option<f64>,
        report: JsValue,
    ) -> JsValue;
}

/// A plain object, built field by field (the needs off the hot path).
pub(crate) struct Obj(Object);

impl Obj {
    pub(crate) fn new() -> Self {
        Self(Object::new())
    }

    pub(crate) fn set(self, name: &str, value: impl Into<JsValue>) -> Self {
        // Setting a field on a fresh plain object cannot fail.
        let _ = Reflect::set(&self.0, &JsValue::from_str(name), &value.into());
        self
    }

    /// Sets `name` only when there is a value.
    pub(crate) fn maybe(self, name: &str, value: Option<impl Into<JsValue>>) -> Self {
        match value {
            Some(value) => self.set(name, value),
            None => self,
        }
    }

    pub(crate) fn into_value(self) -> JsValue {
        self.0.into()
    }
}

/// An array of strings.
pub(crate) fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Array {
    items
        .into_iter()
        .map(|item| JsValue::from_str(item.as_ref()))
        .collect()
}

/// `[[name, value], …]`.
pub(crate) fn pairs<N: AsRef<str>, V: AsRef<str>>(
    items: impl IntoIterator<Item = (N, V)>,
) -> Array {
    items
        .into_iter()
        .map(|(name, value)| JsValue::from(strings([name.as_ref(), value.as_ref()])))
        .collect()
}

/// `[[name, value], …]` from the driver (headers, a query), as pairs of strings.
pub(crate) fn pairs_from(value: &JsValue) -> Vec<(String, String)> {
    let Some(array) = value.dyn_ref::<Array>() else {
        return Vec::new();
    };
    array
        .iter()
        .filter_map(|pair| {
            let pair = pair.dyn_into::<Array>().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// Bytes as a new `Uint8Array`.
pub(crate) fn bytes(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

/// What to do with a body left unread.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum UnreadBody {
    /// Nothing: it was read, or there is none.
    Leave = 0,
    Cancel = 1,
    /// Read it out (under wrangler dev), at most a bound.
    Drain = 2,
}

impl From<Option<Unread>> for UnreadBody {
    fn from(unread: Option<Unread>) -> Self {
        match unread {
            None => Self::Leave,
            Some(Unread::Cancel) => Self::Cancel,
            Some(Unread::Drain) => Self::Drain,
        }
    }
}

/// What reading a capped body gave (see `body.mjs`).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum BodyResult {
    Complete = 0,
    TooLarge = 1,
    Broken = 2,
}

impl BodyResult {
    pub(crate) fn read(self, len: usize) -> crate::ingress::BodyRead {
        use crate::ingress::BodyRead;
        match self {
            Self::Complete => BodyRead::Complete { len },
            Self::TooLarge => BodyRead::TooLarge,
            Self::Broken => BodyRead::Broken,
        }
    }
}
