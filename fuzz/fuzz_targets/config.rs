//! `config::Config::load` from any vars, secrets and bindings.
//! Input: a `.dev.vars`-like text (see `Source::from_vars`): `NAME=value` lines
//! and `@BINDING` lines, e.g. `WEBHOOK_SECRET=s`, `ROUTES=[...]`, `@DEDUP`.
#![no_main]

use leadnest_edge::config::{Config, ConfigSource, KV_MIN_TTL_SECONDS, MAX_BODY_BYTES_LIMIT};
use leadnest_edge_fuzz::{text, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = text(data);
    let source = Source::from_vars(&input);
    match Config::load(&source) {
        Ok(config) => {
            assert!(!config.secrets.is_empty());
            assert!((1..=MAX_BODY_BYTES_LIMIT as usize).contains(&config.max_body_bytes));
            assert!(config.dedup_ttl_seconds >= KV_MIN_TTL_SECONDS);
            assert!(config.dedup_ttl_seconds >= config.tolerance_seconds);
        }
        Err(error) => {
            assert!(!error.problems.is_empty());
            no_secret_in(&error.message(), &input, &source);
        }
    }
});

/// The SPEC: problems name what is wrong, never a secret's value. A webhook
/// secret found in the message leaked if the message loses it once every secret
/// is swapped for a placeholder (else it is there as other text, e.g. a URL).
fn no_secret_in(message: &str, input: &str, source: &Source) {
    let Some(list) = source.text("WEBHOOK_SECRET") else {
        return;
    };
    let swapped: Vec<String> = input
        .lines()
        .map(|line| match line.strip_prefix("WEBHOOK_SECRET=") {
            Some(value) => {
                let items: Vec<&str> = value
                    .split(',')
                    .map(|s| if s.trim().is_empty() { s } else { "\u{1}" })
                    .collect();
                format!("WEBHOOK_SECRET={}", items.join(","))
            }
            None => line.to_string(),
        })
        .collect();
    let Err(other) = Config::load(&Source::from_vars(&swapped.join("\n"))) else {
        return;
    };
    let other = other.message();
    for secret in list.split(',').map(str::trim).filter(|s| s.len() >= 8) {
        assert!(
            !message.contains(secret) || other.contains(secret),
            "WEBHOOK_SECRET value in: {message}"
        );
    }
}
