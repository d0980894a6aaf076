//! The values the driver gets: each step's need as one plain object (built
//! here, read there as fields, never as more calls into wasm), and their
//! TypeScript types, which `src/worker/*.mjs` are checked against.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::ingress::Unread;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** An SQL statement and its parameters: `[sql, ...params]`. */
export type Statement = [string, ...(string | number | null)[]];
/** One of the event log's writes: its shard's object, and what to run there as one transaction. */
export interface LogBatch { shard: string; statements: Statement[] }
/** An answer to send. `flush`: the event log's flush loop to run after it (see `flush_step`). */
export interface Reply {
  step: IngressStep.Reply;
  status: number;
  body: string;
  allow?: string;
  unread: UnreadBody;
  /** Lines to print first, to stderr; then `line`, the request's own. */
  warnings: string[];
  line?: string;
  flush?: number;
  deliveries?: DeliveryStart[];
}
export type IngressNeed =
  | { step: IngressStep.ReadBody; limit: number; declared: boolean; drain: boolean }
  | { step: IngressStep.Verify; claimed: Uint8Array }
  | { step: IngressStep.KvGet; key: string }
  | { step: IngressStep.KvPut; key: string; value: string; ttl: number }
  | { step: IngressStep.Table; shard: string; request: TableRequest }
  | { step: IngressStep.Wait; ms: number }
  | { step: IngressStep.Send; delay_ms: number; sends: QueueSend[] }
  | Reply;
/** A queue message: a delivery's bytes, or (no bytes) the payload as received. */
export interface QueueSend { binding: string; bytes?: Uint8Array }
/** A request to the strict-dedup key table, sent by RPC. */
export interface TableRequest { op: 'claim' | 'record' | 'release'; key: string; token: string; ttl_ms?: number }
/** What the key table does with a request: its answer, and the row to write. */
export interface TableStep { answer: string; write: TableWrite; recorded: number; holder: string | null; expires_ms: number }
export interface IngressStart { task: IngressTask; need: IngressNeed }
export interface DeliveryStart { task: DeliveryTask; need: DeliveryNeed }
/** `log`: write it, then report a failure with `log_unwritten`; `flush`: the flush loop to run. */
interface DeliveryCommon { lines: string[]; log?: LogBatch; flush?: number }
export type DeliveryNeed = DeliveryCommon & (
  | { step: DeliveryStep.Attempt; url: string; headers: [string, string][]; body: Uint8Array; timeout_ms: number; keep_bytes: number }
  | { step: DeliveryStep.Wait; ms: number }
  | { step: DeliveryStep.Settle; retry_seconds?: number });
export type AdminNeed =
  | { step: AdminStep.ReadBody; limit: number; declared: boolean; drain: boolean }
  | { step: AdminStep.Shards }
  | { step: AdminStep.Query; asks: LogBatch[] }
  | { step: AdminStep.Deliver; payloads: { binding: string; body: string }[]; messages: Uint8Array[]; direct: DeliveryStart[] }
  | { step: AdminStep.Ingress; body: string; signature: string }
  | { step: AdminStep.Reply; status: number; body: string; allow?: string; unread: UnreadBody };
/** What a flush loop does next: write `batch` and report it, or sleep `wait_ms`; undefined: it is over. */
export type FlushStep = { batch: LogBatch; wait_ms?: undefined } | { wait_ms: number; batch?: undefined };
"#;

/// A plain object, built field by field.
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
