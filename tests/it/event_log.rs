//! SPEC section 8, the log: what the ingress, the delivery consumer, the
//! dead-letter consumer and the retention purge write, run against SQLite with
//! the schema of `migrations/`, in the orders the platform may run them.

use leadnest_edge::attempts::Outcome;
use leadnest_edge::delivery::{Answer, Decision, Delivery};
use leadnest_edge::event_log::{
    merge_attempts, purge_all_but_failed, purge_continues, replay_pending, schema, Retention,
    Statement, Unwritten, SCHEMA,
};
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

/// The delivery of `route` in the event's detail: its status and how many
/// attempts it has.
fn delivery(detail: &Value, route: &str) -> (String, usize) {
    let found = detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|delivery| delivery["route"] == route)
        .unwrap_or_else(|| panic!("no delivery to {route}"));
    (
        found["status"].as_str().unwrap().to_string(),
        found["attempts"].as_array().unwrap().len(),
    )
}

/// The ids `GET events?status=…` lists, newest first.
fn listed_ids(worker: &mut Worker, status: &str) -> Vec<String> {
    let answer = worker.get(&format!("events?status={status}&limit=200"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_held_delivery_is_held_and_its_event_pending_until_an_attempt_delivers_it() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.bounced", "m-1", NOW_MS));
    let id = posted.id();
    worker.now_ms += 1_000;
    worker.deliver(&posted.message("billing"), 1, answered(200, "ok"));
    // crm is paused: its delivery is held, no attempt made.
    worker.now_ms += 1_000;
    worker.hold(&posted.message("crm"));

    let listed = worker.listed(&id);
    assert_eq!(listed["status"], "pending");
    assert_eq!(
        routes(&listed),
        [
            route("analytics", "delivered", 1),
            route("billing", "delivered", 1),
            route("crm", "held", 0)
        ]
    );
    let detail = worker.event(&id);
    assert_eq!(detail["status"], "pending");
    assert_eq!(delivery(&detail, "crm"), ("held".to_string(), 0));
    assert_eq!(worker.delivery_status(&id, "crm"), "held");
    assert_eq!(worker.event_status(&id), "pending", "the stored column");
    assert_eq!(listed_ids(&mut worker, "held"), std::slice::from_ref(&id));
    assert_eq!(
        listed_ids(&mut worker, "pending"),
        std::slice::from_ref(&id)
    );
    assert!(listed_ids(&mut worker, "delivered").is_empty());

    // The route is active again: the held delivery is sent, and its attempt
    // sets the status from its outcome.
    worker.now_ms += 60_000;
    assert_eq!(
        worker.deliver(&posted.message("crm"), 1, answered(200, "ok")),
        Decision::Ack
    );
    let detail = worker.event(&id);
    assert_eq!(detail["status"], "delivered");
    assert_eq!(delivery(&detail, "crm"), ("delivered".to_string(), 1));
    assert!(listed_ids(&mut worker, "held").is_empty());
    assert_eq!(listed_ids(&mut worker, "delivered"), [id]);
}

#[test]
fn a_held_delivery_keeps_its_attempts_and_each_later_attempt_sets_its_status_from_its_outcome() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    let id = posted.id();
    let message = posted.message("crm");
    // Failed, then the breaker trips: the retry is held, its attempts kept.
    worker.now_ms += 1_000;
    worker.deliver(&message, 1, answered(500, "down"));
    worker.now_ms += 10_000;
    worker.hold(&message);
    let detail = worker.event(&id);
    assert_eq!(delivery(&detail, "crm"), ("held".to_string(), 1));
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "crm")),
        [(1, "retry".to_string())]
    );
    // A probe that fails: pending again, then held again.
    worker.now_ms += 60_000;
    worker.deliver(&message, 2, Outcome::NoAnswer("timeout"));
    assert_eq!(worker.delivery_status(&id, "crm"), "pending");
    worker.now_ms += 1_000;
    worker.hold(&message);
    assert_eq!(worker.delivery_status(&id, "crm"), "held");
    // The probe that delivers.
    worker.now_ms += 120_000;
    worker.deliver(&message, 3, answered(200, "ok"));
    let detail = worker.event(&id);
    assert_eq!(detail["status"], "delivered");
    assert_eq!(
        numbers_and_outcomes(&attempts(&detail, "crm")),
        [
            (1, "retry".to_string()),
            (2, "retry".to_string()),
            (3, "delivered".to_string())
        ]
    );
    // A queue batch's attempts, merged into one write, end the mark too.
    let posted = worker.post(&event_body("email.bounced", "m-2", worker.now_ms));
    worker.hold(&posted.message("crm"));
    worker.hold(&posted.message("billing"));
    worker.now_ms += 1_000;
    let run = |route: &str, outcome| {
        worker
            .run_message(DELIVERY_QUEUE_NAME, &posted.message(route), 1, outcome)
            .records
            .unwrap()
    };
    let (shard, mut statements) = run("crm", answered(200, "ok"));
    statements.extend(run("billing", answered(503, "busy")).1);
    let merged = merge_attempts(statements);
    assert_eq!(merged.len(), 1);
    worker.log.batch(shard, &merged).unwrap();
    let detail = worker.event(&posted.id());
    assert_eq!(delivery(&detail, "crm"), ("delivered".to_string(), 1));
    assert_eq!(delivery(&detail, "billing"), ("pending".to_string(), 1));
}

