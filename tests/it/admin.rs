//! SPEC section 8, the admin API: each call driven as the driver drives it,
//! its queries run against SQLite with the schema of `migrations/`, over a log
//! that the ingress and the consumers wrote.

use std::collections::{BTreeSet, HashMap};

use leadnest_edge::admin::Outgoing;
use leadnest_edge::endpoint::{health, refusal, Endpoint};
use leadnest_edge::signature::sign;
use serde_json::{json, Value};

use crate::worker::{
    answered, event_body, source_with, source_without_delivery_queue, Posted, SentBody, Worker,
    ADMIN_TOKEN, FIRST_SECRET, HOUR_MS, NOW_MS, TEST_EVENT_ANSWER,
};
use leadnest_edge::admin::DIRECT_REPLAY_DELIVERIES;
use leadnest_edge::config::Config;
use leadnest_edge::error::Rejection;
use leadnest_edge::event_log::Entry;
use leadnest_edge::testing::FakeSource;

/// The body of every bulk replay: only failed events are replayed in bulk.
const FAILED: &str = r#"{"status":"failed"}"#;

fn error_code(answer: &crate::worker::AdminAnswer) -> String {
    answer.body()["error"].as_str().unwrap().to_string()
}

/// The ids of a page of the list, in its order.
fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_string())
        .collect()
}

/// The attempts of `route`, as (number, outcome).
fn attempts(worker: &mut Worker, id: &str, route: &str) -> Vec<(i64, String)> {
    let detail = worker.event(id);
    let deliveries = detail["deliveries"].as_array().unwrap();
    let delivery = deliveries.iter().find(|d| d["route"] == route).unwrap();
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An `email.bounced` (crm, billing and analytics) whose crm delivery failed
/// once and was dead-lettered, and whose billing delivery was delivered.
fn crm_failed(worker: &mut Worker, message_id: &str) -> Posted {
    let posted = worker.post(&event_body("email.bounced", message_id, worker.now_ms));
    worker.deliver(&posted.message("billing"), 1, answered(200, "ok"));
    worker.deliver(&posted.message("crm"), 1, answered(503, "busy"));
    worker.dead_letter(&posted.message("crm"));
    posted
}

/// An `email.bounced` whose crm and billing deliveries were both dead-lettered.
fn both_failed(worker: &mut Worker, message_id: &str) -> Posted {
    let posted = worker.post(&event_body("email.bounced", message_id, worker.now_ms));
    worker.dead_letter(&posted.message("crm"));
    worker.dead_letter(&posted.message("billing"));
    posted
}

/// `n` `email.opened` events whose crm delivery was dead-lettered, oldest first.
fn failed_events(worker: &mut Worker, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let posted = worker.post(&event_body(
                "email.opened",
                &format!("f-{i}"),
                worker.now_ms,
            ));
            worker.dead_letter(&posted.message("crm"));
            posted.id()
        })
        .collect()
}

/// `n` events whose every delivery after the answer (no queue) failed.
fn failed_after_answer(worker: &mut Worker, event: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let posted = worker.post(&event_body(event, &format!("d-{i}"), worker.now_ms));
            for delivery in posted.reply.after_answer.clone() {
                let decision = worker.deliver_after_answer(delivery, &answered(500, "down"));
                assert_eq!(decision, leadnest_edge::delivery::Decision::Park);
            }
            posted.id()
        })
        .collect()
}

fn replayed_ids(answer: &crate::worker::AdminAnswer) -> Vec<String> {
    answer
        .deliveries()
        .iter()
        .map(|d| d.webhook_id.clone())
        .collect()
}

// Replay of one event.

#[test]
fn replaying_one_route_hands_off_that_route_only_as_leadnest_signed_it() {
    let mut worker = Worker::new();
    let posted = crm_failed(&mut worker, "m-1");
    let id = posted.id();
    let body = event_body("email.bounced", "m-1", NOW_MS);
    worker.now_ms += HOUR_MS;

    let answer = worker.admin(
        "POST",
        &format!("events/{id}/replay"),
        r#"{"routes":["crm"]}"#,
    );
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body(), json!({"replayed": ["crm"]}));
    assert_eq!(answer.outgoing.len(), 1);
    let delivery = answer.deliveries()[0].clone();
    assert_eq!(
        (delivery.route.as_str(), delivery.event.as_str()),
        ("crm", "email.bounced")
    );
    assert_eq!(delivery.webhook_id, id);
    assert_eq!(delivery.body, body.as_bytes());
    assert_eq!(
        delivery.signature,
        sign(FIRST_SECRET.as_bytes(), body.as_bytes())
    );
    assert_eq!(worker.delivery_status(&id, "crm"), "pending");
    assert_eq!(worker.delivery_status(&id, "billing"), "delivered");
    assert_eq!(worker.event_status(&id), "pending");

    // Delivered through the normal path: a new attempt appended.
    worker.now_ms += 1_000;
    worker.deliver(&delivery.encode(), 1, answered(200, "ok"));
    assert_eq!(worker.event_status(&id), "delivered");
    assert_eq!(
        attempts(&mut worker, &id, "crm"),
        [(1, "retry".into()), (2, "delivered".into())]
    );
}

#[test]
fn replaying_without_routes_replays_every_route_of_the_event() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    worker.now_ms += HOUR_MS;
    let answer = worker.admin("POST", &format!("events/{id}/replay"), "");
    assert_eq!(answer.status, 202, "{}", answer.text);
    let mut replayed: Vec<String> = answer.body()["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    replayed.sort();
    assert_eq!(replayed, ["analytics", "billing", "crm"]);
    let mut routes: Vec<&str> = answer
        .deliveries()
        .iter()
        .map(|d| d.route.as_str())
        .collect();
    routes.sort();
    assert_eq!(routes, ["billing", "crm"]);
    assert_eq!(answer.outgoing.len(), 3);
}

