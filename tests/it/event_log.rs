//! SPEC section 8, the log: what the ingress, the delivery consumer, the
//! dead-letter consumer and the retention purge write, run against SQLite with
//! the schema of `migrations/`, in the orders the platform may run them.

use leadnest_edge::attempts::Outcome;
use leadnest_edge::delivery::{Answer, Decision, Delivery};
use leadnest_edge::event_log::{merge_attempts, purge_all_but_failed, purge_continues, Retention};
use leadnest_edge::routes::Destination;
use serde_json::{json, Value};

use crate::worker::{
    answered, body_in_shard, event_body, signature, Try, Worker, ADMIN_TOKEN, CRM_SIGNING_SECRET,
    DAY_MS, DELIVERY_QUEUE_NAME, FIRST_SECRET, HOUR_MS, NOW_MS, SECOND_SECRET,
};

/// An event's routes as the list shows them, by name: (name, status, attempts).
fn routes(listed: &Value) -> Vec<(String, String, i64)> {
    let mut routes: Vec<_> = listed["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| {
            (
                route["name"].as_str().unwrap().to_string(),
                route["status"].as_str().unwrap().to_string(),
                route["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    routes.sort();
    routes
}

fn route(name: &str, status: &str, attempts: i64) -> (String, String, i64) {
    (name.to_string(), status.to_string(), attempts)
}

/// The attempts of `route` in the event's detail.
fn attempts(detail: &Value, route: &str) -> Vec<Value> {
    detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|delivery| delivery["route"] == route)
        .unwrap_or_else(|| panic!("no delivery to {route}"))["attempts"]
        .as_array()
        .unwrap()
        .clone()
}

fn numbers_and_outcomes(attempts: &[Value]) -> Vec<(i64, String)> {
    attempts
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_accepted_event_is_pending_on_its_routes_until_each_attempt_delivers_it() {
    let mut worker = Worker::new();
    // Spacing, escapes and non-ASCII as a sender may write them: kept byte for byte.
    let body = "{\"event\": \"email.bounced\",  \"timestamp\":\"2025-12-02T13:00:00Z\",\n \"data\":{\"message_id\":\"m-1\",\"reason\":\"Bo\u{ee}te pleine \\u00e9\",\"n\":1.50}}";
    let posted = worker.post(body);
    assert_eq!(posted.answer()["status"], "accepted");
    let id = posted.id();

    let listed = worker.listed(&id);
    assert_eq!(
        (&listed["status"], &listed["event"], &listed["message_id"]),
        (&json!("pending"), &json!("email.bounced"), &json!("m-1"))
    );
    assert_eq!(listed["received_at"], "2025-12-02T13:00:00.000Z");
    // The queue route took it before the answer.
    assert_eq!(
        routes(&listed),
        [
            route("analytics", "delivered", 1),
            route("billing", "pending", 0),
            route("crm", "pending", 0)
        ]
    );

    worker.now_ms += 2_000;
    let ok = answered(200, r#"{"ok":true}"#);
    assert_eq!(
        worker.deliver(&posted.message("crm"), 1, ok.clone()),
        Decision::Ack
    );
    assert_eq!(worker.event_status(&id), "pending");
    worker.deliver(&posted.message("billing"), 1, ok);
    let listed = worker.listed(&id);
    assert_eq!(listed["status"], "delivered");
    assert_eq!(
        routes(&listed),
        [
            route("analytics", "delivered", 1),
            route("billing", "delivered", 1),
            route("crm", "delivered", 1)
        ]
    );

    let detail = worker.event(&id);
    assert_eq!(detail["body"].as_str(), Some(body));
    assert_eq!(detail["status"], "delivered");
    let crm = attempts(&detail, "crm");
    assert_eq!(
        crm,
        [json!({
            "attempt": 1, "at": "2025-12-02T13:00:02.000Z", "duration_ms": 35,
            "outcome": "delivered", "status": 200,
            // Delivered: what the backend answered is not kept (LOG_RESPONSES).
            "headers": null, "body": null, "error": null
        })]
    );
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "analytics")),
        [(1, "sent".to_string())]
    );
}

#[test]
fn an_attempt_written_before_the_ingress_entry_still_ends_delivered() {
    let mut worker = Worker::new();
    let posted = worker.post_unlogged(&event_body("email.opened", "m-1", NOW_MS));
    let id = posted.id();
    // The consumer's write lands first: the ingress writes after its answer.
    let consumed = worker.run_message(
        DELIVERY_QUEUE_NAME,
        &posted.message("crm"),
        1,
        answered(200, "ok"),
    );
    worker.log.write(&consumed.records);
    worker.keep(&posted);

    let listed = worker.listed(&id);
    assert_eq!(listed["status"], "delivered");
    assert_eq!(listed["redeliveries"], 0);
    assert_eq!(routes(&listed), [route("crm", "delivered", 1)]);
    let detail = worker.event(&id);
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "crm")),
        [(1, "delivered".to_string())]
    );
}