#[test]
fn a_held_delivery_whose_event_never_reached_the_log_writes_the_event_from_its_message() {
    let mut worker = Worker::new();
    let body = event_body("email.bounced", "m-7", NOW_MS);
    // The ingress's write has not landed when the delivery is held.
    let posted = worker.post_unlogged(&body);
    let id = posted.id();
    worker.now_ms += 2_000;
    worker.hold(&posted.message("crm"));

    let detail = worker.event(&id);
    assert_eq!(detail["body"].as_str(), Some(body.as_str()));
    assert_eq!(
        (
            &detail["event"],
            &detail["message_id"],
            &detail["received_at"],
            &detail["status"]
        ),
        (
            &json!("email.bounced"),
            &json!("m-7"),
            &json!("2025-12-02T13:00:00.000Z"),
            &json!("pending")
        )
    );
    assert_eq!(
        detail["deliveries"],
        json!([{"route": "crm", "status": "held", "attempts": []}])
    );
    // The ingress's write lands late: its routes join, the hold stays.
    worker.keep(&posted);
    let listed = worker.listed(&id);
    assert_eq!(listed["status"], "pending");
    assert_eq!(
        routes(&listed),
        [
            route("analytics", "delivered", 1),
            route("billing", "pending", 0),
            route("crm", "held", 0)
        ]
    );
    assert_eq!(worker.log.number("SELECT COUNT(*) FROM events"), 1);
}

#[test]
fn a_held_record_never_undoes_a_delivery_or_a_later_attempt_and_a_second_one_writes_nothing() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    let id = posted.id();
    let message = posted.message("crm");
    worker.now_ms += 1_000;
    let held = worker.held(&message);
    let shard = held.shard();
    // Held twice (the consumer's write tried again): the second changes nothing.
    let changes = |worker: &Worker, statements: &[Statement]| -> u64 {
        worker
            .log
            .batch(shard, statements)
            .unwrap()
            .changes
            .iter()
            .sum()
    };
    assert_eq!(changes(&worker, &held.statements()), 1);
    assert_eq!(changes(&worker, &held.statements()), 0);

    // Drained: an attempt that failed, then the record of the hold, which
    // came before it, lands late (again): the attempt's status stands.
    worker.now_ms += 60_000;
    worker.deliver(&message, 1, answered(500, "down"));
    assert_eq!(changes(&worker, &held.statements()), 0);
    assert_eq!(worker.delivery_status(&id, "crm"), "pending");

    // Delivered: a record of a later hold (a duplicate message of the same
    // delivery) does not turn it back.
    worker.now_ms += 60_000;
    worker.deliver(&message, 2, answered(200, "ok"));
    worker.now_ms += 1_000;
    worker.hold(&message);
    assert_eq!(worker.delivery_status(&id, "crm"), "delivered");
    assert_eq!(worker.event_status(&id), "delivered");

    // Unless a replay set it pending again: the replay's delivery is held.
    worker.now_ms += 60_000;
    let answer = worker.admin("POST", &format!("events/{id}/replay"), "");
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(worker.delivery_status(&id, "crm"), "pending");
    worker.now_ms += 1_000;
    worker.hold(&answer.deliveries()[0].encode());
    let detail = worker.event(&id);
    assert_eq!(detail["status"], "pending");
    assert_eq!(delivery(&detail, "crm"), ("held".to_string(), 2));
}