#[test]
fn a_replayed_delivery_already_settled_by_its_attempt_is_not_set_back_to_pending() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    worker.now_ms += HOUR_MS;
    // The queue's consumer is faster than the call's own write.
    let mut consume_at_once = |worker: &mut Worker, outgoing: &[Outgoing]| {
        for item in outgoing {
            if let Outgoing::Delivery(delivery) = item {
                worker.deliver(&delivery.encode(), 1, answered(200, "ok"));
            }
        }
        true
    };
    let answer = worker.admin_with(
        Some(&format!("Bearer {ADMIN_TOKEN}")),
        "POST",
        &format!("events/{id}/replay"),
        r#"{"routes":["crm"]}"#,
        &mut consume_at_once,
    );
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(worker.delivery_status(&id, "crm"), "delivered");
    assert_eq!(worker.event_status(&id), "delivered");
}

#[test]
fn a_late_dead_letter_never_turns_a_delivery_a_later_attempt_delivered_back_to_failed() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.opened", "m-1", worker.now_ms));
    let id = posted.id();
    let message = posted.message("crm");
    // Its retries fail; before its dead letter is consumed, an operator
    // replays it and the replay is delivered.
    worker.deliver(&message, 1, answered(503, "busy"));
    worker.now_ms += HOUR_MS;
    let replay = worker.admin("POST", &format!("events/{id}/replay"), "");
    assert_eq!(replay.status, 202, "{}", replay.text);
    worker.deliver(&replay.deliveries()[0].encode(), 1, answered(200, "ok"));
    assert_eq!(worker.delivery_status(&id, "crm"), "delivered");
    worker.dead_letter(&message);
    assert_eq!(worker.delivery_status(&id, "crm"), "delivered");
    assert_eq!(worker.event_status(&id), "delivered");
    // A dead letter that follows a later failed attempt does turn it failed.
    worker.deliver(&message, 2, answered(500, "down again"));
    worker.dead_letter(&message);
    assert_eq!(worker.delivery_status(&id, "crm"), "failed");
    assert_eq!(worker.event_status(&id), "failed");
}

#[test]
fn a_replay_whose_hand_off_fails_is_503_and_marks_nothing() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    let before = worker.log.number("SELECT COUNT(*) FROM attempts");
    let answer = worker.admin_with(
        Some(&format!("Bearer {ADMIN_TOKEN}")),
        "POST",
        &format!("events/{id}/replay"),
        "",
        &mut |_, _| false,
    );
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert_eq!(answer.queries, 1, "only the load ran");
    assert_eq!(worker.delivery_status(&id, "crm"), "failed");
    assert_eq!(worker.event_status(&id), "failed");
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM attempts"), before);
}

#[test]
fn a_replay_of_an_unknown_route_is_400_and_of_an_unknown_event_404() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    let answer = worker.admin(
        "POST",
        &format!("events/{id}/replay"),
        r#"{"routes":["crm","nope"]}"#,
    );
    assert_eq!(
        (answer.status, error_code(&answer).as_str()),
        (400, "invalid_request")
    );
    assert!(answer.text.contains("nope"), "{}", answer.text);
    assert_eq!(answer.hand_offs, 0);
    for unknown in ["msg_00000000000000000000000000000000", "not-an-id"] {
        let answer = worker.admin("POST", &format!("events/{unknown}/replay"), "");
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (404, "not_found"),
            "{unknown}"
        );
        assert_eq!(answer.hand_offs, 0);
    }
    assert_eq!(worker.delivery_status(&id, "crm"), "failed");
}

#[test]
fn replaying_a_queue_route_sends_its_payload_and_records_it_sent() {
    let mut worker = Worker::new();
    let body = event_body("sms.sent", "m-1", NOW_MS);
    let posted = worker.post(&body);
    assert!(posted.messages.is_empty(), "a queue route only");
    let id = worker.log.rows("SELECT id FROM events")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    worker.now_ms += HOUR_MS;
    let answer = worker.admin(
        "POST",
        &format!("events/{id}/replay"),
        r#"{"routes":["analytics"]}"#,
    );
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(
        answer.outgoing,
        [Outgoing::Payload {
            binding: "ANALYTICS_QUEUE".into(),
            body
        }]
    );
    assert_eq!(
        attempts(&mut worker, &id, "analytics"),
        [(1, "sent".into()), (2, "sent".into())]
    );
    assert_eq!(worker.event_status(&id), "delivered");
}

// Bulk replay.

#[test]
fn a_bulk_replay_replays_every_failed_event_once_in_chunks() {
    let mut worker = Worker::new();
    let failed = failed_events(&mut worker, 250);
    worker.post(&event_body("email.opened", "fine", worker.now_ms));
    worker.now_ms += HOUR_MS;

    let answer = worker.admin("POST", "replay", FAILED);
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body(), json!({"replayed": 250, "next_cursor": null}));
    // Three chunks of at most 100: a load and a write each.
    assert_eq!((answer.queries, answer.hand_offs), (6, 3));
    let mut replayed = replayed_ids(&answer);
    replayed.sort();
    let mut expected = failed.clone();
    expected.sort();
    assert_eq!(replayed, expected, "each failed event exactly once");
    assert_eq!(
        worker
            .log
            .number("SELECT COUNT(*) FROM events WHERE status = 'failed'"),
        0
    );
}

#[test]
fn a_bulk_replay_with_a_limit_answers_a_cursor_that_resumes_it() {
    let mut worker = Worker::new();
    let failed = failed_events(&mut worker, 250);
    worker.now_ms += HOUR_MS;
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = Value::Null;
    let mut calls = Vec::new();
    loop {
        let body = match &cursor {
            Value::String(cursor) => json!({"status": "failed", "limit": 100, "cursor": cursor}),
            _ => json!({"status": "failed", "limit": 100}),
        };
        let answer = worker.admin("POST", "replay", &body.to_string());
        assert_eq!(answer.status, 202, "{}", answer.text);
        let answered = answer.body();
        calls.push(answered["replayed"].as_i64().unwrap());
        seen.extend(replayed_ids(&answer));
        cursor = answered["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
        assert!(calls.len() < 10, "the cursor does not move on");
    }
    assert_eq!(calls, [100, 100, 50]);
    assert_eq!(seen.len(), 250);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        failed.iter().collect::<BTreeSet<_>>()
    );
}

