// The needs the core returns to the driver, as TypeScript sees them: wasm-bindgen
// adds these to the glue's declarations, which src/worker/*.mjs are checked against.
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
  | { step: DeliveryStep.Attempt; url: string; headers: [string, string][]; body: Uint8Array; timeout_ms: number; keep_bytes: number;
      /** The route whose health must let it go first (`admitted`) or hold it (`held`). */
      guard?: string }
  | { step: DeliveryStep.Wait; ms: number }
  | { step: DeliveryStep.Settle; retry_seconds?: number; report?: HealthReport });
/** What a settled delivery tells its route's health. */
export interface HealthReport { route: string; delivered?: boolean; failure?: string; dead_lettered: boolean }
export type AdminNeed =
  | { step: AdminStep.ReadBody; limit: number; declared: boolean; drain: boolean }
  | { step: AdminStep.Shards }
  | { step: AdminStep.Query; asks: LogBatch[] }
  | { step: AdminStep.Deliver; payloads: { binding: string; body: string }[]; messages: Uint8Array[]; direct: DeliveryStart[] }
  | { step: AdminStep.Ingress; body: string; signature: string }
  /** Each route's state object (`ROUTE_HEALTH`, by name): `report(name, now_ms)`, all at once. */
  | { step: AdminStep.RouteReports; names: string[]; now_ms: number }
  /** The route's state object: `pause(name, now_ms)` or `resume(name, now_ms)`. */
  | { step: AdminStep.RouteControl; name: string; action: 'pause' | 'resume'; now_ms: number }
  | { step: AdminStep.Reply; status: number; body: string; allow?: string; unread: UnreadBody };
/** What a flush loop does next: write `batch` and report it, or sleep `wait_ms`; undefined: it is over. */
export type FlushStep = { batch: LogBatch; wait_ms?: undefined } | { wait_ms: number; batch?: undefined };
/** An alert of a route's health: its line to print, and with ALERT_URL the POST to make. */
export interface AlertOut { line: string; url?: string; headers?: [string, string][]; body?: string }
/** A route's health after a call: the text its object keeps, and the alerts it raised. */
export interface HealthAnswer { text: string; alerts: AlertOut[] }