#[test]
fn a_failed_attempt_before_the_ingress_entry_then_a_success_are_numbered_1_and_2() {
    let mut worker = Worker::new();
    let body = event_body("email.opened", "m-1", NOW_MS);
    let posted = worker.post_unlogged(&body);
    let id = posted.id();
    let failed = worker.run_message(
        DELIVERY_QUEUE_NAME,
        &posted.message("crm"),
        1,
        answered(503, "busy"),
    );
    assert!(matches!(failed.decision, Decision::Retry { .. }));
    worker.log.write(&failed.records);
    worker.keep(&posted);
    assert_eq!(worker.event_status(&id), "pending");

    worker.now_ms += 10_000;
    worker.deliver(&posted.message("crm"), 2, answered(204, ""));
    assert_eq!(worker.event_status(&id), "delivered");
    let detail = worker.event(&id);
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "crm")),
        [(1, "retry".to_string()), (2, "delivered".to_string())]
    );
}

#[test]
fn two_failed_attempts_then_a_success_are_numbered_1_to_3_and_pending_between() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    let id = posted.id();
    let message = posted.message("crm");
    for attempt in 1..=2 {
        worker.now_ms += 5_000;
        let outcome = if attempt == 1 {
            answered(500, "oops")
        } else {
            Outcome::NoAnswer("timeout")
        };
        let decision = worker.deliver(&message, attempt, outcome);
        assert!(matches!(decision, Decision::Retry { .. }), "{decision:?}");
        assert_eq!(worker.event_status(&id), "pending");
        assert_eq!(worker.delivery_status(&id, "crm"), "pending");
    }
    worker.now_ms += 20_000;
    assert_eq!(
        worker.deliver(&message, 3, answered(200, "ok")),
        Decision::Ack
    );
    let detail = worker.event(&id);
    assert_eq!(detail["status"], "delivered");
    let crm = attempts(&detail, "crm");
    assert_eq!(
        numbers_and_outcomes(&crm),
        [
            (1, "retry".to_string()),
            (2, "retry".to_string()),
            (3, "delivered".to_string())
        ]
    );
    assert_eq!(
        (&crm[0]["status"], &crm[0]["body"]),
        (&json!(500), &json!("oops"))
    );
    assert_eq!(
        (&crm[1]["status"], &crm[1]["error"], &crm[1]["headers"]),
        (&json!(null), &json!("timeout"), &json!(null))
    );
}

#[test]
fn a_queue_batch_writes_the_attempts_of_one_event_as_one_update_of_its_row() {
    // Two workers, the same event and attempts: one writes each attempt on its
    // own, the other a batch's attempts merged.
    let run = |merge: bool| {
        let mut worker = Worker::new();
        let posted = worker.post(&event_body("email.bounced", "m-1", NOW_MS));
        worker.now_ms += 1_000;
        let crm = worker.run_message(
            DELIVERY_QUEUE_NAME,
            &posted.message("crm"),
            1,
            answered(200, "ok"),
        );
        let billing = worker.run_message(
            DELIVERY_QUEUE_NAME,
            &posted.message("billing"),
            1,
            answered(503, "busy"),
        );
        let (shard, mut statements) = crm.records.unwrap();
        statements.extend(billing.records.unwrap().1);
        let statements = if merge {
            merge_attempts(statements)
        } else {
            statements
        };
        let written = worker.log.batch(shard, &statements).unwrap().changes.len();
        (written, worker.event(&posted.id()))
    };
    let (one, merged) = run(true);
    let (two, apart) = run(false);
    assert_eq!((one, two), (1, 2), "one statement, one row written");
    assert_eq!(merged, apart);
    assert_eq!(
        numbers_and_outcomes(&attempts(&merged, "billing")),
        [(1, "retry".to_string())]
    );
    assert_eq!(merged["status"], "pending");
    // Merged again with a third route's attempt, and a second attempt of a
    // route already in it (written on its own, after).
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.bounced", "m-1", NOW_MS));
    let message = |worker: &Worker, route: &str, n| {
        worker
            .run_message(
                DELIVERY_QUEUE_NAME,
                &posted.message(route),
                n,
                answered(503, "busy"),
            )
            .records
            .unwrap()
    };
    let (shard, mut statements) = message(&worker, "crm", 1);
    statements.extend(message(&worker, "billing", 1).1);
    statements.extend(message(&worker, "crm", 2).1);
    let merged = merge_attempts(statements);
    assert_eq!(merged.len(), 2);
    worker.log.batch(shard, &merged).unwrap();
    let detail = worker.event(&posted.id());
    assert_eq!(numbers_and_outcomes(&attempts(&detail, "crm")).len(), 2);
    assert_eq!(numbers_and_outcomes(&attempts(&detail, "billing")).len(), 1);
}