#[test]
fn a_bulk_replay_of_one_route_replays_only_that_routes_failed_deliveries() {
    let mut worker = Worker::new();
    // crm failed, billing delivered.
    let crm_only: Vec<String> = (0..5)
        .map(|i| crm_failed(&mut worker, &format!("c-{i}")).id())
        .collect();
    // Both failed.
    let both: Vec<String> = (0..120)
        .map(|i| both_failed(&mut worker, &format!("b-{i}")).id())
        .collect();
    worker.now_ms += HOUR_MS;

    // The events stay failed (crm), so only the cursor moves a call on.
    let mut seen = Vec::new();
    let first = worker.admin(
        "POST",
        "replay",
        r#"{"status":"failed","route":"billing","limit":100}"#,
    );
    assert_eq!(first.status, 202, "{}", first.text);
    assert_eq!(first.body()["replayed"], 100);
    seen.extend(replayed_ids(&first));
    let cursor = first.body()["next_cursor"].as_str().unwrap().to_string();
    let rest = worker.admin(
        "POST",
        "replay",
        &json!({"status": "failed", "route": "billing", "limit": 100, "cursor": cursor})
            .to_string(),
    );
    assert_eq!(rest.body(), json!({"replayed": 20, "next_cursor": null}));
    seen.extend(replayed_ids(&rest));

    for answer in [&first, &rest] {
        assert!(answer
            .outgoing
            .iter()
            .all(|item| matches!(item, Outgoing::Delivery(d) if d.route == "billing")));
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        both.iter().collect::<BTreeSet<_>>()
    );
    for id in &both {
        assert_eq!(worker.delivery_status(id, "billing"), "pending");
        assert_eq!(worker.delivery_status(id, "crm"), "failed");
        assert_eq!(worker.event_status(id), "failed");
    }
    for id in &crm_only {
        assert_eq!(worker.delivery_status(id, "crm"), "failed");
    }
}

#[test]
fn a_bulk_replay_re_sends_only_failed_events_and_any_other_status_is_400() {
    let mut worker = Worker::new();
    let failed = crm_failed(&mut worker, "f-1").id();
    let delivered = worker.post(&event_body("email.opened", "d-1", worker.now_ms));
    worker.deliver(&delivered.message("crm"), 1, answered(200, "ok"));
    // Still retrying.
    worker.post(&event_body("email.opened", "p-1", worker.now_ms));
    worker.now_ms += HOUR_MS;
    for body in [
        "",
        "{}",
        r#"{"status":"delivered"}"#,
        r#"{"status":"pending"}"#,
        r#"{"status":"unrouted"}"#,
        r#"{"route":"crm"}"#,
    ] {
        let answer = worker.admin("POST", "replay", body);
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (400, "invalid_request"),
            "{body}"
        );
        assert_eq!((answer.queries, answer.hand_offs), (0, 0), "{body}");
    }
    assert_eq!(worker.event_status(&delivered.id()), "delivered");
    let answer = worker.admin("POST", "replay", FAILED);
    assert_eq!(replayed_ids(&answer), [failed]);
}

