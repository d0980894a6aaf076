//! SPEC section 2: which endpoint a request is for, and the answers that need
//! no more than the configuration.

use crate::config::{Config, ConfigError};
use crate::error::Rejection;
use crate::ingress::{Reply, Unread, INGRESS_PATH};
use crate::json_writer::JsonObject;

/// The health check.
pub const HEALTH_PATH: &str = "/health";
/// The console.
pub const ADMIN_PATH: &str = "/admin";
const ADMIN_API_PREFIX: &str = "/admin/api/";

/// The headers of every console file: no script but the console's own, nothing
/// from elsewhere, never framed, no referrer, never cached.
pub const ADMIN_PAGE_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

/// What a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /webhooks/leadnest`: run an [`Ingress`](crate::ingress::Ingress).
    Ingress,
    /// `GET` or `HEAD /health`.
    Health,
    /// `/admin/api/…`: the admin API, when `ADMIN_TOKEN` is set (else 404).
    AdminApi,
    /// `GET` or `HEAD /admin` and the console's files under it, when
    /// `ADMIN_TOKEN` is set (else 404).
    AdminPage,
    /// Anything else: refused without reading the body. `logged`: on the
    /// ingress path, where every request has a log line.
    Refused { rejection: Rejection, logged: bool },
}

/// The endpoint of `method` on `path` (as sent, see
/// [`path_of`](crate::ingress::path_of)).
pub fn endpoint(method: &str, path: &str) -> Endpoint {
    match (method, path) {
        ("POST", INGRESS_PATH) => Endpoint::Ingress,
        (_, INGRESS_PATH) => Endpoint::Refused {
            rejection: Rejection::MethodNotAllowed { allow: "POST" },
            logged: true,
        },
        ("GET" | "HEAD", HEALTH_PATH) => Endpoint::Health,
        (_, path) if path.starts_with(ADMIN_API_PREFIX) => Endpoint::AdminApi,
        ("GET" | "HEAD", path) if path == ADMIN_PATH || path.starts_with("/admin/") => {
            Endpoint::AdminPage
        }
        (_, HEALTH_PATH) => Endpoint::Refused {
            rejection: Rejection::MethodNotAllowed { allow: "GET" },
            logged: false,
        },
        _ => Endpoint::Refused {
            rejection: Rejection::NotFound,
            logged: false,
        },
    }
}

/// Whether the admin API and console answer: `ADMIN_TOKEN` is set, long
/// enough, and the configuration loaded.
pub fn admin_enabled(loaded: &Result<Config, ConfigError>) -> bool {
    loaded
        .as_ref()
        .is_ok_and(|config| config.admin_token.is_some())
}

/// Who answers a request, given the configuration as it loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// An [`Ingress`](crate::ingress::Ingress).
    Ingress,
    /// [`health`].
    Health,
    /// The console's files.
    AdminPage,
    /// An [`AdminCall`](crate::admin::AdminCall).
    AdminApi,
    /// The console while it is off: a browser gets the page that says how to
    /// turn it on (still a 404); anything else, the [`refusal`].
    AdminOff,
    /// The [`refusal`], from the configuration alone: a 404, a 405, or the
    /// ingress of a misconfigured worker.
    Refused,
}

/// Who answers `method` on `path`: the ingress only with a valid
/// configuration, the admin API and the console only with `ADMIN_TOKEN` set.
pub fn handler(method: &str, path: &str, loaded: &Result<Config, ConfigError>) -> Handler {
    match endpoint(method, path) {
        Endpoint::Ingress if loaded.is_ok() => Handler::Ingress,
        Endpoint::Health => Handler::Health,
        Endpoint::AdminPage if admin_enabled(loaded) => Handler::AdminPage,
        Endpoint::AdminApi if admin_enabled(loaded) => Handler::AdminApi,
        Endpoint::AdminPage => Handler::AdminOff,
        _ => Handler::Refused,
    }
}

/// What to do with the body of a request that will not be read, valid
/// configuration or not.
pub fn unread(loaded: &Result<Config, ConfigError>) -> Unread {
    Unread::of(match loaded {
        Ok(config) => config.drain_refused_bodies,
        Err(error) => error.drain_refused_bodies,
    })
}

/// Whether the event log is bound, valid configuration or not: a misconfigured
/// worker's refusals are counted too.
pub fn event_log(loaded: &Result<Config, ConfigError>) -> bool {
    match loaded {
        Ok(config) => config.event_log,
        Err(error) => error.event_log,
    }
}