#[test]
fn a_redelivery_counts_on_its_event_and_adds_no_second_one() {
    let mut worker = Worker::new();
    let body = event_body("email.opened", "m-1", NOW_MS);
    let id = worker.post(&body).id();
    worker.now_ms += 30_000;
    let again = worker.post(&body);
    assert_eq!(again.answer()["status"], "duplicate");
    assert!(again.messages.is_empty());
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 1);
    assert_eq!(worker.listed(&id)["redeliveries"], 1);
    assert_eq!(
        worker.log.number("SELECT COUNT(*) FROM deliveries"),
        1,
        "no second delivery"
    );
}

#[test]
fn the_same_accepted_entry_written_twice_is_one_event_and_no_redelivery() {
    let mut worker = Worker::new();
    // Two racing first deliveries that both passed dedup.
    let body = event_body("email.bounced", "m-1", NOW_MS);
    let posted = worker.post_unlogged(&body);
    worker.keep(&posted);
    worker.keep(&posted);
    let id = posted.id();
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 1);
    let listed = worker.listed(&id);
    // Both copies were answered `accepted`: SPEC section 8 counts redeliveries
    // answered `duplicate`.
    assert_eq!(listed["redeliveries"], 0);
    assert_eq!(listed["status"], "pending");
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM deliveries"), 3);
}

#[test]
fn a_dead_letter_marks_its_delivery_and_event_failed_before_it_is_acked() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.bounced", "m-1", NOW_MS));
    let id = posted.id();
    worker.deliver(&posted.message("billing"), 1, answered(200, "ok"));
    worker.deliver(&posted.message("crm"), 1, answered(502, "down"));
    worker.now_ms += HOUR_MS;

    let consumed = worker.dead_letter(&posted.message("crm"));
    assert!(!consumed.attempted, "its retries are spent");
    assert_eq!(consumed.decision, Decision::Ack);
    assert!(consumed.acks_after_records);
    let listed = worker.listed(&id);
    assert_eq!(listed["status"], "failed");
    assert_eq!(
        routes(&listed),
        [
            route("analytics", "delivered", 1),
            route("billing", "delivered", 1),
            route("crm", "failed", 1)
        ]
    );
    let failed = worker
        .log
        .rows("SELECT hour, count FROM counts WHERE name = 'failed'");
    assert_eq!(
        failed,
        [json!({"hour": (NOW_MS + HOUR_MS) / 1000, "count": 1})]
    );
}

#[test]
fn a_dead_letter_whose_event_never_reached_the_log_writes_the_event_from_its_message() {
    let mut worker = Worker::new();
    let body = event_body("email.opened", "m-7", NOW_MS);
    // The ingress's write never lands.
    let posted = worker.post_unlogged(&body);
    let id = posted.id();
    worker.now_ms += 3 * HOUR_MS;
    worker.dead_letter(&posted.message("crm"));

    let detail = worker.event(&id);
    assert_eq!(detail["body"].as_str(), Some(body.as_str()));
    assert_eq!(
        (
            &detail["event"],
            &detail["message_id"],
            &detail["timestamp"],
            &detail["received_at"],
            &detail["status"]
        ),
        (
            &json!("email.opened"),
            &json!("m-7"),
            &json!("2025-12-02T13:00:00Z"),
            &json!("2025-12-02T13:00:00.000Z"),
            &json!("failed")
        )
    );
    assert_eq!(
        detail["deliveries"],
        json!([{"route": "crm", "status": "failed", "attempts": []}])
    );
    assert_eq!(
        worker
            .log
            .number("SELECT count FROM counts WHERE name = 'failed'"),
        1
    );
}

#[test]
fn without_the_event_log_a_dead_letter_is_attempted_as_before() {
    let mut worker = Worker::with(crate::worker::source_with(Some(ADMIN_TOKEN), false));
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    assert!(posted.reply.log_entry.is_none());
    let queue = worker.config.dead_letter_queue.clone();
    let consumed = worker.run_message(&queue, &posted.message("crm"), 1, answered(200, "ok"));
    assert!(consumed.attempted);
    assert_eq!(consumed.decision, Decision::Ack);
    assert!(!consumed.acks_after_records);
    assert!(consumed.records.is_none());
}

