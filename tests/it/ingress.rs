//! SPEC section 3, row by row and in order, through the [`Ingress`] machine the
//! Worker runs, with the platform faked: body, HMAC, the key table, queues, clock.

use std::cell::RefCell;

use leadnest_edge::config::{Config, DELIVERY_QUEUE_BINDING};
use leadnest_edge::dedup::RecentKeys;
use leadnest_edge::delivery::Delivery;
use leadnest_edge::ingress::{
    BodyRead, Ingress, Need, QueueMessage, Reply, RequestHead, Unread, CLAIM_WAIT_MS,
    STORE_WRITE_TRIES,
};
use leadnest_edge::key_table::{TableAnswer, CLAIM_LEASE_MS};
use leadnest_edge::testing::{signed, FakePlatform, FakeSource};
use serde_json::Value;

/// 2024-01-15T10:30:00Z, the events' timestamp.
const NOW: i64 = 1_705_314_600;
const BODY: &str = r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc123"}}"#;

fn config(source: FakeSource) -> Config {
    Config::load(&source).unwrap()
}

/// The routes below, with strict dedup: the key table holds claims, so
/// redeliveries during the first copy and releases are seen.
fn routed() -> Config {
    config(
        routed_source()
            .with("DEDUP_MODE", "durable")
            .with_durable_object("DEDUP_OBJECTS"),
    )
}

/// The same routes with KV dedup, the default.
fn routed_kv() -> Config {
    config(routed_source())
}

fn routed_source() -> FakeSource {
    FakeSource::minimal()
            .with_queue(DELIVERY_QUEUE_BINDING)
            .with_queue("ANALYTICS_QUEUE")
            .with(
                "ROUTES",
                r#"[{"name":"crm","url":"https://crm.example.com/hooks","events":["email.*"]},
                    {"name":"subs","url":"https://subs.example.com/hooks","events":["subscriber.*"]},
                    {"name":"analytics","queue":"ANALYTICS_QUEUE"}]"#,
            )
}

/// One request: the machine, driven to its reply by `platform`.
struct Request<'a> {
    config: &'a Config,
    memory: &'a RefCell<RecentKeys>,
    content_length: Option<String>,
    signature: Option<String>,
    now: i64,
}

impl<'a> Request<'a> {
    fn signed(config: &'a Config, memory: &'a RefCell<RecentKeys>, body: &str) -> Self {
        Self {
            config,
            memory,
            content_length: Some(body.len().to_string()),
            signature: Some(signed(body)),
            now: NOW,
        }
    }

    fn machine(&self) -> Ingress<'a> {
        Ingress::new(
            self.config,
            self.memory,
            RequestHead {
                content_length: self.content_length.as_deref(),
                signature: self.signature.as_deref(),
            },
            self.now * 1000,
        )
    }

    fn run(&self, platform: &mut FakePlatform, token: &str) -> Reply {
        platform.steps.clear();
        platform.drive(self.machine(), token)
    }
}

fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap()
}

fn log(reply: &Reply) -> Value {
    serde_json::from_str(&reply.log_line(7).unwrap()).unwrap()
}

fn refused(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        (reply.status, json(reply)["error"].as_str()),
        (status, Some(code)),
        "{}",
        reply.body
    );
    let line = log(reply);
    assert_eq!(
        (line["outcome"].as_str(), line["reason"].as_str()),
        (Some("rejected"), Some(code))
    );
}

#[test]
fn step_1_a_declared_length_over_the_limit_is_413_before_any_byte_is_read() {
    let config = config(FakeSource::minimal().with("MAX_BODY_BYTES", "100"));
    let memory = RefCell::default();
    let mut request = Request::signed(&config, &memory, BODY);
    request.content_length = Some("101".into());
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    let reply = request.run(&mut platform, "a");
    refused(&reply, 413, "payload_too_large");
    assert!(platform.steps.is_empty(), "{:?}", platform.steps);
    assert_eq!(reply.unread, Some(Unread::Cancel));
    // Under wrangler dev the refused body is drained instead.
    let draining = self::config(
        FakeSource::minimal()
            .with("MAX_BODY_BYTES", "100")
            .with("DRAIN_REFUSED_BODIES", "true"),
    );
    let request = Request {
        config: &draining,
        ..request
    };
    assert_eq!(request.run(&mut platform, "a").unread, Some(Unread::Drain));
}

