//! `ROUTES`: `routes::parse_routes` and matching, against a fixed env (see
//! `Source::for_routes`; a `signing_secret` named `whsec_…` is its own value, so
//! the input also reaches the whsec decoder). Input: the ROUTES text.
#![no_main]

use std::collections::HashSet;

use leadnest_edge::routes::{matching, parse_routes, Destination};
use leadnest_edge_fuzz::{text, Source};
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
    let source = Source::for_routes();
    match parse_routes(&text(data), &source) {
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
        }
    }
});
