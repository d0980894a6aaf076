//! Native micro-benchmarks of the pure ingress path (no runtime, no I/O).
//! Run by `bench/run.sh`; `bench/bench.mjs` reads the medians from
//! `<CRITERION_DIR>/*/new/estimates.json`.
// A benchmark's fixtures are known good; failing loudly is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leadnest_edge::config::{Config, DEDUP_BINDING, DELIVERY_QUEUE_BINDING};
use leadnest_edge::dedup::DedupKey;
use leadnest_edge::ingress::admit;
use leadnest_edge::payload::{check_freshness, parse};
use leadnest_edge::signature::{sign, Secrets};
use leadnest_edge::standard_webhooks::SigningKey;
use leadnest_edge::testing::FakeSource;

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

/// The worker's configuration as the benchmark sets it: one secret, one HTTP route
/// delivered through the queue.
fn config() -> Config {
    let source = FakeSource::new()
        .with("WEBHOOK_SECRET", SECRET)
        .with(
            "ROUTES",
            r#"[{"name":"sink","url":"http://127.0.0.1:9/x","events":["email.*"]}]"#,
        )
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

criterion_group!(benches, pure_path);
criterion_main!(benches);