#[test]
fn step_1_only_a_numeric_content_length_bounds_the_read() {
    let config = config(FakeSource::minimal());
    let memory = RefCell::default();
    let mut request = Request::signed(&config, &memory, BODY);
    for (header, declared) in [
        (Some("120"), true),
        (Some(" 120 "), true),
        (Some("abc"), false),
        (Some("100, 100"), false),
        (Some("+5"), false),
        (Some(""), false),
        (None, false),
    ] {
        request.content_length = header.map(str::to_string);
        match request.machine().need() {
            Need::ReadBody { declared: got, .. } => assert_eq!(got, declared, "{header:?}"),
            other => panic!("{header:?}: {other:?}"),
        }
    }
}

#[test]
fn step_1_the_bytes_read_are_capped_too() {
    let config = config(FakeSource::minimal().with("MAX_BODY_BYTES", "100"));
    let memory = RefCell::default();
    let big = format!("{BODY}{}", " ".repeat(100));
    let mut request = Request::signed(&config, &memory, &big);
    request.content_length = None; // chunked: nothing declared
    let mut platform = FakePlatform::new(&big, NOW * 1000);
    // Too large wins over a missing signature.
    request.signature = None;
    let reply = request.run(&mut platform, "a");
    refused(&reply, 413, "payload_too_large");
    assert_eq!(platform.steps, ["read_body"]);
    // A body that breaks off is refused, never half-verified.
    platform.body_read = Some(BodyRead::Broken);
    refused(&request.run(&mut platform, "a"), 400, "invalid_payload");
}

#[test]
fn step_2_no_signature_is_401_missing_signature() {
    let config = routed();
    let memory = RefCell::default();
    let mut request = Request::signed(&config, &memory, "nope");
    request.signature = None;
    let mut platform = FakePlatform::new("nope", NOW * 1000);
    refused(&request.run(&mut platform, "a"), 401, "missing_signature");
    assert_eq!(platform.steps, ["read_body"]);
}

#[test]
fn step_3_a_signature_that_does_not_match_is_401_and_nothing_is_parsed() {
    let config = routed();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new("nope", NOW * 1000);
    for header in ["", "abc", &"0".repeat(63), &"g".repeat(64), &signed(BODY)] {
        let mut request = Request::signed(&config, &memory, "nope");
        request.signature = Some(header.to_string());
        // A bad signature wins over a bad body: the body is never parsed.
        refused(&request.run(&mut platform, "a"), 401, "invalid_signature");
        assert!(!platform.steps.contains(&"claim"));
    }
    assert!(platform.sent.is_empty());
}

#[test]
fn step_3_any_case_prefix_and_rotated_secrets_pass() {
    let config = config(FakeSource::minimal().with("WEBHOOK_SECRET", "old_secret, test_secret"));
    for header in [
        signed(BODY),
        signed(BODY).to_uppercase(),
        format!("sha256={}", signed(BODY)),
        format!("SHA256={}", signed(BODY)),
    ] {
        let memory = RefCell::default();
        let mut request = Request::signed(&config, &memory, BODY);
        request.signature = Some(header.clone());
        let mut platform = FakePlatform::new(BODY, NOW * 1000);
        let reply = request.run(&mut platform, "a");
        assert_eq!(json(&reply)["status"], "accepted", "{header}");
    }
}

