//! Strict dedup (`DEDUP_MODE=durable`): keys live in Durable Objects, 256 of them,
//! the key's hash picking the object. A Durable Object runs one request at a
//! time and its SQL storage is synchronous, so check-and-claim cannot race the
//! way KV's get-then-put can.

use std::cell::Cell;
use std::time::Duration;
use worker::{
    durable_object, DurableObject, Env, ObjectNamespace, Request, Response, SqlStorage,
    SqlStorageValue, State,
};

use super::time::now_ms;
use crate::dedup::{Claim, DedupKey, DedupStore};

/// How long a claim holds without a record or release: a request that died
/// mid-way must not block LeadNest's retry for long.
const CLAIM_LEASE_MS: f64 = 60_000.0;
/// How often an object deletes its expired keys.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// The Durable Object class that holds one shard of the dedup keys.
#[durable_object]
pub struct DedupObject {
    state: State,
    sql: SqlStorage,
    sweep_scheduled: Cell<bool>,
}

#[derive(serde::Deserialize)]
struct Live {
    recorded: f64,
}

impl DurableObject for DedupObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Fails only if storage is broken; each request then answers an error.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS dedup_keys (key TEXT PRIMARY KEY, recorded INTEGER NOT NULL, expires_ms INTEGER NOT NULL)",
            None,
        );
        let _ = sql.exec(
            "CREATE INDEX IF NOT EXISTS dedup_keys_expiry ON dedup_keys (expires_ms)",
            None,
        );
        Self {
            state,
            sql,
            sweep_scheduled: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let path = req.path();
        let now = now_ms() as f64;
        let answer = match path.split('/').collect::<Vec<_>>().as_slice() {
            ["", "claim", key] => {
                if self.live(key, now)?.is_some() {
                    "duplicate"
                } else {
                    self.keep(key, false, now + CLAIM_LEASE_MS)?;
                    "new"
                }
            }
            ["", "record", ttl_seconds, key] => {
                let ttl_ms = ttl_seconds.parse::<f64>().unwrap_or(86_400.0) * 1000.0;
                self.keep(key, true, now + ttl_ms)?;
                "recorded"
            }
            ["", "release", key] => {
                if self
                    .live(key, now)?
                    .is_some_and(|live| live.recorded == 0.0)
                {
                    self.sql.exec(
                        "DELETE FROM dedup_keys WHERE key = ?",
                        vec![SqlStorageValue::from(*key)],
                    )?;
                }
                "released"
            }
            _ => return Response::error("not found", 404),
        };
        self.schedule_sweep().await?;
        Response::ok(answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.sql.exec(
            "DELETE FROM dedup_keys WHERE expires_ms <= ?",
            vec![SqlStorageValue::from(now_ms() as f64)],
        )?;
        self.sweep_scheduled.set(false);
        self.schedule_sweep().await?;
        Response::ok("swept")
    }
}

impl DedupObject {
    fn live(&self, key: &str, now: f64) -> worker::Result<Option<Live>> {
        let rows: Vec<Live> = self
            .sql
            .exec(
                "SELECT recorded FROM dedup_keys WHERE key = ? AND expires_ms > ?",
                vec![SqlStorageValue::from(key), SqlStorageValue::from(now)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    fn keep(&self, key: &str, recorded: bool, expires_ms: f64) -> worker::Result<()> {
        self.sql.exec(
            "INSERT OR REPLACE INTO dedup_keys (key, recorded, expires_ms) VALUES (?, ?, ?)",
            vec![
                SqlStorageValue::from(key),
                // A JS boolean would be stored as the text "true".
                SqlStorageValue::from(if recorded { 1.0 } else { 0.0 }),
                SqlStorageValue::from(expires_ms),
            ],
        )?;
        Ok(())
    }

    /// One alarm at a time per object, set while it holds keys.
    async fn schedule_sweep(&self) -> worker::Result<()> {
        if !self.sweep_scheduled.get() {
            self.state.storage().set_alarm(SWEEP_EVERY).await?;
            self.sweep_scheduled.set(true);
        }
        Ok(())
    }
}

/// The client side: asks the object that holds the key's shard.
pub(crate) struct DurableDedup(pub(crate) ObjectNamespace);

impl DurableDedup {
    async fn ask(&self, key: &DedupKey, path: &str) -> worker::Result<String> {
        // Keys end in hex digits of a hash: the first two after the prefix pick one of 256.
        let shard = key.as_str().get(3..5).unwrap_or("00");
        let stub = self.0.id_from_name(&format!("dedup-{shard}"))?.get_stub()?;
        let mut response = stub.fetch_with_str(&format!("https://dedup{path}")).await?;
        if response.status_code() != 200 {
            return Err(worker::Error::from("dedup object refused"));
        }
        response.text().await
    }
}

impl DedupStore for DurableDedup {
    type Error = worker::Error;

    async fn claim(&self, key: &DedupKey) -> worker::Result<Claim> {
        Ok(
            match self
                .ask(key, &format!("/claim/{}", key.as_str()))
                .await?
                .as_str()
            {
                "new" => Claim::New,
                _ => Claim::Duplicate,
            },
        )
    }

    async fn record(&self, key: &DedupKey, _event: &str, ttl_seconds: u64) -> worker::Result<()> {
        self.ask(key, &format!("/record/{ttl_seconds}/{}", key.as_str()))
            .await
            .map(drop)
    }

    async fn release(&self, key: &DedupKey) -> worker::Result<()> {
        self.ask(key, &format!("/release/{}", key.as_str()))
            .await
            .map(drop)
    }
}