/// Runs the retention at `now_ms` as the scheduled handler does, on every
/// shard the directory lists: a shard past `EVENT_RETENTION_DAYS` (7) is
/// dropped whole, or, holding failed events, purged of the rest in rounds
/// while the core says another is due; past `FAILED_RETENTION_DAYS` (30) it
/// is dropped. How many shards were dropped and purged.
fn retire(worker: &Worker, now_ms: i64) -> (usize, usize) {
    let (mut dropped, mut purged) = (0, 0);
    for shard in worker.log.names() {
        let failed = worker.log.query(shard, &[failed_count()]).unwrap().results[0][0]["n"]
            .as_u64()
            .unwrap();
        match Retention::of(shard, now_ms, 7, 30, failed) {
            Retention::Keep => {}
            Retention::Drop => {
                worker.log.drop_shard(shard);
                dropped += 1;
            }
            Retention::PurgeAllButFailed => {
                purged += 1;
                for round in 0.. {
                    let batch = worker.log.batch(shard, &purge_all_but_failed()).unwrap();
                    let deleted: Vec<i64> = batch.changes.iter().map(|&n| n as i64).collect();
                    if !purge_continues(&deleted) {
                        break;
                    }
                    assert!(round < 100, "the purge does not end");
                }
            }
        }
    }
    (dropped, purged)
}

fn failed_count() -> leadnest_edge::event_log::Statement {
    leadnest_edge::event_log::Statement::new(
        "SELECT COUNT(*) AS n FROM events WHERE status = 'failed'",
        Vec::new(),
    )
}

#[test]
fn a_window_past_retention_is_dropped_whole_and_newer_ones_are_kept() {
    let mut worker = Worker::new();
    let old_ms = NOW_MS - 10 * DAY_MS;
    for i in 0..1_200 {
        worker.now_ms = old_ms + i * 1_000;
        let event = if i % 3 == 0 {
            "email.bounced"
        } else {
            "email.opened"
        };
        let posted = worker.post(&event_body(event, &format!("old-{i}"), worker.now_ms));
        worker.deliver(&posted.message("crm"), 1, answered(200, "ok"));
    }
    let mut kept = Vec::new();
    for i in 0..30 {
        worker.now_ms = NOW_MS + i * 1_000;
        let posted = worker.post(&event_body(
            "email.bounced",
            &format!("new-{i}"),
            worker.now_ms,
        ));
        worker.deliver(&posted.message("crm"), 1, answered(200, "ok"));
        kept.push(posted.id());
    }
    let shards = worker.log.names().len();

    // A day short of the retention, nothing goes.
    assert_eq!(retire(&worker, old_ms + 7 * DAY_MS), (0, 0));
    // Every shard of the old window goes whole, with no row deleted one by one.
    let (dropped, purged) = retire(&worker, NOW_MS);
    assert_eq!((purged, worker.log.names().len()), (0, shards - dropped));
    let mut ids = worker.log.texts("SELECT id FROM events");
    ids.sort();
    kept.sort();
    assert_eq!(ids, kept);
    // Each new email.bounced: three deliveries; crm and analytics attempted.
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM deliveries"), 90);
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM attempts"), 60);
    assert_eq!(
        worker.log.number("SELECT MIN(hour) FROM counts"),
        NOW_MS / 1000,
        "the old hours' counts went with their window"
    );
    assert!(worker
        .log
        .names()
        .iter()
        .all(|s| s.window == NOW_MS / DAY_MS));
    assert_eq!(retire(&worker, NOW_MS), (0, 0));
}