#[test]
fn step_4_a_verified_body_that_is_not_an_event_is_400_naming_the_field() {
    let config = routed();
    let memory = RefCell::default();
    for (body, field) in [
        ("[1]", "JSON object"),
        (r#"{"timestamp":"2024-01-15T10:30:00Z","data":{}}"#, "event"),
        (
            r#"{"event":"x","timestamp":"2024-01-15T10:30:00Z","data":{}}"#,
            "event",
        ),
        (
            r#"{"event":"email.opened","timestamp":"2024-01-15","data":{}}"#,
            "timestamp",
        ),
        (
            r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":[]}"#,
            "data",
        ),
    ] {
        let mut platform = FakePlatform::new(body, NOW * 1000);
        let reply = Request::signed(&config, &memory, body).run(&mut platform, "a");
        refused(&reply, 400, "invalid_payload");
        assert!(
            json(&reply)["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            reply.body
        );
    }
}

#[test]
fn step_5_a_timestamp_outside_the_tolerance_is_401_stale_on_both_sides() {
    let config = routed();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    for now in [NOW + 301, NOW - 301] {
        let mut request = Request::signed(&config, &memory, BODY);
        request.now = now;
        refused(&request.run(&mut platform, "a"), 401, "stale_timestamp");
        assert!(!platform.steps.contains(&"claim"));
    }
    // A bad body wins over staleness.
    let stale_and_bad = r#"{"event":"x","timestamp":"2000-01-01T00:00:00Z","data":{}}"#;
    let mut platform = FakePlatform::new(stale_and_bad, NOW * 1000);
    refused(
        &Request::signed(&config, &memory, stale_and_bad).run(&mut platform, "a"),
        400,
        "invalid_payload",
    );
}

#[test]
fn steps_6_to_8_accept_hand_off_record_then_duplicate() {
    let config = routed();
    let memory = RefCell::new(RecentKeys::new(0)); // every redelivery asks the store
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    let request = Request::signed(&config, &memory, BODY);

    let reply = request.run(&mut platform, "a");
    assert_eq!(
        platform.steps,
        [
            "read_body",
            "check_signature",
            "claim",
            "hand_off",
            "record"
        ]
    );
    assert_eq!(
        reply.body,
        r#"{"status":"accepted","event":"email.opened","message_id":"msg_abc123","routes":["crm","analytics"]}"#
    );
    let line = log(&reply);
    assert_eq!(
        (line["outcome"].as_str(), line["duration_ms"].as_u64()),
        (Some("accepted"), Some(7))
    );
    assert_eq!(line["routes"], serde_json::json!(["crm", "analytics"]));
    // One delivery message per HTTP route through DELIVERY_QUEUE; the payload for the queue route.
    assert_eq!(platform.sent.len(), 2);
    assert_eq!(platform.sent[0].binding, DELIVERY_QUEUE_BINDING);
    let QueueMessage::Delivery(bytes) = &platform.sent[0].message else {
        panic!()
    };
    let delivery = Delivery::decode(bytes).unwrap();
    assert_eq!(
        (delivery.route.as_str(), delivery.body.as_slice()),
        ("crm", BODY.as_bytes())
    );
    assert_eq!(delivery.signature, signed(BODY));
    assert_eq!(
        (platform.sent[1].binding.as_str(), &platform.sent[1].message),
        ("ANALYTICS_QUEUE", &QueueMessage::Payload)
    );
    assert!(reply.after_answer.is_empty());

    // LeadNest redelivers: a duplicate, nothing handed off again.
    let reply = request.run(&mut platform, "b");
    assert_eq!(platform.steps, ["read_body", "check_signature", "claim"]);
    assert_eq!(
        reply.body,
        r#"{"status":"duplicate","event":"email.opened","message_id":"msg_abc123"}"#
    );
    assert_eq!(log(&reply)["outcome"], "duplicate");
    assert_eq!(platform.sent.len(), 2);
}

#[test]
fn step_6_the_isolate_remembers_what_it_recorded_without_a_store_read() {
    let config = routed();
    let memory = RefCell::new(RecentKeys::new(100));
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    let request = Request::signed(&config, &memory, BODY);
    request.run(&mut platform, "a");
    let reply = request.run(&mut platform, "b");
    assert_eq!(json(&reply)["status"], "duplicate");
    assert_eq!(platform.steps, ["read_body", "check_signature"]);
}

#[test]
fn step_6_a_store_that_cannot_be_read_is_503_and_hands_off_nothing() {
    let config = routed();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    platform.failing_claims = 1;
    let request = Request::signed(&config, &memory, BODY);
    refused(&request.run(&mut platform, "a"), 503, "unavailable");
    assert!(platform.sent.is_empty());
    // LeadNest's retry is processed.
    assert_eq!(json(&request.run(&mut platform, "a"))["status"], "accepted");
}

#[test]
fn step_7_a_failed_send_is_503_records_nothing_and_releases_the_claim() {
    let config = routed();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    platform.failing_sends = 1;
    let request = Request::signed(&config, &memory, BODY);
    let reply = request.run(&mut platform, "a");
    refused(&reply, 503, "unavailable");
    assert_eq!(
        platform.steps,
        [
            "read_body",
            "check_signature",
            "claim",
            "hand_off",
            "release"
        ]
    );
    let warning: Value = serde_json::from_str(&reply.warnings[0]).unwrap();
    assert_eq!(
        (warning["warning"].as_str(), warning["failed"].as_u64()),
        (Some("queue_send_failed"), Some(1))
    );
    assert!(
        platform.rows.borrow().is_empty(),
        "nothing recorded, the claim released"
    );
    // The retry is processed at once, not held by the claim.
    let reply = request.run(&mut platform, "b");
    assert_eq!(json(&reply)["status"], "accepted");
}

#[test]
fn step_7_a_release_that_fails_is_tried_again() {
    let config = routed();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    platform.failing_sends = 1;
    platform.failing_releases = 2;
    refused(
        &Request::signed(&config, &memory, BODY).run(&mut platform, "a"),
        503,
        "unavailable",
    );
    assert_eq!(
        platform.steps.iter().filter(|s| **s == "release").count(),
        3
    );
    assert!(platform.rows.borrow().is_empty());
}

#[test]
fn step_7_with_kv_dedup_a_failed_send_is_503_and_there_is_no_claim_to_release() {
    let config = routed_kv();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    platform.failing_sends = 1;
    let request = Request::signed(&config, &memory, BODY);
    refused(&request.run(&mut platform, "a"), 503, "unavailable");
    // A KV claim is a read: nothing was written, so nothing is released, and
    // the key table is never asked.
    assert_eq!(
        platform.steps,
        ["read_body", "check_signature", "claim", "hand_off"]
    );
    assert!(platform.rows.borrow().is_empty());
    assert_eq!(json(&request.run(&mut platform, "b"))["status"], "accepted");
    // At its claim, a KV request asks nothing of the key table.
    let fresh = RefCell::default();
    let mut ingress = Request::signed(&config, &fresh, BODY).machine();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    platform.step(&mut ingress, "c");
    platform.step(&mut ingress, "c");
    assert!(matches!(ingress.need(), Need::Claim { .. }));
    assert!(ingress
        .table_request(|| unreachable!("a KV request makes no token"))
        .is_none());
}

#[test]
fn the_key_table_answering_anything_else_is_503_never_a_duplicate() {
    let config = routed();
    let memory = RefCell::default();
    let request = Request::signed(&config, &memory, BODY);
    let mut ingress = request.machine();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    // To the claim.
    platform.step(&mut ingress, "a");
    platform.step(&mut ingress, "a");
    let (shard, ask) = ingress.table_request(|| "a".to_string()).unwrap();
    assert!(shard.starts_with("dedup-"));
    assert_eq!((ask.op(), ask.token()), ("claim", "a"));
    ingress.table_answered(None);
    // The claim may have been taken and the answer lost: it is given up first.
    let (_, release) = ingress.table_request(|| "a".to_string()).unwrap();
    assert_eq!((release.op(), release.token()), ("release", "a"));
    ingress.table_answered(Some(TableAnswer::NotHeld));
    let reply = ingress.into_reply().unwrap();
    refused(&reply, 503, "unavailable");
}

#[test]
fn step_8_a_record_that_fails_is_tried_again_then_logged_and_the_answer_stays_200() {
    let config = routed();
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    platform.failing_records = STORE_WRITE_TRIES;
    let reply = Request::signed(&config, &memory, BODY).run(&mut platform, "a");
    assert_eq!(json(&reply)["status"], "accepted");
    assert_eq!(platform.steps.iter().filter(|s| **s == "record").count(), 3);
    let warning: Value = serde_json::from_str(&reply.warnings[0]).unwrap();
    assert_eq!(warning["warning"], "dedup_record_failed");
    // Not remembered either: the store never recorded it.
    assert_eq!(memory.borrow().len(), 0);
}

#[test]
fn step_8_an_event_no_route_takes_is_accepted_unrouted() {
    let config = routed();
    let memory = RefCell::default();
    let body = BODY.replace("email.opened", "sms.failed");
    let mut platform = FakePlatform::new(&body, NOW * 1000);
    let reply = Request::signed(&config, &memory, &body).run(&mut platform, "a");
    assert!(
        reply.body.ends_with(r#""routes":["analytics"]}"#),
        "{}",
        reply.body
    );
    let only_http = self::config(FakeSource::minimal().with(
        "ROUTES",
        r#"[{"name":"crm","url":"https://crm.example.com","events":["email.*"]}]"#,
    ));
    let (memory, mut platform) = (RefCell::default(), FakePlatform::new(&body, NOW * 1000));
    let reply = Request::signed(&only_http, &memory, &body).run(&mut platform, "b");
    assert!(reply.body.ends_with(r#""routes":[]}"#), "{}", reply.body);
    assert_eq!(log(&reply)["unrouted"], true);
}

#[test]
fn without_a_delivery_queue_http_routes_are_delivered_after_the_answer() {
    let config = config(FakeSource::minimal().with(
        "ROUTES",
        r#"[{"name":"crm","url":"https://crm.example.com"}]"#,
    ));
    let memory = RefCell::default();
    let mut platform = FakePlatform::new(BODY, NOW * 1000);
    let reply = Request::signed(&config, &memory, BODY).run(&mut platform, "a");
    assert!(platform.sent.is_empty());
    assert_eq!(reply.after_answer.len(), 1);
    assert_eq!(reply.after_answer[0].route, "crm");
    assert_eq!(
        reply.after_answer[0].webhook_id,
        reply.after_answer[0].webhook_id
    );
}

/// Strict dedup: a redelivery while the first copy is still at work.
mod a_redelivery_during_the_first_copy {
    use super::*;

    /// Drives `first` up to its hand-off: it holds the claim.
    fn claimed_and_handing_off<'a>(
        config: &'a Config,
        memory: &'a RefCell<RecentKeys>,
        platform: &mut FakePlatform,
    ) -> Ingress<'a> {
        let mut first = Request::signed(config, memory, BODY).machine();
        while !platform.steps.ends_with(&["claim"]) {
            platform.step(&mut first, "first");
        }
        first
    }

    #[test]
    fn waits_then_is_a_duplicate_once_the_first_copy_recorded() {
        let config = routed();
        let memory = RefCell::new(RecentKeys::new(0));
        let mut platform = FakePlatform::new(BODY, NOW * 1000);
        let mut first = claimed_and_handing_off(&config, &memory, &mut platform);
        // The first copy finishes while the redelivery waits (its connection
        // was cut, but it runs on under waitUntil).
        platform.during_wait.push(Box::new(|_| {}));
        platform.during_wait.push(Box::new(
            move |platform| {
                while platform.step(&mut first, "first") {}
            },
        ));
        let reply = Request::signed(&config, &memory, BODY).run(&mut platform, "second");
        assert_eq!(json(&reply)["status"], "duplicate");
        // The second copy claimed three times; the first finished in between.
        assert_eq!(
            platform.steps,
            [
                "read_body",
                "check_signature",
                "claim",
                "wait",
                "claim",
                "wait",
                "hand_off",
                "record",
                "claim"
            ]
        );
        assert_eq!(platform.sent.len(), 2, "handed off once");
    }

    #[test]
    fn takes_its_place_once_the_first_copy_released() {
        let config = routed();
        let memory = RefCell::new(RecentKeys::new(0));
        let mut platform = FakePlatform::new(BODY, NOW * 1000);
        let mut first = claimed_and_handing_off(&config, &memory, &mut platform);
        platform.failing_sends = 2; // the first copy's hand-off fails
        platform.during_wait.push(Box::new(
            move |platform| {
                while platform.step(&mut first, "first") {}
            },
        ));
        let reply = Request::signed(&config, &memory, BODY).run(&mut platform, "second");
        assert_eq!(json(&reply)["status"], "accepted");
        assert_eq!(platform.sent.len(), 2, "handed off by the second copy only");
    }

    #[test]
    fn is_503_when_it_cannot_tell_then_takes_over_after_the_lease() {
        // The first copy's isolate died after its claim: no record, no release.
        let config = routed();
        let memory = RefCell::new(RecentKeys::new(0));
        let mut platform = FakePlatform::new(BODY, NOW * 1000);
        drop(claimed_and_handing_off(&config, &memory, &mut platform));
        let started = platform.now_ms;
        let request = Request::signed(&config, &memory, BODY);
        let reply = request.run(&mut platform, "second");
        refused(&reply, 503, "unavailable");
        assert!(json(&reply)["message"]
            .as_str()
            .unwrap()
            .contains("still being handed off"));
        assert_eq!(platform.now_ms - started, CLAIM_WAIT_MS as i64);
        assert!(
            platform.sent.is_empty(),
            "never a duplicate, nothing handed off"
        );
        // LeadNest retries after the lease: the event is handed off.
        platform.now_ms = started + CLAIM_LEASE_MS;
        let reply = request.run(&mut platform, "third");
        assert_eq!(json(&reply)["status"], "accepted");
        assert_eq!(platform.sent.len(), 2);
    }
}

#[test]
fn a_key_is_kept_until_its_timestamp_leaves_the_window() {
    // A timestamp 300 s ahead stays fresh until now + 600; a 60 s TTL would let
    // a replay at now + 61 through.
    let config = config(
        FakeSource::minimal()
            .with("DEDUP_TTL_SECONDS", "300")
            .with("TIMESTAMP_TOLERANCE_SECONDS", "300"),
    );
    let memory = RefCell::new(RecentKeys::new(0));
    let mut platform = FakePlatform::new(BODY, (NOW - 300) * 1000);
    let mut request = Request::signed(&config, &memory, BODY);
    request.now = NOW - 300;
    assert_eq!(json(&request.run(&mut platform, "a"))["status"], "accepted");
    // The replay at the window's far end is still a duplicate.
    request.now = NOW + 300;
    platform.now_ms = request.now * 1000;
    assert_eq!(
        json(&request.run(&mut platform, "b"))["status"],
        "duplicate"
    );
}

#[test]
fn a_route_takes_an_event_only_when_its_events_and_its_filter_match() {
    let config = config(
        FakeSource::minimal()
            .with_queue(DELIVERY_QUEUE_BINDING)
            .with(
                "ROUTES",
                r#"[{"name":"hard","url":"https://crm.example.com","events":["email.*"],
                 "filter":{"data":{"bounce_type":"hard"}}},
                {"name":"not_test","url":"https://b.example.com",
                 "filter":{"$not":{"data":{"list_id":"list_test"}}}}]"#,
            ),
    );
    let cases = [
        (
            r#"{"bounce_type":"hard","list_id":"list_1"}"#,
            r#"["hard","not_test"]"#,
        ),
        (
            r#"{"bounce_type":"soft","list_id":"list_1"}"#,
            r#"["not_test"]"#,
        ),
        (
            r#"{"bounce_type":"hard","list_id":"list_test"}"#,
            r#"["hard"]"#,
        ),
        (r#"{"list_id":"list_test"}"#, "[]"),
    ];
    for (i, (data, routes)) in cases.into_iter().enumerate() {
        let body = format!(
            r#"{{"event":"email.bounced","timestamp":"2024-01-15T10:30:00Z","data":{{"message_id":"msg_{i}",{}}}}}"#,
            &data[1..data.len() - 1]
        );
        let memory = RefCell::default();
        let mut platform = FakePlatform::new(&body, NOW * 1000);
        let reply = Request::signed(&config, &memory, &body).run(&mut platform, "a");
        assert_eq!(json(&reply)["routes"].to_string(), routes, "{data}");
        let expected: Vec<String> = serde_json::from_str(routes).unwrap();
        assert_eq!(platform.sent.len(), expected.len(), "{data}");
    }
}
