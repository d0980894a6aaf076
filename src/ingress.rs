//! The ingress decision, SPEC section 3 steps 1–5 and the route match: pure, so
//! the glue only does the I/O (dedup store, hand-off) around it.

use serde::Serialize;

use crate::config::Config;
use crate::dedup::{Claim, DedupKey, DedupStore};
use crate::deliver::Delivery;
use crate::error::{json, Rejection};
use crate::payload::{check_freshness, parse, Envelope};
use crate::routes::{matching, Route};
use crate::signature::VerifiedBody;

/// The ingress path.
pub const INGRESS_PATH: &str = "/webhooks/leadnest";

/// The path of a serialized WHATWG URL (`Request.url`), as sent: not decoded,
/// without query or fragment. Serialization never leaves `?` or `#` unescaped
/// in a path, and a special scheme's path always starts with the first `/`
/// after the host.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let Some(start) = url[after_scheme..].find('/') else {
        return "/";
    };
    let path = &url[after_scheme + start..];
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

/// Step 1 on the declared `Content-Length`, before any byte is read. A header
/// that is not a number is left to the check on the bytes read.
pub fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), Rejection> {
    // All digits but too many for u64 is too large, not unreadable.
    let declared = content_length
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .map(|v| v.parse::<u64>().unwrap_or(u64::MAX));
    match declared {
        Some(length) if length > limit as u64 => Err(Rejection::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// An authentic, fresh, well-formed event and where it goes.
#[derive(Debug)]
pub struct Admitted<'c> {
    pub envelope: Envelope,
    pub dedup_key: DedupKey,
    /// The routes that take the event, in configuration order.
    pub routes: Vec<&'c Route>,
}

impl Admitted<'_> {
    /// The names of the routes, for the answer and the log.
    pub fn route_names(&self) -> Vec<&str> {
        self.routes.iter().map(|r| r.name.as_str()).collect()
    }
}

/// Steps 1 (on the bytes read) to 5, then the dedup key and the matching routes.
/// `now` is unix seconds from the platform's clock.
pub fn admit<'c>(
    config: &'c Config,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Admitted<'c>, Rejection> {
    if body.len() > config.max_body_bytes {
        return Err(Rejection::PayloadTooLarge {
            limit: config.max_body_bytes,
        });
    }
    let verified = config.secrets.verify(signature, body)?;
    admit_verified(config, verified, now)
}

/// Steps 4 and 5, then the dedup key and the matching routes, for a body whose
/// signature has passed (by [`Secrets::verify`](crate::signature::Secrets::verify)
/// or [`Secrets::verify_with`](crate::signature::Secrets::verify_with)).
pub fn admit_verified<'c>(
    config: &'c Config,
    verified: VerifiedBody<'_>,
    now: i64,
) -> Result<Admitted<'c>, Rejection> {
    let envelope = parse(verified)?;
    check_freshness(envelope.unix_seconds, now, config.tolerance_seconds)?;
    let dedup_key = DedupKey::of(&envelope, verified);
    let routes = matching(&config.routes, &envelope.event).collect();
    Ok(Admitted {
        envelope,
        dedup_key,
        routes,
    })
}

/// Hands an admitted event to its routes: the sends that must happen before the
/// answer. Implemented by the glue with queues; by fakes in tests.
// Workers run one thread per isolate, so the futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait HandOff {
    /// Sends what must be sent before the answer; returns the HTTP deliveries
    /// still to make after it (when there is no delivery queue).
    async fn hand_off(&self, admitted: &Admitted<'_>) -> Result<Vec<Delivery>, Rejection>;
}

/// Waits, on the platform's clock. Workers run one thread per isolate, so the
/// future need not be Send.
#[allow(async_fn_in_trait)]
pub trait Timer {
    async fn sleep(&self, ms: u64);
}

