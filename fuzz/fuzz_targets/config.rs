//! `config::Config::load` from any vars, secrets and bindings.
//! Input: a `.dev.vars`-like text (see `leadnest_edge_fuzz::source`): `NAME=value` lines
//! and `@BINDING` lines, e.g. `WEBHOOK_SECRET=s`, `ROUTES=[...]`, `@DEDUP`.
//! Invariants: a valid configuration is within its bounds; an invalid one names
//! its problems without repeating any secret-shaped text of the input.
#![no_main]

use leadnest_edge::config::{Config, ConfigSource, KV_MIN_TTL_SECONDS, MAX_BODY_BYTES_LIMIT};
use leadnest_edge_fuzz::{
    hide_in_routes_var, hide_in_vars, routes_candidates, source, text, var_candidates,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = text(data);
    match Config::load(&source(&input)) {
        Ok(config) => {
            assert!(!config.secrets.is_empty());
            assert!((1..=MAX_BODY_BYTES_LIMIT as usize).contains(&config.max_body_bytes));
            assert!(config.dedup_ttl_seconds >= KV_MIN_TTL_SECONDS);
            assert!(config.dedup_ttl_seconds >= config.tolerance_seconds);
        }
        Err(error) => {
            assert!(!error.problems.is_empty());
            no_secret_in(&error.message(), &input);
        }
    }
});

/// No secret-shaped text of the input appears in the message (every var's value,
/// every string of ROUTES that is not a name or a pattern, any `whsec_…`, URL
/// credentials or query), unless it is still there once altered in its own places:
/// then it is other text, e.g. a sentence (see `leadnest_edge_fuzz`).
fn no_secret_in(message: &str, input: &str) {
    let routes = source(input).text("ROUTES").unwrap_or_default();
    let check = |candidates: Vec<String>, hide: fn(&str, &str) -> String, what: &str| {
        for candidate in candidates.iter().filter(|c| message.contains(c.as_str())) {
            let hidden = Config::load(&source(&hide(input, candidate)))
                .err()
                .map(|e| e.message())
                .unwrap_or_default();
            assert!(
                hidden.contains(candidate.as_str()),
                "{what} {candidate:?} repeated in: {message}"
            );
        }
    };
    check(var_candidates(input), hide_in_vars, "var value");
    check(
        routes_candidates(&routes),
        hide_in_routes_var,
        "string of ROUTES",
    );
}
