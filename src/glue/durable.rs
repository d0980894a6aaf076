//! Strict dedup (`DEDUP_MODE=durable`): keys live in Durable Objects, 256 of them,
//! the key's hash picking the object. A Durable Object runs one request at a
//! time and its SQL storage is synchronous, so check-and-claim cannot race the
//! way KV's get-then-put can. Every decision is [`key_table::apply`]; this file
//! only moves rows between it and SQL, and requests between it and the worker.

use std::cell::Cell;
use std::time::Duration;

use wasm_bindgen::prelude::*;
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response,
    SqlStorage, SqlStorageValue, State,
};

use super::time::now_ms;
use crate::dedup::{Claim, DedupKey, DedupStore};
use crate::key_table::{
    alarm_after_sweep, alarm_after_write, apply, shard_of, Row, TableAnswer, TableRequest, Write,
};
use crate::log::WarningLog;

/// The Durable Object class that holds one shard of the dedup keys.
#[durable_object]
pub struct DedupObject {
    state: State,
    sql: SqlStorage,
    /// Known to have a sweep alarm pending; read from storage, never assumed.
    alarm_pending: Cell<bool>,
}

/// A row as SQL gives it: numbers arrive as f64.
#[derive(serde::Deserialize)]
struct SqlRow {
    recorded: f64,
    holder: Option<String>,
    expires_ms: f64,
}

impl From<SqlRow> for Row {
    fn from(row: SqlRow) -> Self {
        Self {
            // A claim written before claims had holders is held by nobody we
            // know: busy until its lease ends, never a duplicate.
            holder: (row.recorded == 0.0).then(|| row.holder.unwrap_or_default()),
            expires_ms: row.expires_ms as i64,
        }
    }
}

#[derive(serde::Deserialize)]
struct Earliest {
    earliest: Option<f64>,
}

impl DurableObject for DedupObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Fails only if storage is broken; each request then answers an error.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS dedup_keys (key TEXT PRIMARY KEY, recorded INTEGER NOT NULL, expires_ms INTEGER NOT NULL, holder TEXT)",
            None,
        );
        // Tables made before claims had holders: fails harmlessly once the column exists.
        let _ = sql.exec("ALTER TABLE dedup_keys ADD COLUMN holder TEXT", None);
        let _ = sql.exec(
            "CREATE INDEX IF NOT EXISTS dedup_keys_expiry ON dedup_keys (expires_ms)",
            None,
        );
        Self {
            state,
            sql,
            alarm_pending: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let Ok(request) = req.json::<TableRequest>().await else {
            return Response::error("not a key table request", 400);
        };
        let now = now_ms() as i64;
        let row = self.row(request.key())?;
        let (answer, write) = apply(&request, row.as_ref(), now);
        match write {
            Write::Nothing => {}
            Write::Put(row) => self.put(request.key(), &row)?,
            Write::Delete => {
                self.sql.exec(
                    "DELETE FROM dedup_keys WHERE key = ?",
                    vec![SqlStorageValue::from(request.key())],
                )?;
            }
        }
        // Housekeeping only: an expired row means nothing to `apply`, so a
        // sweep that cannot be scheduled must not fail the request.
        if let Err(error) = self.arm_sweep(now).await {
            warn("dedup_sweep_not_scheduled", &error);
        }
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let now = now_ms() as i64;
        self.sql.exec(
            "DELETE FROM dedup_keys WHERE expires_ms <= ?",
            vec![SqlStorageValue::from(now as f64)],
        )?;
        let earliest: Option<Earliest> = self
            .sql
            .exec("SELECT MIN(expires_ms) AS earliest FROM dedup_keys", None)?
            .to_array()?
            .into_iter()
            .next();
        let earliest = earliest.and_then(|row| row.earliest).map(|ms| ms as i64);
        self.alarm_pending.set(false);
        if let Some(at) = alarm_after_sweep(earliest, now) {
            self.set_alarm(at, now).await?;
        }
        Response::ok("swept")
    }
}