#[test]
fn a_dry_run_counts_the_events_the_replay_then_takes() {
    let mut worker = Worker::new();
    // crm failed and billing delivered: a billing replay takes none of these.
    for i in 0..5 {
        crm_failed(&mut worker, &format!("c-{i}"));
    }
    for i in 0..7 {
        both_failed(&mut worker, &format!("b-{i}"));
    }
    worker.now_ms += HOUR_MS;
    for (scope, expected) in [
        (json!({"status": "failed"}), 12),
        (json!({"status": "failed", "route": "billing"}), 7),
        (json!({"status": "failed", "route": "crm"}), 12),
        (json!({"status": "failed", "event": "sms.*"}), 0),
    ] {
        let mut dry = scope.clone();
        dry["dry_run"] = json!(true);
        let counted = worker.admin("POST", "replay", &dry.to_string());
        assert_eq!(counted.status, 200, "{}", counted.text);
        assert_eq!(counted.body(), json!({"would_replay": expected}), "{scope}");
        assert_eq!(counted.hand_offs, 0, "a dry run sends nothing");
    }
    let taken = worker.admin("POST", "replay", r#"{"status":"failed","route":"billing"}"#);
    assert_eq!(taken.body()["replayed"], 7);
}

#[test]
fn without_a_queue_a_bulk_replay_takes_what_one_invocation_can_send_and_leaves_the_rest_failed() {
    let mut worker = Worker::with(source_without_delivery_queue());
    let failed = failed_after_answer(&mut worker, "email.opened", 30);
    worker.now_ms += HOUR_MS;
    let mut cursor = Value::Null;
    let mut calls = Vec::new();
    let mut seen = Vec::new();
    loop {
        let mut body = json!({"status": "failed"});
        if !cursor.is_null() {
            body["cursor"] = cursor.clone();
        }
        let answer = worker.admin("POST", "replay", &body.to_string());
        assert_eq!(answer.status, 202, "{}", answer.text);
        let taken = replayed_ids(&answer);
        assert_eq!(answer.body()["replayed"], taken.len());
        calls.push(taken.len());
        // Nothing was set to pending: the runs were cut off before any attempt
        // (never run here), so every event is still failed for the next call.
        for id in &failed {
            assert_eq!(worker.event_status(id), "failed");
        }
        seen.extend(taken);
        cursor = answer.body()["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(
        calls,
        [
            DIRECT_REPLAY_DELIVERIES,
            DIRECT_REPLAY_DELIVERIES,
            30 - 2 * DIRECT_REPLAY_DELIVERIES
        ]
    );
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        failed.iter().collect::<BTreeSet<_>>()
    );
    // A new call finds every one of them again.
    let again = worker.admin("POST", "replay", FAILED);
    assert_eq!(again.deliveries().len(), DIRECT_REPLAY_DELIVERIES);
}

#[test]
fn without_a_queue_the_budget_counts_deliveries_not_events() {
    let mut worker = Worker::with(source_without_delivery_queue());
    failed_after_answer(&mut worker, "email.bounced", 10);
    worker.now_ms += HOUR_MS;
    let answer = worker.admin("POST", "replay", FAILED);
    // Two HTTP routes an event: half as many events.
    assert_eq!(answer.deliveries().len(), DIRECT_REPLAY_DELIVERIES);
    assert_eq!(answer.body()["replayed"], DIRECT_REPLAY_DELIVERIES / 2);
    assert!(answer.body()["next_cursor"].is_string());
}

// The edges: refused before the body is read.

#[test]
fn the_token_and_a_declared_length_are_checked_before_the_body_is_read() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    let replay = format!("events/{id}/replay");
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let none = &mut |_: &mut Worker, _: &[Outgoing]| true;
    // Anonymous, with a 50 MB body declared or streamed: 401, nothing read.
    for length in [Some("50000000"), None] {
        let answer = worker.admin_sent(None, "POST", "replay", length, SentBody::TooLarge, none);
        assert_eq!((answer.status, answer.body_read), (401, false));
        assert!(answer.unread.is_some(), "the body is let go of");
    }
    // With the token: a declared 50 MB is 413 unread; a streamed one 413 once past 64 KiB.
    let declared = worker.admin_sent(
        Some(&bearer),
        "POST",
        &replay,
        Some("50000000"),
        SentBody::TooLarge,
        none,
    );
    assert_eq!(
        (
            declared.status,
            error_code(&declared).as_str(),
            declared.body_read
        ),
        (413, "payload_too_large", false)
    );
    let streamed = worker.admin_sent(
        Some(&bearer),
        "POST",
        &replay,
        None,
        SentBody::TooLarge,
        none,
    );
    assert_eq!(
        (
            streamed.status,
            error_code(&streamed).as_str(),
            streamed.body_read
        ),
        (413, "payload_too_large", true)
    );
    let broken = worker.admin_sent(Some(&bearer), "POST", &replay, None, SentBody::Broken, none);
    assert_eq!(
        (broken.status, error_code(&broken).as_str()),
        (400, "invalid_request")
    );
    assert_eq!(worker.delivery_status(&id, "crm"), "failed");
    // A read asks for no body.
    assert!(!worker.get("events").body_read);
}

#[test]
fn another_method_on_any_admin_path_is_405_with_allow() {
    let mut worker = Worker::new();
    for (method, target, allow) in [
        (
            "DELETE",
            "events/msg_00000000000000000000000000000000",
            "GET",
        ),
        ("PATCH", "events", "GET"),
        ("POST", "stats", "GET"),
        (
            "GET",
            "events/msg_00000000000000000000000000000000/replay",
            "POST",
        ),
        ("PUT", "replay", "POST"),
        ("GET", "test", "POST"),
    ] {
        let answer = worker.admin(method, target, "");
        assert_eq!(
            (answer.status, error_code(&answer).as_str(), answer.allow),
            (405, "method_not_allowed", Some(allow)),
            "{method} {target}"
        );
        assert!(!answer.body_read);
    }
}

#[test]
fn every_refusal_on_the_ingress_path_is_counted_under_its_code() {
    let mut worker = Worker::new();
    let loaded = Ok(worker.config.clone());
    let method = Endpoint::Refused {
        rejection: Rejection::MethodNotAllowed { allow: "POST" },
        logged: true,
    };
    let mut refusals = vec![refusal(&method, &loaded).unwrap()];
    // A misconfigured worker with the log bound.
    let broken = Config::load(&FakeSource::new().with_durable_object("EVENTS"));
    assert!(broken.as_ref().is_err_and(|error| error.event_log));
    refusals.push(refusal(&Endpoint::Ingress, &broken).unwrap());
    // The driver's own 503.
    refusals.push(leadnest_edge::ingress::Reply::refusal(
        &Rejection::Unavailable("The ingress"),
        None,
        true,
    ));
    for mut reply in refusals {
        reply.count_rejection(true, worker.now_ms);
        let Some(entry) = reply.log_entry.take() else {
            panic!("{} is not counted", reply.status);
        };
        assert!(matches!(entry, Entry::Rejected { .. }));
        worker.keep_entry(entry);
    }
    // Paths other than the ingress are not LeadNest's requests: not counted.
    let mut other = refusal(
        &Endpoint::Refused {
            rejection: Rejection::NotFound,
            logged: false,
        },
        &loaded,
    )
    .unwrap();
    other.count_rejection(true, worker.now_ms);
    assert!(other.log_entry.is_none());
    let stats = worker.get("stats").body();
    assert_eq!(
        stats["hours"][0]["rejected"],
        json!({"method_not_allowed": 1, "misconfigured": 1, "unavailable": 1})
    );
}

// The list.

/// Posts `event` with `message_id` a millisecond after the last; its id. (The
/// list orders events received in the same millisecond by id.)
fn post(worker: &mut Worker, event: &str, message_id: &str) -> String {
    worker.now_ms += 1;
    let body = event_body(event, message_id, worker.now_ms);
    let posted = worker.post(&body);
    assert_eq!(
        posted.answer()["status"],
        "accepted",
        "{}",
        posted.reply.body
    );
    posted.id()
}