#[test]
fn a_failed_event_outlives_the_retention_until_failed_retention_days_or_a_replay_delivers_it() {
    let mut worker = Worker::new();
    // Received 10 and 40 days ago; each crm delivery ends as the test says.
    let at = |days: i64| NOW_MS - days * DAY_MS;
    let post = |worker: &mut Worker, days: i64, label: &str| {
        worker.now_ms = at(days);
        worker.post(&event_body("email.opened", label, worker.now_ms))
    };
    let delivered = post(&mut worker, 10, "delivered");
    worker.deliver(&delivered.message("crm"), 1, answered(200, "ok"));
    let failed = post(&mut worker, 10, "failed");
    worker.deliver(&failed.message("crm"), 1, answered(500, "down"));
    // Its failure recorded minutes ago: its retries spanned days.
    worker.now_ms = NOW_MS - 60_000;
    worker.dead_letter(&failed.message("crm"));
    let replayed = post(&mut worker, 10, "replayed");
    worker.dead_letter(&replayed.message("crm"));
    let ancient = post(&mut worker, 40, "ancient");
    worker.dead_letter(&ancient.message("crm"));
    worker.now_ms = NOW_MS;
    let answer = worker.admin("POST", &format!("events/{}/replay", replayed.id()), "");
    worker.deliver(&answer.deliveries()[0].encode(), 1, answered(200, "ok"));

    // EVENT_RETENTION_DAYS 7, FAILED_RETENTION_DAYS 30.
    retire(&worker, NOW_MS);
    assert_eq!(worker.log.texts("SELECT id FROM events"), [failed.id()]);
    // Kept whole: its delivery, its attempts, and the admin API shows it.
    let detail = worker.event(&failed.id());
    assert_eq!(detail["status"], "failed");
    assert_eq!(attempts(&detail, "crm").len(), 1);
    assert_eq!(
        worker.get("events?status=failed").body()["events"][0]["id"],
        failed.id()
    );
    // Once its window is past FAILED_RETENTION_DAYS it goes too, whole.
    assert_eq!(retire(&worker, at(10) + 31 * DAY_MS).1, 0);
    assert!(worker.log.names().is_empty());
}

#[test]
fn a_window_that_keeps_failures_keeps_only_them_an_event_its_attempts_wrote_included() {
    let mut worker = Worker::new();
    // An isolate that died before its flush: the consumer's writes landed, the
    // ingress's never did; the attempts wrote the event from their message.
    worker.now_ms = NOW_MS - 10 * DAY_MS;
    let lost = worker.post_unlogged(&event_body("email.opened", "lost", worker.now_ms));
    worker.deliver(&lost.message("crm"), 1, answered(500, "down"));
    worker.deliver(&lost.message("crm"), 2, answered(200, "ok"));
    // A failure in the same shard keeps the window.
    let k = leadnest_edge::event_log::Shard::of(worker.now_ms, &lost.id()).k;
    let failed = worker.post(&body_in_shard("email.opened", "failed", worker.now_ms, k));
    worker.dead_letter(&failed.message("crm"));
    // The same, recent: kept.
    worker.now_ms = NOW_MS;
    let recent = worker.post_unlogged(&event_body("email.opened", "recent", worker.now_ms));
    worker.deliver(&recent.message("crm"), 1, answered(200, "ok"));
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM deliveries"), 3);

    assert_eq!(worker.event(&lost.id())["status"], "delivered");
    // The window's shard with the failure is purged; the one of its counts dropped.
    assert_eq!(retire(&worker, NOW_MS).1, 1);
    let mut left = worker.log.texts("SELECT event_id FROM deliveries");
    left.sort();
    let mut expected = vec![recent.id(), failed.id()];
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM attempts"), 1);
}