impl DedupObject {
    fn row(&self, key: &str) -> worker::Result<Option<Row>> {
        let rows: Vec<SqlRow> = self
            .sql
            .exec(
                "SELECT recorded, holder, expires_ms FROM dedup_keys WHERE key = ?",
                vec![SqlStorageValue::from(key)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next().map(Row::from))
    }

    fn put(&self, key: &str, row: &Row) -> worker::Result<()> {
        let holder = match &row.holder {
            Some(token) => SqlStorageValue::from(token.as_str()),
            None => SqlStorageValue::Null,
        };
        self.sql.exec(
            "INSERT OR REPLACE INTO dedup_keys (key, recorded, expires_ms, holder) VALUES (?, ?, ?, ?)",
            vec![
                SqlStorageValue::from(key),
                // A JS boolean would be stored as the text "true".
                SqlStorageValue::from(if row.holder.is_none() { 1.0 } else { 0.0 }),
                SqlStorageValue::from(row.expires_ms as f64),
                holder,
            ],
        )?;
        Ok(())
    }

    /// Sets the sweep alarm unless one is pending: a new instance of the object
    /// must not push an alarm set by the one before it further away.
    async fn arm_sweep(&self, now: i64) -> worker::Result<()> {
        if self.alarm_pending.get() {
            return Ok(());
        }
        let pending = self.state.storage().get_alarm().await?;
        match alarm_after_write(pending, now) {
            Some(at) => self.set_alarm(at, now).await,
            None => {
                self.alarm_pending.set(true);
                Ok(())
            }
        }
    }

    async fn set_alarm(&self, at: i64, now: i64) -> worker::Result<()> {
        let offset = u64::try_from(at.saturating_sub(now)).unwrap_or_default();
        self.state
            .storage()
            .set_alarm(Duration::from_millis(offset))
            .await?;
        self.alarm_pending.set(true);
        Ok(())
    }
}

fn warn(warning: &str, error: &worker::Error) {
    let error = error.to_string();
    let line = WarningLog {
        warning,
        error: Some(&error),
        ..Default::default()
    }
    .line();
    worker::console_error!("{line}");
}

#[wasm_bindgen(inline_js = "export function claim_token() { return crypto.randomUUID(); }")]
extern "C" {
    /// A token no other request holds: the claim's owner.
    fn claim_token() -> String;
}

/// The client side: asks the object that holds the key's shard, on behalf of
/// one request (its claim token).
pub(crate) struct DurableDedup {
    namespace: ObjectNamespace,
    token: String,
}

impl DurableDedup {
    pub(crate) fn new(namespace: ObjectNamespace) -> Self {
        Self {
            namespace,
            token: claim_token(),
        }
    }

    async fn ask(&self, key: &DedupKey, request: &TableRequest) -> worker::Result<TableAnswer> {
        let stub = self
            .namespace
            .id_from_name(&shard_of(key.as_str()))?
            .get_stub()?;
        let body =
            serde_json::to_string(request).map_err(|e| worker::Error::from(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body)));
        let request = Request::new_with_init("https://dedup/", &init)?;
        let mut response = stub.fetch_with_request(request).await?;
        if response.status_code() != 200 {
            return Err(worker::Error::from("dedup object refused"));
        }
        // An answer that is not one of the table's is an error, never a duplicate.
        response.json::<TableAnswer>().await
    }

    fn request(
        &self,
        key: &DedupKey,
        make: impl FnOnce(String, String) -> TableRequest,
    ) -> TableRequest {
        make(key.as_str().to_string(), self.token.clone())
    }
}

fn unexpected(answer: TableAnswer) -> worker::Error {
    worker::Error::from(format!("unexpected dedup answer {answer:?}"))
}

impl DedupStore for DurableDedup {
    type Error = worker::Error;

    async fn claim(&self, key: &DedupKey) -> worker::Result<Claim> {
        let request = self.request(key, |key, token| TableRequest::Claim { key, token });
        match self.ask(key, &request).await? {
            TableAnswer::Claimed => Ok(Claim::New),
            TableAnswer::Duplicate => Ok(Claim::Duplicate),
            TableAnswer::Busy => Ok(Claim::Busy),
            other => Err(unexpected(other)),
        }
    }

    async fn record(&self, key: &DedupKey, _event: &str, ttl_seconds: u64) -> worker::Result<()> {
        let ttl_ms = i64::try_from(ttl_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        let request = self.request(key, |key, token| TableRequest::Record {
            key,
            token,
            ttl_ms,
        });
        match self.ask(key, &request).await? {
            TableAnswer::Recorded => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn release(&self, key: &DedupKey) -> worker::Result<()> {
        let request = self.request(key, |key, token| TableRequest::Release { key, token });
        match self.ask(key, &request).await? {
            TableAnswer::Released | TableAnswer::NotHeld => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
