//! `ROUTES`: `routes::parse_routes` and matching, against a fixed env (see
//! `leadnest_edge_fuzz::routes_source`; a `signing_secret` named `whsec_…` is its own value, so
//! the input also reaches the whsec decoder). Input: the ROUTES text.
//! Invariants: accepted routes are sound; problems repeat no secret-shaped text.
#![no_main]

use std::collections::HashSet;

use leadnest_edge::routes::{matching, parse_routes, Destination};
use leadnest_edge_fuzz::{
    hide_in_routes, hide_in_vars, routes_candidates, routes_source, source, text, var_candidates,
    ROUTES_ENV,
};
use libfuzzer_sys::fuzz_target;

const EVENTS: &[&str] = &[
    "email.opened",
    "sms.replied",
    "whatsapp.read",
    "subscriber.created",
    "emailing.sent",
    "push.sent",
];

fuzz_target!(|data: &[u8]| {
    let routes = text(data);
    match parse_routes(&routes, &routes_source()) {
        Ok(routes) => {
            let mut names = HashSet::new();
            for route in &routes {
                assert!(!route.name.is_empty() && names.insert(route.name.as_str()));
                if let Destination::Http { url, .. } = &route.destination {
                    let parsed = url::Url::parse(url).expect("an accepted url parses");
                    assert!(matches!(parsed.scheme(), "https" | "http"), "{url}");
                }
            }
            for event in EVENTS {
                assert!(matching(&routes, event).count() <= routes.len());
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(
                problems.iter().all(|p| p.starts_with("ROUTES")),
                "{problems:?}"
            );
            no_secret_in(&problems.join("\n"), &routes);
        }
    }
});

/// As in the config target: no secret-shaped string of ROUTES or value of the env
/// appears in a problem, unless it stays there once altered in its own places.
fn no_secret_in(message: &str, routes: &str) {
    let problems = |routes: &str, env: &str| {
        parse_routes(routes, &source(env))
            .err()
            .unwrap_or_default()
            .join("\n")
    };
    for candidate in routes_candidates(routes) {
        if message.contains(&candidate) {
            let hidden = problems(&hide_in_routes(routes, &candidate), ROUTES_ENV);
            assert!(
                hidden.contains(&candidate),
                "string of ROUTES {candidate:?} repeated in: {message}"
            );
        }
    }
    for candidate in var_candidates(ROUTES_ENV) {
        if message.contains(&candidate) {
            let hidden = problems(routes, &hide_in_vars(ROUTES_ENV, &candidate));
            assert!(
                hidden.contains(&candidate),
                "secret {candidate:?} repeated in: {message}"
            );
        }
    }
}