#[test]
fn the_list_filters_by_status_event_route_message_id_and_time() {
    let mut worker = Worker::new();
    let opened = post(&mut worker, "email.opened", "m-1");
    worker.now_ms += HOUR_MS;
    let emailing = post(&mut worker, "emailing.sent", "m-2");
    let subscriber = post(&mut worker, "subscriber.created", "m-3");
    worker.now_ms += HOUR_MS;
    let bounced = crm_failed(&mut worker, "m-1").id();
    let sms = post(&mut worker, "sms.sent", "m-4");

    let (opened, emailing, subscriber, bounced, sms) = (
        opened.as_str(),
        emailing.as_str(),
        subscriber.as_str(),
        bounced.as_str(),
        sms.as_str(),
    );
    let mut list = |query: &str| -> Vec<String> {
        let answer = worker.get(&format!("events?{query}"));
        assert_eq!(answer.status, 200, "{query}: {}", answer.text);
        ids(&answer.body())
    };
    assert_eq!(list(""), [sms, bounced, subscriber, emailing, opened]);
    assert_eq!(list("status=failed"), [bounced]);
    assert_eq!(list("status=unrouted"), [emailing]);
    assert_eq!(list("status=delivered"), [sms]);
    assert_eq!(list("status=pending"), [subscriber, opened]);
    assert_eq!(list("event=email.opened"), [opened]);
    assert_eq!(
        list("event=email.*"),
        [bounced, opened],
        "not emailing.sent"
    );
    assert_eq!(list("event=emailing.*"), [emailing]);
    assert_eq!(list("event=*").len(), 5);
    assert_eq!(list("route=crm"), [bounced, opened]);
    assert_eq!(list("route=billing"), [bounced, subscriber]);
    assert_eq!(list("route=analytics"), [sms, bounced]);
    assert_eq!(list("message_id=m-1"), [bounced, opened]);
    assert_eq!(list("message_id=m-1&status=pending&route=crm"), [opened]);
    assert_eq!(
        list("since=2025-12-02T14:00:00Z"),
        [sms, bounced, subscriber, emailing]
    );
    assert_eq!(
        list(&format!(
            "since={}&until={}",
            (NOW_MS + HOUR_MS) / 1000,
            (NOW_MS + 2 * HOUR_MS) / 1000
        )),
        [subscriber, emailing],
        "until is exclusive"
    );
    assert!(list("event=sms.*&route=crm").is_empty());
}