/// How long a redelivery waits for another request that holds its event's
/// claim, and how often it asks again: "a few seconds", then 503 so LeadNest
/// retries later.
pub const CLAIM_WAIT_MS: u64 = 5_000;
pub const CLAIM_POLL_MS: u64 = 250;
/// Tries of a record or a release: a lost one costs a duplicate delivery or a
/// lease's wait, so a passing fault is worth a second and third try.
pub const STORE_WRITE_TRIES: u32 = 3;

/// How an admitted event ended.
#[derive(Debug)]
pub enum Settled {
    /// Already recorded: it was handed off, and nothing is handed off again.
    Duplicate,
    /// Handed off. `after_answer` is what to deliver after the 200;
    /// `record_error` is a dedup write that failed (logged, the answer stays 200).
    Accepted {
        after_answer: Vec<Delivery>,
        record_error: Option<String>,
    },
}

/// SPEC steps 6 to 8: dedup, hand-off, record. A failed dedup read or hand-off
/// answers 503 with nothing recorded, so LeadNest's retry is processed. A
/// redelivery that finds the event claimed by a request still at work waits
/// for it: `duplicate` once it recorded, its place once it released, else 503.
/// The glue runs this to its end even when LeadNest's connection is cut.
pub async fn settle(
    store: &impl DedupStore,
    routes: &impl HandOff,
    timer: &impl Timer,
    admitted: &Admitted<'_>,
    ttl_seconds: u64,
) -> Result<Settled, Rejection> {
    const STORE: &str = "The dedup store";
    let key = &admitted.dedup_key;
    let mut waited = 0;
    loop {
        match store.claim(key).await {
            Err(_) => return Err(Rejection::Unavailable(STORE)),
            Ok(Claim::Duplicate) => return Ok(Settled::Duplicate),
            Ok(Claim::New) => break,
            Ok(Claim::Busy) if waited >= CLAIM_WAIT_MS => return Err(Rejection::InProgress),
            Ok(Claim::Busy) => {
                timer.sleep(CLAIM_POLL_MS).await;
                waited += CLAIM_POLL_MS;
            }
        }
    }
    let after_answer = match routes.hand_off(admitted).await {
        Ok(after_answer) => after_answer,
        Err(rejection) => {
            // A claim not released holds LeadNest's retry off until its lease
            // ends (the retry waits, then is told 503): never a duplicate.
            for _ in 0..STORE_WRITE_TRIES {
                if store.release(key).await.is_ok() {
                    break;
                }
            }
            return Err(rejection);
        }
    };
    let mut record_error = None;
    for _ in 0..STORE_WRITE_TRIES {
        match store
            .record(key, &admitted.envelope.event, ttl_seconds)
            .await
        {
            Ok(()) => {
                record_error = None;
                break;
            }
            Err(error) => record_error = Some(error.to_string()),
        }
    }
    Ok(Settled::Accepted {
        after_answer,
        record_error,
    })
}

#[derive(Serialize)]
struct StatusBody<'a> {
    status: &'a str,
    event: &'a str,
    message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routes: Option<&'a [&'a str]>,
}

/// `200 {"status":"accepted","event":…,"message_id":…,"routes":[…]}`.
pub fn accepted_body(envelope: &Envelope, routes: &[&str]) -> String {
    json(&StatusBody {
        status: "accepted",
        event: &envelope.event,
        message_id: envelope.message_id.as_deref(),
        routes: Some(routes),
    })
}