#[test]
fn nothing_stored_and_no_admin_answer_holds_a_secret_a_signature_or_a_cookie() {
    let mut worker = Worker::new();
    let mut signatures = Vec::new();
    let mut posted_all = Vec::new();
    for (i, event) in [
        "email.bounced",
        "email.opened",
        "sms.sent",
        "subscriber.created",
    ]
    .iter()
    .enumerate()
    {
        let body = event_body(event, &format!("m-{i}"), worker.now_ms);
        signatures.push(signature(&body));
        // The second secret signs during a rotation.
        let posted = if i == 1 {
            let rotated = leadnest_edge::signature::sign(SECOND_SECRET.as_bytes(), body.as_bytes());
            signatures.push(rotated.clone());
            let posted = worker.submit(&body, Some(&rotated));
            worker.keep(&posted);
            posted
        } else {
            worker.post(&body)
        };
        assert_eq!(posted.answer()["status"], "accepted", "{event}");
        posted_all.push(posted);
    }
    let bounced = &posted_all[0];
    // A duplicate and refusals.
    worker.post(&event_body("email.bounced", "m-0", NOW_MS));
    let refused_body = event_body("email.clicked", "m-9", NOW_MS);
    let wrong = leadnest_edge::signature::sign(b"not the secret", refused_body.as_bytes());
    signatures.push(wrong.clone());
    let refused = worker.submit(&refused_body, Some(&wrong));
    worker.keep(&refused);
    // Attempts, a dead letter, a replay of both kinds, a bulk replay.
    // A backend's cookie may be a credential: not kept either.
    let cookie = "session=c00k1e_v4lue_0f_the_backend";
    worker.deliver(
        &bounced.message("billing"),
        1,
        Outcome::Answered(Answer {
            status: 200,
            headers: vec![
                ("Set-Cookie".into(), cookie.into()),
                ("content-type".into(), "text/plain".into()),
            ],
            body: b"ok".to_vec(),
            body_error: None,
        }),
    );
    worker.deliver(&bounced.message("crm"), 1, answered(500, "no"));
    worker.dead_letter(&bounced.message("crm"));
    let id = bounced.id();
    assert_eq!(
        worker
            .admin("POST", &format!("events/{id}/replay"), "")
            .status,
        202
    );
    worker.dead_letter(&bounced.message("crm"));
    assert_eq!(
        worker
            .admin("POST", "replay", r#"{"status":"failed"}"#)
            .status,
        202
    );
    for target in [
        "events".to_string(),
        format!("events/{id}"),
        "stats".to_string(),
    ] {
        assert_eq!(worker.get(&target).status, 200, "{target}");
    }
    worker.admin("POST", "test", r#"{"event":"email.opened"}"#);

    // The Standard Webhooks signatures the crm route's attempts carried.
    let Some(Destination::Http { signing_key, .. }) = worker
        .config
        .routes
        .iter()
        .find(|r| r.name == "crm")
        .map(|r| &r.destination)
    else {
        panic!("no crm route")
    };
    let crm = Delivery::decode(&bounced.message("crm")).unwrap();
    for (name, value) in crm.headers(signing_key.as_ref(), NOW_MS / 1000) {
        if name == "webhook-signature" {
            signatures.push(value.trim_start_matches("v1,").to_string());
        }
    }

    let mut secrets = vec![
        FIRST_SECRET.to_string(),
        SECOND_SECRET.to_string(),
        CRM_SIGNING_SECRET.to_string(),
        CRM_SIGNING_SECRET.trim_start_matches("whsec_").to_string(),
        ADMIN_TOKEN.to_string(),
        cookie.to_string(),
    ];
    for signature in signatures {
        secrets.push(signature.to_uppercase());
        secrets.push(signature);
    }
    let stored = worker.log.every_text();
    assert!(stored.len() > 20, "the flow left too little to scan");
    for secret in &secrets {
        for (place, text) in &stored {
            assert!(!text.contains(secret.as_str()), "{place} holds {secret}");
        }
        for answer in &worker.answers {
            assert!(
                !answer.contains(secret.as_str()),
                "an answer holds {secret}"
            );
        }
    }
}

#[test]
fn without_a_delivery_queue_the_attempts_after_the_answer_end_failed_when_all_fail() {
    let mut worker = Worker::with(crate::worker::source_without_delivery_queue());
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    assert!(posted.messages.is_empty());
    let delivery = posted.reply.after_answer[0].clone();
    let id = delivery.webhook_id.clone();
    assert_eq!(worker.event_status(&id), "pending");
    let decision = worker.deliver_after_answer(delivery, &answered(500, "down"));
    assert_eq!(decision, Decision::Park);
    let detail = worker.event(&id);
    assert_eq!(detail["status"], "failed");
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "crm")),
        [
            (1, "retry".to_string()),
            (2, "retry".to_string()),
            (3, "failed".to_string())
        ]
    );
    assert_eq!(
        worker
            .log
            .number("SELECT count FROM counts WHERE name = 'failed'"),
        1
    );
    // Replayed, it goes after the answer again, same id, in one attempt whose
    // outcome is final: it stays failed until that attempt says otherwise, so
    // a run the platform cuts off leaves nothing pending.
    worker.now_ms += HOUR_MS;
    let answer = worker.admin("POST", &format!("events/{id}/replay"), "");
    assert_eq!(answer.status, 202, "{}", answer.text);
    let replayed = answer.deliveries()[0].clone();
    assert_eq!(replayed.webhook_id, id);
    assert_eq!(worker.event_status(&id), "failed");
    assert_eq!(
        worker.replay_after_answer(replayed.clone(), &answered(500, "still down")),
        Decision::Park
    );
    assert_eq!(worker.event_status(&id), "failed");
    assert_eq!(
        worker.replay_after_answer(replayed, &answered(200, "ok")),
        Decision::Ack
    );
    assert_eq!(worker.event_status(&id), "delivered");
    let detail = worker.event(&id);
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "crm"))[3..],
        [(4, "failed".to_string()), (5, "delivered".to_string())]
    );
}