#[test]
fn paging_with_the_cursor_sees_every_event_once_newest_first_while_new_ones_arrive() {
    let mut worker = Worker::new();
    let old: Vec<String> = (0..25)
        .map(|i| {
            worker.now_ms += 1_000;
            post(&mut worker, "email.opened", &format!("old-{i}"))
        })
        .collect();
    let mut seen = Vec::new();
    let mut target = "events?limit=10".to_string();
    loop {
        let page = worker.get(&target).body();
        seen.extend(ids(&page));
        // New events arrive between pages.
        for i in 0..3 {
            worker.now_ms += 1_000;
            post(
                &mut worker,
                "email.opened",
                &format!("new-{}-{i}", seen.len()),
            );
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => target = format!("events?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first: Vec<String> = old.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
}

#[test]
fn an_event_the_dead_letter_consumer_writes_late_is_listed_by_when_it_was_received() {
    let mut worker = Worker::new();
    // Its isolate died before the flush: only its dead letter reaches the log.
    let lost = worker.post_unlogged(&event_body("email.opened", "lost", worker.now_ms));
    worker.now_ms += HOUR_MS;
    let later = worker
        .post(&event_body("email.opened", "later", worker.now_ms))
        .id();
    worker.now_ms += HOUR_MS;
    worker.dead_letter(&lost.message("crm"));
    let page = worker.get("events?limit=1").body();
    assert_eq!(ids(&page), [later]);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let rest = worker
        .get(&format!("events?limit=1&cursor={cursor}"))
        .body();
    assert_eq!(ids(&rest), [lost.id()]);
    assert!(rest["next_cursor"].is_null());
}

#[test]
fn status_held_pages_every_event_with_a_held_delivery_once_newest_first_from_the_shards_holding_one(
) {
    let mut worker = Worker::new();
    let day = 24 * HOUR_MS;
    // Three days of events; every third one's crm delivery held (its route
    // paused), one failed beside them.
    let (mut held, mut holding) = (Vec::new(), BTreeSet::new());
    for i in 0..18 {
        worker.now_ms = NOW_MS - 2 * day + i * 3 * HOUR_MS;
        let posted = worker.post(&event_body(
            "email.bounced",
            &format!("m-{i}"),
            worker.now_ms,
        ));
        if i % 3 == 0 {
            worker.hold(&posted.message("crm"));
            held.push(posted.id());
            holding.insert(posted.shard());
        }
    }
    assert!(holding.len() < worker.log.names().len());
    crm_failed(&mut worker, "m-f");
    held.reverse();

    let mut listed = Vec::new();
    let mut target = "events?status=held&limit=2".to_string();
    loop {
        let answer = worker.get(&target);
        assert_eq!(answer.status, 200, "{}", answer.text);
        // Only the shards the directory says hold a held delivery are asked
        // (a page further on, only those of the windows it may reach).
        let asked = answer.shards_asked[0];
        assert!(asked <= holding.len(), "{asked}");
        assert!(!listed.is_empty() || asked == holding.len(), "{asked}");
        let page = answer.body();
        for event in page["events"].as_array().unwrap() {
            assert_eq!(event["status"], "pending");
            let crm = event["routes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == "crm")
                .unwrap();
            assert_eq!(crm["status"], "held");
        }
        listed.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => target = format!("events?status=held&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(listed, held, "each once, newest first");
}

#[test]
fn the_list_walks_its_shards_in_their_own_order_or_an_index_never_sorting_every_event() {
    let mut worker = Worker::new();
    for i in 0..10 {
        post(&mut worker, "email.opened", &format!("m-{i}"));
    }
    // Failures and held deliveries are asked only of shards that hold some.
    crm_failed(&mut worker, "m-f");
    let held = worker.post(&event_body("email.opened", "m-h", worker.now_ms));
    worker.hold(&held.message("crm"));
    // (filter, the index it walks, if any.) Rows are kept in the list's order,
    // so a page is a walk of the table from its newest row, the filter checked
    // on each (a shard holds a day); only what a query needs is indexed, each
    // entry being paid on every insert: failures and message ids.
    for (target, index) in [
        ("events", None),
        ("events?status=failed", Some("events_failed")),
        ("events?status=held", Some("events_held")),
        ("events?status=held&route=crm", Some("events_held")),
        ("events?event=email.opened", None),
        ("events?event=email.*", None),
        ("events?message_id=m-1", Some("events_message_id")),
        ("events?route=crm", None),
        ("events?route=gone", None),
        (
            "events?since=2025-12-02T13:00:00Z&until=2025-12-02T14:00:00Z",
            None,
        ),
    ] {
        let answer = worker.get(target);
        assert_eq!(answer.status, 200, "{}", answer.text);
        let plan = worker
            .log
            .plan(answer.statements.last().unwrap())
            .join("\n");
        // The page: its shard's rows newest first, or an index in that order.
        let walk = match index {
            None => {
                plan.contains("SCAN e\n")
                    || plan.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid")
            }
            Some(index) => {
                plan.contains(&format!("USING INDEX {index}"))
                    || plan.contains(&format!("USING COVERING INDEX {index}"))
            }
        };
        assert!(walk, "{target}:\n{plan}");
        // Then its rows, by key.
        assert!(
            plan.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
            "{target}:\n{plan}"
        );
        // One sort orders an event's routes by name, and nothing else is sorted
        // (a message id's few events aside).
        let sorts = plan.matches("USE TEMP B-TREE FOR ORDER BY").count();
        let most = if target.contains("message_id") { 3 } else { 2 };
        assert!(sorts <= most, "{target} sorts its matches:\n{plan}");
    }
}

#[test]
fn the_list_limit_is_from_1_to_200_and_50_by_default() {
    let mut worker = Worker::new();
    for i in 0..205 {
        worker.now_ms += 100;
        let body = event_body("whatsapp.read", &format!("w-{i}"), worker.now_ms);
        worker.post(&body);
    }
    let count =
        |answer: &crate::worker::AdminAnswer| answer.body()["events"].as_array().unwrap().len();
    let default = worker.get("events");
    assert_eq!(count(&default), 50);
    assert!(default.body()["next_cursor"].is_string());
    assert_eq!(count(&worker.get("events?limit=1")), 1);
    let most = worker.get("events?limit=200");
    assert_eq!(count(&most), 200);
    let cursor = most.body()["next_cursor"].as_str().unwrap().to_string();
    let last = worker.get(&format!("events?limit=200&cursor={cursor}"));
    assert_eq!(count(&last), 5);
    assert!(last.body()["next_cursor"].is_null());
    for limit in ["0", "201", "-1", "many"] {
        let answer = worker.get(&format!("events?limit={limit}"));
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (400, "invalid_query"),
            "{limit}"
        );
        assert_eq!(answer.queries, 0);
    }
}

// Stats.

#[test]
fn stats_count_each_hour_what_was_accepted_duplicate_rejected_delivered_and_failed() {
    let mut worker = Worker::new();
    worker.now_ms += 60_000;
    let first = worker.post(&event_body("email.opened", "m-1", worker.now_ms));
    worker.post(&event_body("email.opened", "m-1", worker.now_ms));
    let second = worker.post(&event_body("email.opened", "m-2", worker.now_ms));
    let body = event_body("email.opened", "m-3", worker.now_ms);
    for signature in [Some("0".repeat(64)), Some("not hex".to_string()), None] {
        let refused = worker.submit(&body, signature.as_deref());
        assert_eq!(refused.reply.status, 401);
        worker.keep(&refused);
    }
    worker.deliver(&first.message("crm"), 1, answered(200, "ok"));
    worker.dead_letter(&second.message("crm"));

    worker.now_ms += HOUR_MS;
    worker.post(&event_body("sms.sent", "m-4", worker.now_ms));
    let stale = event_body("email.opened", "m-5", worker.now_ms - 10 * 60_000);
    let refused = worker.post_unlogged(&stale);
    assert_eq!(refused.reply.status, 401);
    worker.keep(&refused);

    let answer = worker.get(&format!(
        "stats?since={}&until={}",
        NOW_MS / 1000,
        (NOW_MS + 2 * HOUR_MS) / 1000
    ));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.body()["hours"],
        json!([
            {"hour": "2025-12-02T13:00:00.000Z", "accepted": 2, "duplicate": 1,
             "rejected": {"invalid_signature": 2, "missing_signature": 1},
             "delivered": 1, "failed": 1, "log_writes_lost": 0},
            {"hour": "2025-12-02T14:00:00.000Z", "accepted": 1, "duplicate": 0,
             "rejected": {"stale_timestamp": 1}, "delivered": 1, "failed": 0,
             "log_writes_lost": 0}
        ])
    );
    // What the log holds, from its own tables and the platform's meter of the
    // database's size.
    let storage = &answer.body()["storage"];
    assert_eq!(
        (
            &storage["shards"],
            &storage["events_kept"],
            &storage["events_accepted"],
            &storage["oldest_event"],
            &storage["log_writes_lost"],
            &storage["lost_since"],
        ),
        (
            &json!(worker.log.names().len()),
            &json!(3),
            &json!(3),
            &json!("2025-12-02T13:01:00.000Z"),
            &json!(0),
            &Value::Null
        )
    );
    assert_eq!(storage["bytes_stored"], worker.log.size());
    // Every write's rows, as the driver reads them from the platform's meter.
    assert!(storage["rows_written"].as_i64().unwrap() > 0, "{storage}");
    assert!(
        storage["rows_written_per_event"].as_f64().unwrap() > 1.0,
        "{storage}"
    );
    // The window takes whole hours: 14:30 to 14:31 is the 14:00 hour.
    let answer = worker.get("stats?since=2025-12-02T14:30:00Z&until=2025-12-02T14:31:00Z");
    let hours: Vec<Value> = answer.body()["hours"].as_array().unwrap().clone();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0]["hour"], "2025-12-02T14:00:00.000Z");
    // By default the last day.
    let answer = worker.get("stats");
    assert_eq!(answer.body()["hours"].as_array().unwrap().len(), 2);
}

// Who may call.

#[test]
fn every_call_needs_the_exact_token_before_any_query() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    let mut one_off: Vec<char> = ADMIN_TOKEN.chars().collect();
    let last = one_off.len() - 1;
    one_off[last] = if one_off[last] == 'b' { 'c' } else { 'b' };
    let one_off: String = one_off.into_iter().collect();
    let presented = [
        None,
        Some(String::new()),
        Some("Bearer wrong".to_string()),
        Some(format!("Bearer {one_off}")),
        Some(format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1])),
        Some(format!("Bearer {ADMIN_TOKEN}x")),
        Some(ADMIN_TOKEN.to_string()),
        Some(format!("Basic {ADMIN_TOKEN}")),
    ];
    let calls = [
        ("GET", "events".to_string(), ""),
        ("GET", format!("events/{id}"), ""),
        ("POST", format!("events/{id}/replay"), ""),
        ("POST", "replay".to_string(), ""),
        ("GET", "stats".to_string(), ""),
        ("POST", "test".to_string(), r#"{"event":"email.opened"}"#),
        // Refused before the request is read.
        ("DELETE", "nowhere".to_string(), "{"),
    ];
    for authorization in &presented {
        for (method, target, body) in &calls {
            let answer = worker.admin_as(authorization.as_deref(), method, target, body);
            assert_eq!(
                (answer.status, error_code(&answer).as_str()),
                (401, "unauthorized"),
                "{authorization:?} {method} {target}"
            );
            assert_eq!((answer.queries, answer.hand_offs), (0, 0));
            assert!(answer.test_event.is_none());
        }
    }
    assert_eq!(worker.delivery_status(&id, "crm"), "failed");
}