#[test]
fn a_held_delivery_then_dead_lettered_is_failed_and_failed_wins_over_held_for_its_event() {
    let mut worker = Worker::new();
    // crm held, billing dead-lettered: the event is failed, and still has a
    // held delivery.
    let both = worker.post(&event_body("email.bounced", "m-1", NOW_MS));
    worker.now_ms += 1_000;
    worker.hold(&both.message("crm"));
    worker.dead_letter(&both.message("billing"));
    let detail = worker.event(&both.id());
    assert_eq!(detail["status"], "failed");
    assert_eq!(delivery(&detail, "crm"), ("held".to_string(), 0));
    assert_eq!(delivery(&detail, "billing"), ("failed".to_string(), 0));
    assert_eq!(listed_ids(&mut worker, "held"), [both.id()]);
    assert_eq!(listed_ids(&mut worker, "failed"), [both.id()]);

    // A held delivery whose dead letter comes after (a copy that spent its
    // retries): failed, no longer held.
    worker.now_ms += 1_000;
    let one = worker.post(&event_body("email.opened", "m-2", worker.now_ms));
    worker.hold(&one.message("crm"));
    worker.now_ms += HOUR_MS;
    worker.dead_letter(&one.message("crm"));
    assert_eq!(worker.delivery_status(&one.id(), "crm"), "failed");
    assert_eq!(listed_ids(&mut worker, "held"), [both.id()]);
    let mut failed = listed_ids(&mut worker, "failed");
    failed.sort();
    let mut expected = vec![both.id(), one.id()];
    expected.sort();
    assert_eq!(failed, expected);
    assert_eq!(
        worker.log.number(&format!(
            "SELECT COUNT(*) FROM events WHERE {}",
            schema::HELD
        )),
        1
    );
}

#[test]
fn a_held_delivery_the_store_refuses_is_counted_as_a_record_lost() {
    let mut worker = Worker::new();
    let posted = worker.post(&event_body("email.opened", "m-1", NOW_MS));
    let held = worker.held(&posted.message("crm"));
    let unwritten = Unwritten::of(held.shard(), &held.statements());
    assert_eq!(unwritten.records(), 1);
    assert!(!unwritten.is_empty());
}

