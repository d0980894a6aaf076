//! Native micro-benchmarks of the pure ingress path (no runtime, no I/O).
//! Run by `bench/run.sh`; `bench/bench.mjs` reads the medians from
//! `<CRITERION_DIR>/*/new/estimates.json`.
// A benchmark's fixtures are known good; failing loudly is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leadnest_edge::config::{Config, DEDUP_BINDING, DELIVERY_QUEUE_BINDING};
use leadnest_edge::dedup::DedupKey;
use leadnest_edge::filter::Filter;
use leadnest_edge::ingress::admit;
use leadnest_edge::payload::{check_freshness, parse};
use leadnest_edge::signature::{sign, Secrets};
use leadnest_edge::standard_webhooks::SigningKey;
use leadnest_edge::testing::FakeSource;
use serde_json::Value;

const SECRET: &str = "bench_webhook_secret";
const NOW: i64 = 1_705_314_600; // the body's timestamp, 2024-01-15T10:30:00Z
const SIZES: [(&str, usize); 2] = [("1KB", 1024), ("64KB", 64 * 1024)];

/// A LeadNest `email.opened` event padded with a `data.note` string to exactly `size` bytes.
fn body(size: usize) -> Vec<u8> {
    let head = r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_0123456789abcdef","campaign_id":"camp_xyz789","email":"user@example.com","opened_at":"2024-01-15T10:30:00Z","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)","ip_address":"192.168.1.1","note":""#;
    let tail = r#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
}

/// A LeadNest `email.bounced` event padded to exactly `size` bytes the way a real
/// one grows: a `data.links` array of small objects, then a `data.note` string.
fn bounced(size: usize) -> Vec<u8> {
    let head = r#"{"event":"email.bounced","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_0123456789abcdef","campaign_id":"camp_xyz789","list_id":"list_main","email":"no-such-user@example.com","bounce_type":"hard","reason":"550 5.1.1 The email account that you tried to reach does not exist","bounced_at":"2024-01-15T10:30:00Z","links":["#;
    let link = |i: usize| {
        format!(
            r#"{{"url":"https://example.com/p/{i:05}","clicks":{}}},"#,
            i % 7
        )
    };
    let tail = r#"{}],"note":""}}"#;
    let mut text = head.to_string();
    let mut i = 0;
    while text.len() + link(i).len() + tail.len() <= size {
        text.push_str(&link(i));
        i += 1;
    }
    let (close, note) = tail.split_at(tail.len() - 3);
    text.push_str(close);
    text.push_str(&"x".repeat(size.saturating_sub(text.len() + note.len())));
    text.push_str(note);
    text.into_bytes()
}

/// A filter as a route would carry one: a field's value, a prefix, and a `$not`.
const FILTER: &str = r#"{"$and":[{"data":{"bounce_type":"hard"}},{"data":{"campaign_id":{"$startsWith":"camp_"}}},{"$not":{"data":{"list_id":"list_test"}}}]}"#;