#[test]
fn without_admin_token_every_admin_path_is_404() {
    let mut worker = Worker::with(source_with(None, true));
    assert!(worker.config.admin_token.is_none());
    for (method, target) in [("GET", "events"), ("POST", "replay"), ("GET", "stats")] {
        let answer = worker.admin(method, target, "");
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (404, "not_found")
        );
        assert_eq!(answer.queries, 0);
    }
    let loaded = Ok(worker.config.clone());
    for endpoint in [Endpoint::AdminApi, Endpoint::AdminPage] {
        assert_eq!(refusal(&endpoint, &loaded).map(|r| r.status), Some(404));
    }
    assert_eq!(health(&loaded).0, 200);
}

#[test]
fn an_admin_token_shorter_than_32_characters_turns_the_api_off_and_health_says_so() {
    let short = &ADMIN_TOKEN[..31];
    let mut worker = Worker::with(source_with(Some(short), true));
    assert!(worker.config.admin_token.is_none());
    assert_eq!(worker.config.notices.len(), 1);
    assert!(worker.config.notices[0].contains("ADMIN_TOKEN"));
    let answer = worker.admin_as(Some(&format!("Bearer {short}")), "GET", "events", "");
    assert_eq!((answer.status, answer.queries), (404, 0));
    let (status, body) = health(&Ok(worker.config.clone()));
    assert_eq!(status, 503);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "misconfigured");
    assert!(body["problems"][0]
        .as_str()
        .unwrap()
        .contains("ADMIN_TOKEN"));
    assert!(!body.to_string().contains(short));
    // Exactly 32 is enough.
    let worker = Worker::with(source_with(Some(&ADMIN_TOKEN[..32]), true));
    assert!(worker.config.admin_token.is_some() && worker.config.notices.is_empty());
}

#[test]
fn without_events_the_admin_api_is_503_but_for_the_test_call() {
    let mut worker = Worker::with(source_with(Some(ADMIN_TOKEN), false));
    for (method, target, body) in [
        ("GET", "events", ""),
        ("GET", "events/msg_00000000000000000000000000000000", ""),
        ("POST", "replay", ""),
        ("GET", "stats", ""),
    ] {
        let answer = worker.admin(method, target, body);
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (503, "event_log_unavailable"),
            "{method} {target}"
        );
        assert_eq!(answer.queries, 0);
    }
    let answer = worker.admin("POST", "test", r#"{"event":"email.opened"}"#);
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (200, TEST_EVENT_ANSWER)
    );
    let (body, signature) = answer.test_event.unwrap();
    assert_eq!(signature, sign(FIRST_SECRET.as_bytes(), body.as_bytes()));
    let event: HashMap<String, Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(event["event"], "email.opened");
    assert_eq!(event["timestamp"], "2025-12-02T13:00:00Z");
}

#[test]
fn a_bulk_replay_whose_hand_off_fails_midway_is_503_and_a_second_call_replays_the_rest_once() {
    let mut worker = Worker::new();
    let failed = failed_events(&mut worker, 250);
    worker.now_ms += HOUR_MS;
    let mut handed = 0;
    let mut second_chunk_fails = |_: &mut Worker, _: &[Outgoing]| {
        handed += 1;
        handed == 1
    };
    let broken = worker.admin_with(
        Some(&format!("Bearer {ADMIN_TOKEN}")),
        "POST",
        "replay",
        FAILED,
        &mut second_chunk_fails,
    );
    assert_eq!(broken.status, 503, "{}", broken.text);
    let first_chunk: Vec<String> = replayed_ids(&broken).into_iter().take(100).collect();
    assert_eq!(
        worker
            .log
            .number("SELECT COUNT(*) FROM events WHERE status = 'failed'"),
        150,
        "the first chunk's marks stand, the second's were never written"
    );
    let again = worker.admin("POST", "replay", FAILED);
    assert_eq!(again.body(), json!({"replayed": 150, "next_cursor": null}));
    let mut all: Vec<String> = first_chunk;
    all.extend(replayed_ids(&again));
    assert_eq!(all.len(), 250);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>(),
        failed.iter().collect::<BTreeSet<_>>()
    );
}