/// Runs the retention at `now_ms` as the scheduled handler does, on every
/// shard the directory lists: a shard past `EVENT_RETENTION_DAYS` (7) is
/// dropped whole, or, holding failed events or a held delivery, purged of the
/// rest in rounds while the core says another is due; past
/// `FAILED_RETENTION_DAYS` (30) it is dropped, unless it holds a held
/// delivery. Each shard decides from its own figures, as the driver's object
/// does. How many shards were dropped and purged.
fn retire(worker: &Worker, now_ms: i64) -> (usize, usize) {
    let (mut dropped, mut purged) = (0, 0);
    for shard in worker.log.names() {
        let figures = Statement::new(schema::FIGURES, Vec::new());
        let figures = &worker.log.query(shard, &[figures]).unwrap().results[0][0];
        let failed = figures["failed"].as_u64().unwrap();
        let held = figures["held"].as_u64().unwrap();
        match Retention::of(shard, now_ms, 7, 30, failed, held) {
            Retention::Keep => {}
            Retention::Drop => {
                worker.log.drop_shard(shard);
                dropped += 1;
            }
            step @ (Retention::PurgeAllButFailed | Retention::PurgeAllButHeld) => {
                purged += 1;
                for round in 0.. {
                    let batch = worker.log.batch(shard, &step.purge_round()).unwrap();
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
fn a_replay_under_way_keeps_its_event_whole_through_the_retention_until_it_delivers() {
    let mut worker = Worker::new();
    worker.now_ms = NOW_MS - 10 * DAY_MS;
    let failed = worker.post(&event_body("email.opened", "replaying", worker.now_ms));
    worker.deliver(&failed.message("crm"), 1, answered(500, "down"));
    worker.dead_letter(&failed.message("crm"));
    // Replayed: its delivery pending again, its event no longer failed, and
    // the only one its shard keeps.
    worker.now_ms = NOW_MS;
    let answer = worker.admin("POST", &format!("events/{}/replay", failed.id()), "");
    assert_eq!(worker.event(&failed.id())["status"], "pending");

    assert_eq!(retire(&worker, NOW_MS), (0, 1), "purged, not dropped");
    assert_eq!(worker.log.texts("SELECT id FROM events"), [failed.id()]);
    let detail = worker.event(&failed.id());
    assert_eq!(attempts(&detail, "crm").len(), 1, "its attempts kept");
    // Delivered by the replay: the next retention lets it go.
    worker.deliver(&answer.deliveries()[0].encode(), 1, answered(200, "ok"));
    assert_eq!(worker.event(&failed.id())["status"], "delivered");
    assert_eq!(retire(&worker, NOW_MS + 3_600_000).0, 1, "dropped whole");
    assert!(!worker
        .log
        .texts("SELECT id FROM events")
        .contains(&failed.id()));
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
fn an_event_with_a_held_delivery_is_never_purged_and_its_window_never_dropped_whatever_its_age() {
    let mut worker = Worker::new();
    // Ten days ago, in one shard: a delivered event, a failed one, and one
    // whose crm delivery is held (its route paused ever since), redelivered
    // once; and a held event alone in another window.
    worker.now_ms = NOW_MS - 10 * DAY_MS;
    let body = event_body("email.opened", "held", worker.now_ms);
    let held = worker.post(&body);
    let k = leadnest_edge::event_log::Shard::of(worker.now_ms, &held.id()).k;
    let delivered = worker.post(&body_in_shard("email.opened", "ok", worker.now_ms, k));
    worker.deliver(&delivered.message("crm"), 1, answered(200, "ok"));
    let failed = worker.post(&body_in_shard("email.opened", "failed", worker.now_ms, k));
    worker.dead_letter(&failed.message("crm"));
    worker.hold(&held.message("crm"));
    worker.now_ms += 60_000;
    assert_eq!(worker.post(&body).answer()["status"], "duplicate");
    worker.now_ms = NOW_MS - 20 * DAY_MS;
    let alone = worker.post(&event_body("email.opened", "alone", worker.now_ms));
    worker.hold(&alone.message("crm"));
    let ids = |worker: &Worker| {
        let mut ids = worker.log.texts("SELECT id FROM events");
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };

    // Past EVENT_RETENTION_DAYS: the delivered event goes, the failed and
    // the held ones stay whole, with the held one's redelivery count.
    worker.now_ms = NOW_MS;
    let (dropped, purged) = retire(&worker, NOW_MS);
    assert_eq!(
        purged, 2,
        "both windows with a held delivery purged, not dropped"
    );
    assert_eq!(
        ids(&worker),
        sorted(vec![held.id(), failed.id(), alone.id()])
    );
    assert_eq!(worker.listed(&held.id())["redeliveries"], 1);
    assert_eq!(
        sorted(listed_ids(&mut worker, "held")),
        sorted(vec![held.id(), alone.id()])
    );
    assert!(dropped > 0, "the windows' count shards and empty shards go");

    // Past FAILED_RETENTION_DAYS, and a year on: the failed event goes, the
    // held ones stay; their windows are never dropped.
    let windows = [held.shard(), alone.shard()];
    for days in [31, 365] {
        let (_, purged) = retire(&worker, NOW_MS - 10 * DAY_MS + days * DAY_MS);
        assert_eq!(purged, 2, "{days} days");
        assert!(windows.iter().all(|w| worker.log.names().contains(w)));
        assert_eq!(ids(&worker), sorted(vec![held.id(), alone.id()]));
    }
    let detail = worker.event(&held.id());
    assert_eq!(delivery(&detail, "crm"), ("held".to_string(), 0));
    assert_eq!(worker.listed(&held.id())["redeliveries"], 1);

    // Sent at last: its window goes whole at the next run.
    worker.now_ms = NOW_MS + 365 * DAY_MS;
    worker.deliver(&held.message("crm"), 1, answered(200, "ok"));
    assert_eq!(
        retire(&worker, worker.now_ms).1,
        1,
        "only the other is purged"
    );
    assert!(!worker.log.names().contains(&held.shard()));
    assert_eq!(ids(&worker), [alone.id()]);
}

#[test]
fn the_figures_a_shard_reports_every_second_read_its_indexes_not_its_rows() {
    let worker = Worker::new();
    for sql in [schema::FIGURES, schema::FIGURES_PURGED] {
        let plan = worker.log.plan(&Statement::new(sql, Vec::new())).join("\n");
        for index in ["events_failed", "events_held"] {
            assert!(
                plan.contains(&format!("COVERING INDEX {index}"))
                    || plan.contains(&format!("USING INDEX {index}")),
                "{index}:\n{plan}"
            );
        }
    }
}

/// A shard's tables as the version before `held` made them: the same,
/// without the indexes of held and replayed events.
fn schema_before_held() -> Vec<&'static str> {
    SCHEMA
        .into_iter()
        .filter(|statement| {
            !statement.contains("events_held") && !statement.contains("events_replayed")
        })
        .collect()
}

#[test]
fn a_shard_made_before_held_keeps_its_events_and_gains_the_index_of_held_events_on_its_next_use() {
    let mut worker = Worker::new();
    let shard_of = |id: &str| leadnest_edge::event_log::Shard::of(NOW_MS, id);
    // Three events in one shard, written by the version before: delivered,
    // pending and failed.
    let delivered = worker.post_unlogged(&event_body("email.opened", "ok", NOW_MS));
    let shard = shard_of(&delivered.id());
    worker.log.made_with(shard, &schema_before_held());
    let indexes = |worker: &Worker| -> Vec<String> {
        let names = Statement::new(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%' ORDER BY name",
            Vec::new(),
        );
        worker.log.query(shard, &[names]).unwrap().results[0]
            .iter()
            .map(|row| row["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(indexes(&worker), ["events_failed", "events_message_id"]);
    worker.keep(&delivered);
    worker.deliver(&delivered.message("crm"), 1, answered(200, "ok"));
    let pending = worker.post(&body_in_shard("email.opened", "pending", NOW_MS, shard.k));
    let failed = worker.post(&body_in_shard("email.opened", "failed", NOW_MS, shard.k));
    worker.dead_letter(&failed.message("crm"));

    // This version's object runs the schema on its first read or write.
    worker.log.reopen(shard);
    assert_eq!(
        indexes(&worker),
        [
            "events_failed",
            "events_held",
            "events_message_id",
            "events_replayed"
        ]
    );
    for (id, status) in [
        (delivered.id(), "delivered"),
        (pending.id(), "pending"),
        (failed.id(), "failed"),
    ] {
        assert_eq!(worker.event(&id)["status"], status);
        assert_eq!(worker.event_status(&id), status, "the stored column");
    }
    assert!(listed_ids(&mut worker, "held").is_empty());
    // A delivery held there reads as any other shard's.
    worker.hold(&pending.message("crm"));
    assert_eq!(worker.event(&pending.id())["status"], "pending");
    assert_eq!(listed_ids(&mut worker, "held"), [pending.id()]);
    assert_eq!(listed_ids(&mut worker, "pending"), [pending.id()]);
    // Running the schema again changes nothing.
    worker.log.reopen(shard);
    assert_eq!(listed_ids(&mut worker, "held"), [pending.id()]);
}

#[test]
fn a_directory_made_before_held_gains_its_column_once_and_keeps_its_shards() {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    // As the version before made and filled it.
    db.execute_batch(
        "CREATE TABLE shards (name TEXT PRIMARY KEY, bytes INTEGER, events INTEGER, \
failed INTEGER, oldest INTEGER) WITHOUT ROWID; \
INSERT INTO shards VALUES ('2025-12-01/3', 4096, 10, 1, 5);",
    )
    .unwrap();
    let outdated = |db: &rusqlite::Connection| {
        db.prepare(schema::DIRECTORY_OUTDATED)
            .unwrap()
            .exists([])
            .unwrap()
    };
    // What the directory object runs before each use.
    let open = |db: &rusqlite::Connection| {
        db.execute_batch(schema::DIRECTORY).unwrap();
        if outdated(db) {
            db.execute_batch(schema::DIRECTORY_UPGRADE).unwrap();
        }
    };
    assert!(outdated(&db));
    open(&db);
    assert!(!outdated(&db));
    open(&db);
    let list = |db: &rusqlite::Connection| -> Vec<(String, i64, i64)> {
        let mut list = db.prepare(schema::LIST).unwrap();
        list.query_map([], |row| {
            Ok((row.get("name")?, row.get("failed")?, row.get("held")?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    // An old row reads as holding none until its shard reports again.
    assert_eq!(list(&db), [("2025-12-01/3".to_string(), 1, 0)]);
    db.execute(
        schema::NOTE,
        rusqlite::params!["2025-12-01/3", 8192, 12, 1, 5, 1],
    )
    .unwrap();
    db.execute(
        schema::NOTE,
        rusqlite::params!["2025-12-02/0", 4096, 1, 0, 9, 0],
    )
    .unwrap();
    assert_eq!(
        list(&db),
        [
            ("2025-12-01/3".to_string(), 1, 1),
            ("2025-12-02/0".to_string(), 0, 0)
        ]
    );
    // A directory made now is up to date from the start.
    let fresh = rusqlite::Connection::open_in_memory().unwrap();
    fresh.execute_batch(schema::DIRECTORY).unwrap();
    assert!(!outdated(&fresh));
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

/// How many rows of a table `sql` stepped through in full scans, run once
/// with every parameter 1.
fn full_scan_steps(db: &rusqlite::Connection, sql: &str) -> i32 {
    let mut statement = db.prepare(sql).unwrap();
    let params: Vec<rusqlite::types::Value> = (0..statement.parameter_count())
        .map(|_| rusqlite::types::Value::Integer(1))
        .collect();
    let mut rows = statement.query(rusqlite::params_from_iter(params)).unwrap();
    while rows.next().unwrap().is_some() {}
    drop(rows);
    statement.get_status(rusqlite::StatementStatus::FullscanStep)
}

#[test]
fn what_runs_often_or_per_row_reads_an_index_never_every_event() {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    for statement in SCHEMA {
        db.execute_batch(statement).unwrap();
    }
    // 500 delivered events, 300 of them counted redelivered.
    for n in 0..500_i64 {
        db.execute(
            "INSERT INTO events (seq, id_key, received_at, body, routes) \
VALUES (?1, randomblob(16), ?1, '{}', '{\"crm\":{\"status\":\"delivered\"}}')",
            [n],
        )
        .unwrap();
    }
    db.execute_batch(
        "INSERT INTO redeliveries (event_id, count, last_at) \
SELECT id, 1, 0 FROM events ORDER BY seq LIMIT 300",
    )
    .unwrap();
    // A shard's report (every second of a busy shard), a replay's mark (one
    // per route replayed), the purge's redelivery counts (one lookup a count).
    let replay = &replay_pending("msg_00000000000000000000000000000000", &["crm".into()], 1)[0];
    let purge = &purge_all_but_failed()[0];
    for (sql, most) in [
        (schema::FIGURES, 1),
        (schema::FIGURES_PURGED, 501),
        (replay.sql.as_ref(), 0),
        // The counts walked, each event found by its id's index.
        (purge.sql.as_ref(), 300),
    ] {
        let steps = full_scan_steps(&db, sql);
        assert!(
            steps <= most,
            "{steps} rows stepped through (at most {most}):\n{sql}"
        );
    }
}
