//! Test support, shared by the native tests, the fuzz targets and the benches
//! (feature `testing`): an in-memory configuration source, and a platform of
//! fakes that drives an [`Ingress`] exactly as the Worker glue does, with the
//! strict-dedup [key table](crate::key_table) behind its store.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::config::{ConfigSource, DedupMode, UrlParts};
use crate::dedup::{Claim, DedupKey};
use crate::ingress::{BodyRead, Ingress, Need, Reply, Send};
use crate::key_table::{apply, Row, TableAnswer, TableRequest, Write};
use crate::signature::sign;

/// An in-memory configuration source.
#[derive(Debug, Default, Clone)]
pub struct FakeSource {
    vars: HashMap<String, String>,
    kv: HashSet<String>,
    queues: HashSet<String>,
    durable_objects: HashSet<String>,
    /// See [`FakeSource::resolving_whsec_names`].
    whsec_names_resolve: bool,
}

impl FakeSource {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
    pub fn with_kv(mut self, name: &str) -> Self {
        self.kv.insert(name.into());
        self
    }
    pub fn with_queue(mut self, name: &str) -> Self {
        self.queues.insert(name.into());
        self
    }
    pub fn with_durable_object(mut self, name: &str) -> Self {
        self.durable_objects.insert(name.into());
        self
    }
    /// Binds `name` as a KV namespace, a queue producer and a Durable Object
    /// namespace at once: for inputs that say a binding exists, not of what
    /// kind.
    pub fn with_binding(self, name: &str) -> Self {
        self.with_kv(name)
            .with_queue(name)
            .with_durable_object(name)
    }
    /// An env from a `.dev.vars`-like text, an item a line: `NAME=value` sets a var
    /// or secret (split at the first `=`, nothing trimmed, a later line wins),
    /// `@NAME` is a [binding](Self::with_binding) of any kind, and any other line
    /// is ignored. Not dotenv: no quotes, no comments. The fuzz targets' input.
    pub fn from_vars(text: &str) -> Self {
        text.lines()
            .fold(Self::new(), |source, line| match line.strip_prefix('@') {
                Some(binding) => source.with_binding(binding),
                None => match line.split_once('=') {
                    Some((name, value)) => source.with(name, value),
                    None => source,
                },
            })
    }
    /// A name that itself starts with `whsec_` and is not set reads as its own
    /// value, as if a secret of that name held it: a ROUTES input alone then
    /// feeds `signing_secret` values to the whsec decoder (the fuzz targets).
    pub fn resolving_whsec_names(mut self) -> Self {
        self.whsec_names_resolve = true;
        self
    }
    /// The smallest valid configuration: `WEBHOOK_SECRET` is [`SECRET`].
    pub fn minimal() -> Self {
        Self::new()
            .with("WEBHOOK_SECRET", SECRET)
            .with_kv(crate::config::DEDUP_BINDING)
    }
}

impl ConfigSource for FakeSource {
    fn text(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned().or_else(|| {
            (self.whsec_names_resolve && name.starts_with("whsec_")).then(|| name.to_string())
        })
    }
    fn has_kv(&self, name: &str) -> bool {
        self.kv.contains(name)
    }
    fn has_queue(&self, name: &str) -> bool {
        self.queues.contains(name)
    }
    fn has_durable_object(&self, name: &str) -> bool {
        self.durable_objects.contains(name)
    }
    // The url crate implements the same WHATWG standard as the runtime.
    fn parse_url(&self, text: &str) -> Option<UrlParts> {
        let url = url::Url::parse(text).ok()?;
        Some(UrlParts {
            scheme: url.scheme().to_string(),
            host: url.host_str().unwrap_or_default().to_string(),
        })
    }
}

/// The webhook secret of [`FakeSource::minimal`].
pub const SECRET: &str = "test_secret";

/// `X-LeadNest-Signature` for `body` under [`SECRET`].
pub fn signed(body: &str) -> String {
    sign(SECRET.as_bytes(), body.as_bytes())
}