#[test]
fn a_bulk_replay_takes_only_the_events_of_its_event_pattern_and_window() {
    let mut worker = Worker::new();
    let early = crm_failed(&mut worker, "e-1").id();
    worker.now_ms += HOUR_MS;
    let in_window = crm_failed(&mut worker, "e-2").id();
    let opened = worker.post(&event_body("email.opened", "o-1", worker.now_ms));
    worker.dead_letter(&opened.message("crm"));
    let subscriber = worker.post(&event_body("subscriber.created", "s-1", worker.now_ms));
    worker.dead_letter(&subscriber.message("billing"));
    worker.now_ms += HOUR_MS;
    let late = crm_failed(&mut worker, "e-3").id();

    let window = json!({
        "status": "failed",
        "event": "email.bounced",
        "since": "2025-12-02T14:00:00Z",
        "until": (NOW_MS + 2 * HOUR_MS) / 1000,
    });
    let answer = worker.admin("POST", "replay", &window.to_string());
    assert_eq!(answer.body(), json!({"replayed": 1, "next_cursor": null}));
    assert_eq!(replayed_ids(&answer), [in_window]);

    let family = worker.admin("POST", "replay", r#"{"status":"failed","event":"email.*"}"#);
    let mut replayed = replayed_ids(&family);
    replayed.sort();
    let mut expected = vec![early, late, opened.id()];
    expected.sort();
    assert_eq!(
        replayed, expected,
        "not subscriber.created, not the one already replayed"
    );
    assert_eq!(worker.event_status(&subscriber.id()), "failed");
}

#[test]
fn an_unrouted_event_has_nothing_to_replay_and_an_unknown_one_is_not_found() {
    let mut worker = Worker::new();
    worker.post(&event_body("whatsapp.read", "w-1", NOW_MS));
    let listed = worker.get("events?status=unrouted").body();
    let id = ids(&listed)[0].clone();
    let answer = worker.admin("POST", &format!("events/{id}/replay"), "");
    assert_eq!(
        (answer.status, error_code(&answer).as_str()),
        (400, "invalid_request")
    );
    assert_eq!(answer.hand_offs, 0);
    assert_eq!(worker.event(&id)["deliveries"], json!([]));
    let unknown = worker.get("events/msg_00000000000000000000000000000000");
    assert_eq!(
        (unknown.status, error_code(&unknown).as_str()),
        (404, "not_found")
    );
    assert_eq!(unknown.queries, 1);
}

#[test]
fn a_query_that_fails_is_503_and_says_to_retry() {
    let mut worker = Worker::new();
    worker.post(&event_body("email.opened", "m-1", NOW_MS));
    worker.log.rows("DROP TABLE redeliveries");
    for target in ["events", "stats"] {
        let answer = worker.get(target);
        let expected = if target == "stats" { 200 } else { 503 };
        assert_eq!(answer.status, expected, "{target}: {}", answer.text);
    }
    let answer = worker.get("events");
    assert_eq!(error_code(&answer), "event_log_unavailable");
}

#[test]
fn a_route_named_twice_is_replayed_once() {
    let mut worker = Worker::new();
    let id = crm_failed(&mut worker, "m-1").id();
    worker.now_ms += HOUR_MS;
    let answer = worker.admin(
        "POST",
        &format!("events/{id}/replay"),
        r#"{"routes":["crm","billing","crm"]}"#,
    );
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body(), json!({"replayed": ["crm", "billing"]}));
    let routes: Vec<&str> = answer
        .deliveries()
        .iter()
        .map(|d| d.route.as_str())
        .collect();
    assert_eq!(routes, ["crm", "billing"]);
}

#[test]
fn an_event_reads_back_in_the_shape_spec_section_8_gives_it() {
    let mut worker = Worker::new();
    worker.now_ms = NOW_MS + 123;
    let body = event_body("email.opened", "m-1", NOW_MS);
    let posted = worker.post(&body);
    let id = posted.id();
    let again = worker.post(&body);
    assert_eq!(again.answer()["status"], "duplicate");
    worker.now_ms = NOW_MS + 2_007;
    worker.deliver(&posted.message("crm"), 1, answered(200, "fine"));

    let answer = worker.get(&format!("events/{id}"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    let mut event = answer.body();
    let at = event["deliveries"][0]["attempts"][0]["at"].clone();
    assert!(
        at.as_str()
            .is_some_and(|at| at.starts_with("2025-12-02T13:00:02.")),
        "{at}"
    );
    event["deliveries"][0]["attempts"][0]["at"] = json!("…");
    event["deliveries"][0]["attempts"][0]["duration_ms"] = json!(0);
    assert_eq!(
        event,
        json!({
            "id": id, "event": "email.opened", "message_id": "m-1",
            "timestamp": "2025-12-02T13:00:00Z", "received_at": "2025-12-02T13:00:00.123Z",
            "status": "delivered", "redeliveries": 1,
            "routes": [{"name": "crm", "status": "delivered", "attempts": 1}],
            "body": body,
            "deliveries": [{"route": "crm", "status": "delivered", "attempts": [{
                "attempt": 1, "at": "…", "duration_ms": 0, "outcome": "delivered", "status": 200,
                "headers": null, "body": null, "error": null
            }]}]
        })
    );
    // The list holds the same fields but the body and the attempts.
    let listed = worker.listed(&id);
    assert_eq!(listed["received_at"], "2025-12-02T13:00:00.123Z");
    assert_eq!(listed["routes"], event["routes"]);
    assert!(listed.get("body").is_none() && listed.get("deliveries").is_none());
}