/// `200 {"status":"duplicate","event":…,"message_id":…}`.
pub fn duplicate_body(envelope: &Envelope) -> String {
    json(&StatusBody {
        status: "duplicate",
        event: &envelope.event,
        message_id: envelope.message_id.as_deref(),
        routes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_of_keeps_the_path_as_sent() {
        for (url, path) in [
            (
                "https://edge.example.com/webhooks/leadnest",
                "/webhooks/leadnest",
            ),
            (
                "http://127.0.0.1:8787/webhooks/leadnest?x=1#y",
                "/webhooks/leadnest",
            ),
            ("https://edge.example.com", "/"),
            ("https://edge.example.com/", "/"),
            (
                "https://edge.example.com/webhooks%2Fleadnest",
                "/webhooks%2Fleadnest",
            ),
            (
                "https://edge.example.com/webhooks/leadnest/",
                "/webhooks/leadnest/",
            ),
            ("https://edge.example.com/health#", "/health"),
        ] {
            assert_eq!(path_of(url), path, "{url}");
        }
    }
    use crate::config::tests::FakeSource;
    use crate::signature::sign;

    const NOW: i64 = 1_705_314_600; // 2024-01-15T10:30:00Z
    const BODY: &str = r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc123"}}"#;

    fn config(source: FakeSource) -> Config {
        Config::load(&source).unwrap()
    }

    fn signed(body: &str) -> String {
        sign(b"test_secret", body.as_bytes())
    }

    #[test]
    fn admits_a_signed_fresh_event_and_matches_routes() {
        let config = config(FakeSource::minimal().with(
            "ROUTES",
            r#"[{"name":"mail","url":"https://a.example","events":["email.*"]},
                {"name":"subs","url":"https://b.example","events":["subscriber.*"]}]"#,
        ));
        let admitted = admit(&config, Some(&signed(BODY)), BODY.as_bytes(), NOW + 10).unwrap();
        assert_eq!(admitted.envelope.event, "email.opened");
        assert_eq!(admitted.route_names(), ["mail"]);
        assert_eq!(
            accepted_body(&admitted.envelope, &admitted.route_names()),
            r#"{"status":"accepted","event":"email.opened","message_id":"msg_abc123","routes":["mail"]}"#
        );
        assert_eq!(
            duplicate_body(&admitted.envelope),
            r#"{"status":"duplicate","event":"email.opened","message_id":"msg_abc123"}"#
        );
    }

    #[test]
    fn steps_run_in_spec_order() {
        let config = config(FakeSource::minimal().with("MAX_BODY_BYTES", "100"));
        let big = format!("{BODY}{}", " ".repeat(100));
        // Too large wins over a missing signature.
        assert_eq!(
            admit(&config, None, big.as_bytes(), NOW)
                .unwrap_err()
                .code(),
            "payload_too_large"
        );
        // A missing signature wins over a bad body.
        assert_eq!(
            admit(&config, None, b"nope", NOW).unwrap_err().code(),
            "missing_signature"
        );
        // A bad signature wins over a bad body: nothing is parsed before it passes.
        assert_eq!(
            admit(&config, Some(&"0".repeat(64)), b"nope", NOW)
                .unwrap_err()
                .code(),
            "invalid_signature"
        );
        // A bad body wins over staleness.
        let stale_and_bad = r#"{"event":"x","timestamp":"2000-01-01T00:00:00Z","data":{}}"#;
        assert_eq!(
            admit(
                &config,
                Some(&signed(stale_and_bad)),
                stale_and_bad.as_bytes(),
                NOW
            )
            .unwrap_err()
            .code(),
            "invalid_payload"
        );
        let config = self::config(FakeSource::minimal());
        assert_eq!(
            admit(&config, Some(&signed(BODY)), BODY.as_bytes(), NOW + 301)
                .unwrap_err()
                .code(),
            "stale_timestamp"
        );
        assert_eq!(
            admit(&config, Some(&signed(BODY)), BODY.as_bytes(), NOW - 301)
                .unwrap_err()
                .code(),
            "stale_timestamp"
        );
    }

    #[test]
    fn unrouted_event_is_admitted_with_no_routes() {
        let config = config(FakeSource::minimal());
        let admitted = admit(&config, Some(&signed(BODY)), BODY.as_bytes(), NOW).unwrap();
        assert!(admitted.routes.is_empty());
        assert!(accepted_body(&admitted.envelope, &[]).ends_with(r#""routes":[]}"#));
    }

    mod settle {
        use super::*;
        use futures_util::FutureExt;
        use std::cell::{Cell, RefCell};
        use std::collections::{HashSet, VecDeque};

        /// An in-memory store that can be told to fail, and scripted to say
        /// `Busy` before it answers from its keys.
        #[derive(Default)]
        struct MemoryStore {
            keys: RefCell<HashSet<String>>,
            busy_for: Cell<u32>,
            fail_claim: bool,
            record_failures: Cell<u32>,
            release_failures: Cell<u32>,
            released: Cell<u32>,
            records: Cell<u32>,
        }

        impl DedupStore for MemoryStore {
            type Error = &'static str;
            async fn claim(&self, key: &DedupKey) -> Result<Claim, &'static str> {
                if self.fail_claim {
                    return Err("read failed");
                }
                if self.busy_for.get() > 0 {
                    self.busy_for.set(self.busy_for.get() - 1);
                    return Ok(Claim::Busy);
                }
                Ok(if self.keys.borrow().contains(key.as_str()) {
                    Claim::Duplicate
                } else {
                    Claim::New
                })
            }
            async fn record(&self, key: &DedupKey, _: &str, _: u64) -> Result<(), &'static str> {
                self.records.set(self.records.get() + 1);
                if self.record_failures.get() > 0 {
                    self.record_failures.set(self.record_failures.get() - 1);
                    return Err("write failed");
                }
                self.keys.borrow_mut().insert(key.as_str().to_string());
                Ok(())
            }
            async fn release(&self, _: &DedupKey) -> Result<(), &'static str> {
                self.released.set(self.released.get() + 1);
                if self.release_failures.get() > 0 {
                    self.release_failures.set(self.release_failures.get() - 1);
                    return Err("release failed");
                }
                Ok(())
            }
        }

        #[derive(Default)]
        struct Routes {
            fail: bool,
            calls: Cell<u32>,
        }

        impl HandOff for Routes {
            async fn hand_off(&self, _: &Admitted<'_>) -> Result<Vec<Delivery>, Rejection> {
                self.calls.set(self.calls.get() + 1);
                if self.fail {
                    Err(Rejection::Unavailable("A queue"))
                } else {
                    Ok(Vec::new())
                }
            }
        }

        /// A clock that only counts; `on_sleep` runs at each wait, so a test
        /// can change the world while the request waits.
        #[derive(Default)]
        struct Clock {
            slept_ms: Cell<u64>,
            on_sleep: RefCell<VecDeque<Box<dyn FnOnce()>>>,
        }

        impl Timer for Clock {
            async fn sleep(&self, ms: u64) {
                self.slept_ms.set(self.slept_ms.get() + ms);
                if let Some(change) = self.on_sleep.borrow_mut().pop_front() {
                    change();
                }
            }
        }

        fn run_at(
            store: &MemoryStore,
            routes: &Routes,
            clock: &Clock,
        ) -> Result<Settled, Rejection> {
            let config = config(FakeSource::minimal());
            let admitted = admit(&config, Some(&signed(BODY)), BODY.as_bytes(), NOW).unwrap();
            settle(store, routes, clock, &admitted, 60)
                .now_or_never()
                .unwrap()
        }

        fn run(store: &MemoryStore, routes: &Routes) -> Result<Settled, Rejection> {
            run_at(store, routes, &Clock::default())
        }

        #[test]
        fn new_then_duplicate() {
            let (store, routes) = (MemoryStore::default(), Routes::default());
            assert!(matches!(
                run(&store, &routes),
                Ok(Settled::Accepted {
                    record_error: None,
                    ..
                })
            ));
            assert!(matches!(run(&store, &routes), Ok(Settled::Duplicate)));
            assert_eq!(routes.calls.get(), 1, "a duplicate is not handed off");
        }

        #[test]
        fn a_failed_read_is_503_and_hands_off_nothing() {
            let store = MemoryStore {
                fail_claim: true,
                ..Default::default()
            };
            let routes = Routes::default();
            assert_eq!(run(&store, &routes).unwrap_err().code(), "unavailable");
            assert_eq!(routes.calls.get(), 0);
        }

        #[test]
        fn a_failed_hand_off_is_503_records_nothing_and_releases() {
            let store = MemoryStore::default();
            let failing = Routes {
                fail: true,
                ..Default::default()
            };
            assert_eq!(run(&store, &failing).unwrap_err().code(), "unavailable");
            assert!(store.keys.borrow().is_empty());
            assert_eq!(store.released.get(), 1);
            // LeadNest's retry is processed.
            assert!(matches!(
                run(&store, &Routes::default()),
                Ok(Settled::Accepted { .. })
            ));
        }

        #[test]
        fn a_failed_release_is_tried_again() {
            let store = MemoryStore::default();
            store.release_failures.set(2);
            let failing = Routes {
                fail: true,
                ..Default::default()
            };
            assert_eq!(run(&store, &failing).unwrap_err().code(), "unavailable");
            assert_eq!(store.released.get(), 3);
        }

        #[test]
        fn a_failed_record_is_tried_again_then_still_accepts() {
            let store = MemoryStore::default();
            store.record_failures.set(1);
            assert!(matches!(
                run(&store, &Routes::default()),
                Ok(Settled::Accepted {
                    record_error: None,
                    ..
                })
            ));
            assert_eq!(store.records.get(), 2);

            let store = MemoryStore::default();
            store.record_failures.set(STORE_WRITE_TRIES);
            let routes = Routes::default();
            match run(&store, &routes) {
                Ok(Settled::Accepted {
                    record_error: Some(error),
                    ..
                }) => assert_eq!(error, "write failed"),
                other => panic!("{other:?}"),
            }
            assert_eq!(routes.calls.get(), 1);
        }

        #[test]
        fn a_redelivery_waits_for_the_first_copy_then_is_a_duplicate() {
            // The first copy holds the claim for two polls, then records.
            let store = std::rc::Rc::new(MemoryStore::default());
            store.busy_for.set(2);
            let clock = Clock::default();
            let recorder = store.clone();
            clock.on_sleep.borrow_mut().push_back(Box::new(|| {}));
            clock.on_sleep.borrow_mut().push_back(Box::new(move || {
                let config = config(FakeSource::minimal());
                let admitted = admit(&config, Some(&signed(BODY)), BODY.as_bytes(), NOW).unwrap();
                recorder
                    .keys
                    .borrow_mut()
                    .insert(admitted.dedup_key.as_str().to_string());
            }));
            let routes = Routes::default();
            assert!(matches!(
                run_at(&store, &routes, &clock),
                Ok(Settled::Duplicate)
            ));
            assert_eq!(clock.slept_ms.get(), 2 * CLAIM_POLL_MS);
            assert_eq!(routes.calls.get(), 0);
        }

        #[test]
        fn a_redelivery_takes_over_a_released_claim() {
            let store = MemoryStore::default();
            store.busy_for.set(3);
            let routes = Routes::default();
            assert!(matches!(run(&store, &routes), Ok(Settled::Accepted { .. })));
            assert_eq!(routes.calls.get(), 1);
        }

        #[test]
        fn a_redelivery_that_cannot_tell_is_503_never_duplicate() {
            let store = MemoryStore::default();
            store.busy_for.set(u32::MAX);
            let clock = Clock::default();
            let routes = Routes::default();
            let rejection = run_at(&store, &routes, &clock).unwrap_err();
            assert_eq!((rejection.status(), rejection.code()), (503, "unavailable"));
            assert_eq!(rejection, Rejection::InProgress);
            assert_eq!(clock.slept_ms.get(), CLAIM_WAIT_MS);
            assert_eq!(routes.calls.get(), 0);
        }
    }

    #[test]
    fn declared_length() {
        assert!(check_declared_length(Some("100"), 100).is_ok());
        assert!(check_declared_length(None, 100).is_ok());
        assert!(check_declared_length(Some("lies"), 100).is_ok());
        assert_eq!(
            check_declared_length(Some("101"), 100),
            Err(Rejection::PayloadTooLarge { limit: 100 })
        );
        assert!(check_declared_length(Some("99999999999999999999999"), 100).is_err());
    }
}
