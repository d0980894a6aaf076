//! The dedup store the configuration chose.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use worker::Env;

use super::durable::DurableDedup;
use super::kv::KvDedup;
use crate::config::{Config, DedupMode, DEDUP_BINDING, DEDUP_OBJECTS_BINDING};
use crate::dedup::{Claim, DedupKey, DedupStore, RecentKeys};

thread_local! {
    static RECENT: OnceCell<Rc<RefCell<RecentKeys>>> = const { OnceCell::new() };
}

/// The keys this isolate recorded (see [`RecentKeys`]), made on first use.
pub(crate) fn recent_keys(capacity: usize) -> Rc<RefCell<RecentKeys>> {
    RECENT.with(|cell| {
        cell.get_or_init(|| Rc::new(RefCell::new(RecentKeys::new(capacity))))
            .clone()
    })
}

pub(crate) enum Store {
    Kv(KvDedup),
    Durable(DurableDedup),
}

impl Store {
    /// The configured store; `None` when its binding cannot be opened.
    pub(crate) fn open(env: &Env, config: &Config) -> Option<Self> {
        match config.dedup_mode {
            DedupMode::Kv => KvDedup::open(env, DEDUP_BINDING).map(Self::Kv),
            DedupMode::Durable => env
                .durable_object(DEDUP_OBJECTS_BINDING)
                .ok()
                .map(|ns| Self::Durable(DurableDedup::new(ns))),
        }
    }
}

impl DedupStore for Store {
    // Only logged, never shown: a short description is enough.
    type Error = String;

    async fn claim(&self, key: &DedupKey) -> Result<Claim, String> {
        match self {
            Self::Kv(store) => store.claim(key).await,
            Self::Durable(store) => store.claim(key).await.map_err(|e| e.to_string()),
        }
    }

    async fn record(&self, key: &DedupKey, event: &str, ttl: u64) -> Result<(), String> {
        match self {
            Self::Kv(store) => store.record(key, event, ttl).await,
            Self::Durable(store) => store
                .record(key, event, ttl)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    async fn release(&self, key: &DedupKey) -> Result<(), String> {
        match self {
            Self::Kv(store) => store.release(key).await,
            Self::Durable(store) => store.release(key).await.map_err(|e| e.to_string()),
        }
    }
}