/// The answer of an endpoint that reads nothing: a refusal, or the ingress of a
/// misconfigured worker (`500 misconfigured`, naming every problem).
pub fn refusal(endpoint: &Endpoint, loaded: &Result<Config, ConfigError>) -> Option<Reply> {
    match (endpoint, loaded) {
        (Endpoint::Refused { rejection, logged }, _) => {
            Some(Reply::refusal(rejection, Some(unread(loaded)), *logged))
        }
        (Endpoint::Ingress, Err(error)) => Some(Reply::refusal(
            &Rejection::Misconfigured(error.message()),
            Some(unread(loaded)),
            true,
        )),
        // Without a token the admin paths do not exist.
        (Endpoint::AdminApi | Endpoint::AdminPage, _) if !admin_enabled(loaded) => Some(
            Reply::refusal(&Rejection::NotFound, Some(unread(loaded)), false),
        ),
        _ => None,
    }
}

/// `200 {"status":"ok"}`, or `503 {"status":"misconfigured","problems":[…]}`.
pub fn health(loaded: &Result<Config, ConfigError>) -> (u16, String) {
    let problems = match loaded {
        Ok(config) if config.notices.is_empty() => {
            return (200, r#"{"status":"ok"}"#.to_string());
        }
        Ok(config) => &config.notices,
        Err(error) => &error.problems,
    };
    let problems: Vec<&str> = problems.iter().map(String::as_str).collect();
    let body = JsonObject::new()
        .text("status", "misconfigured")
        .texts("problems", &problems)
        .end();
    (503, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_follows_the_configuration() {
        use crate::testing::FakeSource;
        let valid = Config::load(&FakeSource::minimal());
        let admin = Config::load(
            &FakeSource::minimal().with("ADMIN_TOKEN", "adm_0123456789abcdef0123456789abcdef"),
        );
        let broken = Config::load(&FakeSource::new());
        assert!(valid.is_ok() && admin.is_ok() && broken.is_err());
        for (method, path, loaded, expected) in [
            ("POST", "/webhooks/leadnest", &valid, Handler::Ingress),
            ("POST", "/webhooks/leadnest", &broken, Handler::Refused),
            ("GET", "/webhooks/leadnest", &valid, Handler::Refused),
            ("GET", "/health", &broken, Handler::Health),
            ("GET", "/admin/", &admin, Handler::AdminPage),
            ("GET", "/admin/", &valid, Handler::AdminOff),
            ("GET", "/admin/", &broken, Handler::AdminOff),
            ("GET", "/admin/api/events", &admin, Handler::AdminApi),
            ("GET", "/admin/api/events", &valid, Handler::Refused),
            ("GET", "/elsewhere", &admin, Handler::Refused),
        ] {
            assert_eq!(handler(method, path, loaded), expected, "{method} {path}");
        }
    }
    use crate::testing::FakeSource;

    #[test]
    fn each_path_and_method() {
        assert_eq!(endpoint("POST", "/webhooks/leadnest"), Endpoint::Ingress);
        assert_eq!(endpoint("GET", "/health"), Endpoint::Health);
        assert_eq!(endpoint("HEAD", "/health"), Endpoint::Health);
        for (method, path, status, code, logged) in [
            ("GET", "/webhooks/leadnest", 405, "method_not_allowed", true),
            ("PUT", "/webhooks/leadnest", 405, "method_not_allowed", true),
            ("POST", "/health", 405, "method_not_allowed", false),
            ("POST", "/webhooks/leadnest/", 404, "not_found", false),
            ("POST", "/webhooks%2Fleadnest", 404, "not_found", false),
            ("GET", "/", 404, "not_found", false),
        ] {
            let Endpoint::Refused {
                rejection,
                logged: l,
            } = endpoint(method, path)
            else {
                panic!("{method} {path}");
            };
            assert_eq!(
                (rejection.status(), rejection.code(), l),
                (status, code, logged)
            );
        }
        let loaded = Config::load(&FakeSource::minimal());
        let reply = refusal(&endpoint("PUT", "/webhooks/leadnest"), &loaded).unwrap();
        assert_eq!(reply.allow, Some("POST"));
        assert_eq!(reply.unread, Some(Unread::Cancel));
        assert!(reply.log_line(0).unwrap().contains("method_not_allowed"));
        let reply = refusal(&endpoint("GET", "/nope"), &loaded).unwrap();
        assert_eq!(reply.log_line(0), None);
        assert_eq!(refusal(&Endpoint::Ingress, &loaded), None);
    }

    #[test]
    fn health_and_misconfigured_name_every_problem() {
        assert_eq!(
            health(&Config::load(&FakeSource::minimal())),
            (200, r#"{"status":"ok"}"#.to_string())
        );
        let loaded = Config::load(&FakeSource::new().with("DRAIN_REFUSED_BODIES", "true"));
        let (status, body) = health(&loaded);
        assert_eq!(status, 503);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], "misconfigured");
        assert_eq!(body["problems"].as_array().unwrap().len(), 2);
        let reply = refusal(&Endpoint::Ingress, &loaded).unwrap();
        assert_eq!(reply.status, 500);
        assert!(reply.body.contains("WEBHOOK_SECRET") && reply.body.contains("DEDUP"));
        // Even misconfigured, the body is let go of as configured.
        assert_eq!(reply.unread, Some(Unread::Drain));
    }
}