/// The platform the glue drives an [`Ingress`] with, made of fakes: a body, the
/// core's own HMAC (as WebCrypto would answer), a dedup store that is the
/// strict-dedup key table over a map, queues that record what they are sent,
/// and a clock that moves only when the machine waits. Faults are counters:
/// each one makes that many of the next operations fail.
#[derive(Default)]
pub struct FakePlatform<'w> {
    /// The request body.
    pub body: Vec<u8>,
    /// Instead of reading `body`: what reading the body gives.
    pub body_read: Option<BodyRead>,
    /// Unix milliseconds.
    pub now_ms: i64,
    /// The store's rows, as the Durable Object keeps them.
    pub rows: RefCell<HashMap<String, Row>>,
    /// Failing claims, sends, records and releases to come.
    pub failing_claims: u32,
    pub failing_sends: usize,
    pub failing_records: u32,
    pub failing_releases: u32,
    /// Every message sent, in order.
    pub sent: Vec<Send>,
    /// The needs met, in order, by name.
    pub steps: Vec<&'static str>,
    /// Run at each wait, with the platform, as the world moves on meanwhile.
    pub during_wait: Vec<WaitHook<'w>>,
}

/// What happens elsewhere while a request waits.
pub type WaitHook<'w> = Box<dyn FnOnce(&mut FakePlatform<'w>) + 'w>;

