//! Strict dedup (`DEDUP_MODE=durable`): one Durable Object per dedup key. A
//! Durable Object handles one request at a time and its storage calls are
//! atomic with it, so check-and-claim cannot race the way KV's get-then-put can.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, State};

use super::time::now_ms;
use crate::dedup::{Claim, DedupKey, DedupStore};

/// How long a claim holds without a record or release: a request that died
/// mid-way must not block LeadNest's retry for long.
const CLAIM_LEASE_MS: u64 = 60_000;
const STATE_KEY: &str = "state";

#[derive(Serialize, Deserialize)]
struct KeyState {
    recorded: bool,
    expires_ms: u64,
}

/// The Durable Object class that holds one dedup key.
#[durable_object]
pub struct DedupObject {
    state: State,
}

impl DurableObject for DedupObject {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let storage = self.state.storage();
        let now = now_ms();
        let current: Option<KeyState> = storage.get(STATE_KEY).await?;
        let live = current.filter(|s| s.expires_ms > now);
        let path = req.path();
        let answer = match path.as_str() {
            "/claim" => match live {
                Some(_) => "duplicate",
                None => {
                    self.keep(KeyState {
                        recorded: false,
                        expires_ms: now + CLAIM_LEASE_MS,
                    })
                    .await?;
                    "new"
                }
            },
            // The TTL travels in the path: parsing a query would bring a URL parser
            // into the bundle.
            record if record.starts_with("/record/") => {
                let ttl_seconds = record["/record/".len()..].parse::<u64>().unwrap_or(86_400);
                let expires_ms = now.saturating_add(ttl_seconds.saturating_mul(1000));
                self.keep(KeyState {
                    recorded: true,
                    expires_ms,
                })
                .await?;
                "recorded"
            }
            "/release" => {
                if live.is_some_and(|s| !s.recorded) {
                    storage.delete_all().await?;
                }
                "released"
            }
            _ => return Response::error("not found", 404),
        };
        Response::ok(answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        // The key has expired: nothing of it is kept.
        self.state.storage().delete_all().await?;
        Response::ok("expired")
    }
}

impl DedupObject {
    async fn keep(&self, state: KeyState) -> worker::Result<()> {
        let storage = self.state.storage();
        let expires_ms = state.expires_ms;
        storage.put(STATE_KEY, state).await?;
        let delay = expires_ms.saturating_sub(now_ms());
        storage.set_alarm(Duration::from_millis(delay)).await
    }
}

/// The client side: asks the key's object.
pub(crate) struct DurableDedup(pub(crate) ObjectNamespace);

impl DurableDedup {
    async fn ask(&self, key: &DedupKey, path: &str) -> worker::Result<String> {
        let stub = self.0.id_from_name(key.as_str())?.get_stub()?;
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
        Ok(match self.ask(key, "/claim").await?.as_str() {
            "new" => Claim::New,
            _ => Claim::Duplicate,
        })
    }

    async fn record(&self, key: &DedupKey, _event: &str, ttl_seconds: u64) -> worker::Result<()> {
        self.ask(key, &format!("/record?ttl={ttl_seconds}"))
            .await
            .map(drop)
    }

    async fn release(&self, key: &DedupKey) -> worker::Result<()> {
        self.ask(key, "/release").await.map(drop)
    }
}