/// Three HTTP routes for `email.*` delivered through the queue, each with one of
/// `filters` (`None`: no `filter` field).
fn routes(filters: [Option<&str>; 3]) -> String {
    let routes: Vec<String> = filters
        .iter()
        .enumerate()
        .map(|(i, filter)| {
            let filter = filter.map(|f| format!(r#","filter":{f}"#)).unwrap_or_default();
            format!(r#"{{"name":"sink{i}","url":"http://127.0.0.1:9/{i}","events":["email.*"]{filter}}}"#)
        })
        .collect();
    format!("[{}]", routes.join(","))
}

/// The worker's configuration as the benchmark sets it: one secret, one HTTP route
/// delivered through the queue.
fn config() -> Config {
    config_with(r#"[{"name":"sink","url":"http://127.0.0.1:9/x","events":["email.*"]}]"#)
}

/// The benchmark's configuration with `routes` as ROUTES.
fn config_with(routes: &str) -> Config {
    let source = FakeSource::new()
        .with("WEBHOOK_SECRET", SECRET)
        .with("ROUTES", routes)
        .with_kv(DEDUP_BINDING)
        .with_queue(DELIVERY_QUEUE_BINDING);
    match Config::load(&source) {
        Ok(config) => config,
        Err(error) => panic!("bench config: {:?}", error.problems),
    }
}

fn pure_path(c: &mut Criterion) {
    let secrets = Secrets::parse(SECRET).unwrap();
    let signing_key = SigningKey::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    for (label, size) in SIZES {
        let body = body(size);
        assert_eq!(body.len(), size);
        let signature = sign(SECRET.as_bytes(), &body);
        let verified = secrets.verify(Some(&signature), &body).unwrap();
        let envelope = parse(verified).unwrap();

        let mut group = c.benchmark_group("pure");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("verify", label), |b| {
            b.iter(|| {
                secrets
                    .verify(black_box(Some(&signature)), black_box(&body))
                    .is_ok()
            })
        });
        group.bench_function(BenchmarkId::new("parse_fresh", label), |b| {
            b.iter(|| {
                let envelope = parse(black_box(verified)).unwrap();
                check_freshness(envelope.unix_seconds, NOW, 300).is_ok()
            })
        });
        group.bench_function(BenchmarkId::new("dedup_key", label), |b| {
            b.iter(|| DedupKey::of(black_box(&envelope), black_box(verified)))
        });
        group.bench_function(BenchmarkId::new("sw_sign", label), |b| {
            b.iter(|| signing_key.sign(black_box("msg_0123456789abcdef"), NOW, black_box(&body)))
        });
        group.finish();
    }

    // verify + parse + freshness + dedup key + route match, as the worker calls it.
    let config = config();
    let body = body(1024);
    let signature = sign(SECRET.as_bytes(), &body);
    let mut group = c.benchmark_group("ingress");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(BenchmarkId::new("admit", "1KB"), |b| {
        b.iter(|| {
            admit(&config, black_box(Some(&signature)), black_box(&body), NOW)
                .map(|a| a.routes.len())
                .unwrap()
        })
    });
    group.finish();
}

/// Route filters (SPEC section 5): the one parse of the payload `routes::taking`
/// makes plus matching a realistic filter, and `admit` with three filtered routes
/// beside three unfiltered ones (every filter matches: the same routes are taken).
fn filters(c: &mut Criterion) {
    let filter = Filter::compile(&serde_json::from_str(FILTER).unwrap()).unwrap();
    let mut group = c.benchmark_group("filter");
    for (label, size) in [("1KB", 1024), ("32KB", 32 * 1024)] {
        let body = bounced(size);
        assert_eq!(body.len(), size);
        let payload: Value = serde_json::from_slice(&body).unwrap();
        assert!(filter.matches(Some(&payload)));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("parse_match", label), |b| {
            b.iter(|| {
                let payload = serde_json::from_slice::<Value>(black_box(&body)).ok();
                payload.is_some_and(|p| filter.matches(Some(&p)))
            })
        });
    }
    group.finish();

    let body = bounced(1024);
    let signature = sign(SECRET.as_bytes(), &body);
    let mut group = c.benchmark_group("ingress");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let prefix = r#"{"data":{"campaign_id":{"$startsWith":"camp_"}}}"#;
    let event = r#"{"event":{"$in":["email.bounced","email.complained"]}}"#;
    for (label, routes) in [
        ("3_routes", routes([None; 3])),
        (
            "3_filtered",
            routes([Some(FILTER), Some(prefix), Some(event)]),
        ),
    ] {
        let config = config_with(&routes);
        let taken = admit(&config, Some(&signature), &body, NOW).unwrap();
        assert_eq!(taken.routes.len(), 3, "{label}");
        group.bench_function(BenchmarkId::new("admit_bounced_1KB", label), |b| {
            b.iter(|| {
                admit(&config, black_box(Some(&signature)), black_box(&body), NOW)
                    .map(|a| a.routes.len())
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pure_path, filters);
criterion_main!(benches);