impl FakePlatform<'_> {
    /// A platform whose request carries `body`, at `now_ms`.
    pub fn new(body: &str, now_ms: i64) -> Self {
        Self {
            body: body.as_bytes().to_vec(),
            now_ms,
            ..Self::default()
        }
    }

    /// Meets one need, as the glue would; `false` once the reply is reached.
    /// `token` names the request to the key table.
    pub fn step(&mut self, ingress: &mut Ingress<'_>, token: &str) -> bool {
        match ingress.need() {
            Need::ReadBody { limit, .. } => {
                self.steps.push("read_body");
                let read = self.body_read.unwrap_or(if self.body.len() > limit {
                    BodyRead::TooLarge
                } else {
                    BodyRead::Complete {
                        len: self.body.len(),
                    }
                });
                ingress.body_read(read);
            }
            Need::CheckSignature { secrets, claimed } => {
                self.steps.push("check_signature");
                let matched = secrets.check(claimed, &self.body);
                let body = self.body.clone();
                ingress.signature_checked(&matched, || body);
            }
            Need::Claim { key, store } => {
                self.steps.push("claim");
                if self.failing_claims > 0 {
                    self.failing_claims -= 1;
                    ingress.claimed(Err("read failed".into()));
                } else if store == DedupMode::Durable {
                    self.ask_table(ingress, token);
                } else {
                    let claim = self.claim(key);
                    ingress.claimed(Ok(claim));
                }
            }
            Need::Wait { ms } => {
                self.steps.push("wait");
                self.now_ms += i64::try_from(ms).unwrap_or(i64::MAX);
                if !self.during_wait.is_empty() {
                    let change = self.during_wait.remove(0);
                    change(self);
                }
                ingress.waited();
            }
            Need::HandOff { sends, .. } => {
                self.steps.push("hand_off");
                let failed = self.failing_sends.min(sends.len());
                self.failing_sends -= failed;
                self.sent.extend(sends.iter().skip(failed).cloned());
                ingress.handed_off(failed);
            }
            Need::Release { .. } => {
                self.steps.push("release");
                if self.failing_releases > 0 {
                    self.failing_releases -= 1;
                    ingress.table_answered(None);
                } else {
                    self.ask_table(ingress, token);
                }
            }
            Need::Record {
                key,
                ttl_seconds,
                store,
                ..
            } => {
                self.steps.push("record");
                if self.failing_records > 0 {
                    self.failing_records -= 1;
                    ingress.recorded(Err("write failed".to_string()));
                } else if store == DedupMode::Durable {
                    self.ask_table(ingress, token);
                } else {
                    self.ask(TableRequest::Record {
                        key: key.as_str().into(),
                        token: token.into(),
                        ttl_ms: i64::try_from(ttl_seconds * 1000).unwrap_or(i64::MAX),
                    });
                    ingress.recorded(Ok(()));
                }
            }
            Need::Reply(_) => return false,
        }
        true
    }

    /// Drives `ingress` to its reply.
    pub fn drive(&mut self, mut ingress: Ingress<'_>, token: &str) -> Reply {
        while self.step(&mut ingress, token) {}
        ingress
            .into_reply()
            .unwrap_or_else(|| Reply::refusal(&crate::error::Rejection::NotFound, None, false))
    }

    /// The key-table request the need at hand makes, asked and answered.
    fn ask_table(&self, ingress: &mut Ingress<'_>, token: &str) {
        let answer = ingress
            .table_request(|| token.to_string())
            .map(|(_, ask)| self.ask(ask));
        ingress.table_answered(answer);
    }

    /// A KV read of `key`, over the same rows: a live record is a duplicate;
    /// a read takes nothing.
    fn claim(&self, key: &DedupKey) -> Claim {
        let rows = self.rows.borrow();
        match rows.get(key.as_str()) {
            Some(row) if row.holder.is_none() && self.now_ms < row.expires_ms => Claim::Duplicate,
            _ => Claim::New,
        }
    }

    /// One request to the key table, as the Durable Object performs it.
    pub fn ask(&self, request: TableRequest) -> TableAnswer {
        let mut rows = self.rows.borrow_mut();
        let (answer, write) = apply(&request, rows.get(request.key()), self.now_ms);
        match write {
            Write::Nothing => {}
            Write::Put(row) => {
                rows.insert(request.key().to_string(), row);
            }
            Write::Delete => {
                rows.remove(request.key());
            }
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn from_vars_reads_vars_and_bindings() {
        let source = FakeSource::from_vars(
            "WEBHOOK_SECRET=old\r\n\
             ROUTES=[{\"name\":\"crm\",\"url\":\"https://crm.example/?a=b\"},{\"name\":\"q\",\"queue\":\"Q\"}]\n\
             @DEDUP\n@Q\nnot a var\nTIMESTAMP_TOLERANCE_SECONDS= 60 \nWEBHOOK_SECRET=new",
        );
        // Split at the first `=`; a later line wins; values are not trimmed.
        assert_eq!(source.text("WEBHOOK_SECRET").as_deref(), Some("new"));
        assert!(source.text("ROUTES").is_some_and(|r| r.contains("?a=b")));
        assert_eq!(
            source.text("TIMESTAMP_TOLERANCE_SECONDS").as_deref(),
            Some(" 60 ")
        );
        assert_eq!(source.text("not a var"), None);
        // `@NAME` answers as every kind of binding.
        for name in ["DEDUP", "Q"] {
            assert!(
                source.has_kv(name) && source.has_queue(name) && source.has_durable_object(name)
            );
        }
        assert!(!source.has_kv("WEBHOOK_SECRET") && !source.has_queue("ROUTES"));
        let config = Config::load(&source).unwrap();
        assert_eq!((config.routes.len(), config.tolerance_seconds), (2, 60));
        assert!(Config::load(&FakeSource::from_vars("WEBHOOK_SECRET=s")).is_err());
    }

    #[test]
    fn whsec_names_resolve_only_when_asked() {
        let name = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let source = FakeSource::from_vars("whsec_set=value");
        assert_eq!(source.text(name), None);
        let source = source.resolving_whsec_names();
        assert_eq!(source.text(name).as_deref(), Some(name));
        assert_eq!(source.text("whsec_set").as_deref(), Some("value"));
        assert_eq!(source.text("CRM_SIGNING_SECRET"), None);
    }
}