#[test]
fn a_busy_seconds_entries_are_written_by_one_flush_in_batches_of_whole_events() {
    let mut worker = Worker::new();
    worker.flush_at_once = false;
    // Every batch written, as the store received it.
    let batches = std::rc::Rc::new(std::cell::RefCell::new(Vec::<Vec<String>>::new()));
    let seen = batches.clone();
    worker.fate = Box::new(move |statements, _| {
        seen.borrow_mut()
            .push(statements.iter().map(|s| s.sql.to_string()).collect());
        true
    });
    // Each email.bounced: one row, its deliveries and the queue route's send in it.
    const STATEMENTS_PER_EVENT: usize = 1;
    let first = event_body("email.bounced", "m-0", NOW_MS);
    let first_id = worker.post(&first).id();
    for i in 1..2_000 {
        worker.post(&event_body("email.bounced", &format!("m-{i}"), NOW_MS));
    }
    // Redeliveries of an event accepted in the same second, and refusals.
    for _ in 0..2 {
        assert_eq!(worker.post(&first).answer()["status"], "duplicate");
    }
    for _ in 0..1_000 {
        let refused = worker.submit(&first, Some(&"0".repeat(64)));
        worker.keep(&refused);
    }
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 0);

    worker.flush();
    // One flush: every batch taken at once, a shard's at a time.
    assert!(
        worker.taken.iter().all(|&(at, _)| at == worker.taken[0].0),
        "{:?}",
        worker.taken
    );
    assert_eq!(worker.log.names().len(), 8, "the day's shards");
    let batches = batches.borrow();
    assert!(
        batches.len() > 8,
        "a shard's 250-odd events take more than a batch"
    );
    for batch in batches.iter() {
        let counts = batch
            .iter()
            .filter(|sql| {
                sql.starts_with("INSERT INTO counts") || sql.starts_with("INSERT INTO redeliveries")
            })
            .count();
        let events = batch
            .iter()
            .filter(|sql| sql.starts_with("INSERT INTO events"))
            .count();
        assert!(batch.len() - counts <= 200, "{}", batch.len());
        assert_eq!(
            batch.len() - counts,
            events * STATEMENTS_PER_EVENT,
            "whole events"
        );
    }
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 2_000);
    assert_eq!(
        worker
            .log
            .number("SELECT COUNT(*) FROM events WHERE status = 'pending'"),
        2_000
    );
    assert_eq!(worker.event(&first_id)["redeliveries"], 2);
    for (name, n) in [
        ("accepted", 2_000),
        ("delivered", 2_000),
        ("duplicate", 2),
        ("rejected:invalid_signature", 1000),
    ] {
        assert_eq!(count(&worker, name), n, "{name}");
    }
}

/// The count `name` of every hour, summed, as the log holds it.
fn count(worker: &Worker, name: &str) -> i64 {
    worker.log.number(&format!(
        "SELECT COALESCE(SUM(count), 0) FROM counts WHERE name = '{name}'"
    ))
}

#[test]
fn a_batch_the_store_refuses_is_tried_3_times_then_its_records_are_counted_lost_with_the_next_flush(
) {
    let mut worker = Worker::new();
    worker.flush_at_once = false;
    worker.write_ms = 100;
    // The shard fails every write until 3.35 s in.
    worker.fate = Box::new(|_, at_ms| at_ms >= NOW_MS + 3_350);
    // Its event and its queue route's send; an event of one HTTP route. Both
    // in the shard where the log's own counts go: one batch a flush.
    worker.post(&body_in_shard("email.bounced", "m-1", NOW_MS, 0));
    worker.post(&body_in_shard("email.opened", "m-2", NOW_MS, 0));
    worker.advance(NOW_MS + 10_000);

    let tries: Vec<(i64, bool)> = worker
        .tries
        .iter()
        .map(|t| (t.at_ms - NOW_MS, t.written))
        .collect();
    // Tried at once, 1 s after the first failed, 2 s after the second; then
    // given up, and the next flush writes what the batch held.
    assert_eq!(
        tries,
        [(100, false), (1_200, false), (3_300, false), (3_400, true)]
    );
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 0);
    assert_eq!(
        worker
            .log
            .rows("SELECT hour, count FROM counts WHERE name = 'lost'"),
        [json!({"hour": NOW_MS / 1000, "count": 2})]
    );
    // The counts the lost batch held are only sums: written again.
    assert_eq!(count(&worker, "accepted"), 2);
    assert_eq!(count(&worker, "delivered"), 1);

    // The shard is back: the next event is written as before.
    worker.now_ms = NOW_MS + 20_000;
    let id = worker
        .post(&event_body("email.opened", "m-3", worker.now_ms))
        .id();
    worker.advance(NOW_MS + 21_000);
    assert_eq!(
        worker.log.texts("SELECT id FROM events"),
        [id],
        "{:?}",
        worker.tries
    );
    assert_eq!(count(&worker, "lost"), 2);
}

#[test]
fn an_attempt_the_store_refuses_is_counted_lost_and_a_dead_letter_is_retried_through_its_queue_instead(
) {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    worker.flush_at_once = false;
    worker.fate = Box::new(|_, _| false);
    worker.now_ms += 5_000;
    assert_eq!(
        worker.consume(
            DELIVERY_QUEUE_NAME,
            &posted.message("crm"),
            1,
            answered(200, "ok")
        ),
        Decision::Ack,
        "delivered: the log's loss changes nothing of that"
    );
    let tries: Vec<i64> = worker.tries[1..].iter().map(|t| t.at_ms - NOW_MS).collect();
    assert_eq!(tries, [5_000, 6_000, 8_000]);
    // Its dead letter, before the shard is back: retried, not lost.
    let queue = worker.config.dead_letter_queue.clone();
    let decision = worker.consume(&queue, &posted.message("crm"), 1, answered(500, "unused"));
    assert!(matches!(decision, Decision::Retry { .. }), "{decision:?}");

    worker.fate = Box::new(|_, _| true);
    worker.flush();
    assert_eq!(count(&worker, "lost"), 1, "the attempt only");
    assert_eq!(count(&worker, "delivered"), 1);
    assert_eq!(count(&worker, "failed"), 0);
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM attempts"), 0);
    // The dead letter again, the shard up: recorded, then acked.
    assert_eq!(
        worker.consume(&queue, &posted.message("crm"), 2, answered(500, "unused")),
        Decision::Ack
    );
    assert_eq!(worker.event_status(&posted.id()), "failed");
    assert_eq!(count(&worker, "lost"), 1);
}

#[test]
fn under_sustained_traffic_an_isolate_flushes_at_most_once_a_second_and_each_event_within_it() {
    let mut worker = Worker::new();
    worker.flush_at_once = false;
    worker.write_ms = 20;
    // An event every 50 ms for 30 s: traffic arrives while each flush writes
    // its shards' batches.
    let mut posted_at = Vec::new();
    for i in 0..600 {
        let at = NOW_MS + i * 50;
        worker.advance(at);
        let written = worker.log.number("SELECT COUNT(*) FROM events");
        let due = posted_at.iter().filter(|&&p| p <= at - 1_200).count();
        assert!(
            written >= due as i64,
            "{written} of {due} at {}",
            at - NOW_MS
        );
        worker.post(&event_body("email.opened", &format!("m-{i}"), at));
        posted_at.push(at);
    }
    worker.advance(NOW_MS + 40_000);
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 600);
    let starts = &worker.flush_starts;
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 1_000, "flushes at {pair:?}");
    }
    assert!(starts.len() <= 31, "{}", starts.len());
}

#[test]
fn a_flood_of_rejections_costs_a_write_every_20_s_and_an_event_among_them_goes_within_a_second() {
    let mut worker = Worker::new();
    worker.flush_at_once = false;
    worker.write_ms = 100;
    let forged = "0".repeat(64);
    let body = event_body("email.opened", "m-forged", NOW_MS);
    // 10,000 forged requests over 60 s; one signed event 20.5 s in.
    let event_at = NOW_MS + 20_502;
    let mut event_id = None;
    for i in 0..10_000 {
        let at = NOW_MS + i * 6;
        worker.advance(at);
        if at == event_at {
            // In the shard where rejections are counted: one write.
            let posted = worker.post(&body_in_shard("email.opened", "m-real", at, 0));
            assert_eq!(posted.answer()["status"], "accepted");
            event_id = Some(posted.id());
        }
        if at == event_at + 1_002 {
            assert_eq!(
                worker.log.texts("SELECT id FROM events"),
                [event_id.clone().unwrap()]
            );
        }
        let refused = worker.submit(&body, Some(&forged));
        assert_eq!(refused.reply.status, 401);
        worker.keep(&refused);
    }
    worker.advance(NOW_MS + 60_000);
    let writes: Vec<i64> = worker
        .tries
        .iter()
        .map(|t: &Try| t.at_ms - NOW_MS)
        .collect();
    // Rejections alone at 20 s; with the event a second after the last flush
    // began; alone again 20 s after the first that came after it.
    assert_eq!(writes, [20_100, 21_100, 41_100]);
    worker.advance(NOW_MS + 90_000);
    assert_eq!(count(&worker, "rejected:invalid_signature"), 10_000);
    assert_eq!(count(&worker, "accepted"), 1);
}
