//! Helpers shared by the fuzz targets: a line splitter for the plain-text input
//! formats (so seeds stay readable files), the env the targets control (the
//! crate's `testing::FakeSource`) and the leak checks on configuration problems.

use leadnest_edge::filter::OPERATORS;
use leadnest_edge::routes::Pattern;
use leadnest_edge::testing::FakeSource;
use serde_json::Value;

/// Splits off the first line: `(line, rest)`, or `None` when there is no `\n`.
pub fn next_line(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = data.iter().position(|&b| b == b'\n')?;
    Some((&data[..at], &data[at + 1..]))
}

/// Header values and env vars reach the worker as strings, so bytes become text
/// the way a lenient host would make them.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The env the routes target checks ROUTES against: the README's example secret and
/// queue names, one secret that is not a whsec, `DELIVERY_QUEUE` and `DEDUP`.
pub const ROUTES_ENV: &str = "CRM_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\
     LOCAL_BACKEND_SIGNING_SECRET=whsec_bGVhZG5lc3QtbG9jYWwtYmFja2VuZC1rZXk=\n\
     BAD_SECRET=not-whsec\n\
     @ANALYTICS_QUEUE\n@DELIVERY_QUEUE\n@DEDUP";

/// A worker env from a `.dev.vars`-like text (`FakeSource::from_vars`: `NAME=value`
/// sets a var or secret, `@NAME` binds NAME as any kind of binding). A secret name
/// that itself starts with `whsec_` resolves to itself, so a ROUTES input alone can
/// feed `signing_secret` values to the whsec decoder.
pub fn source(vars: &str) -> FakeSource {
    FakeSource::from_vars(vars).resolving_whsec_names()
}

/// The env the routes target checks ROUTES against (`ROUTES_ENV`).
pub fn routes_source() -> FakeSource {
    source(ROUTES_ENV)
}

// The SPEC: a problem names what is wrong, never a secret's value, and `/health` is
// public. Anything in a var, and anything in ROUTES that is not a name or a pattern,
// may be a secret; none may appear in a problem. A candidate found in a problem may
// still be there as other text (a sentence, a route's name): it leaked only if the
// problem loses it once the candidate is altered in its own places. The alteration
// keeps each character's class, so what the worker makes of the value (a name or
// not, a URL or not, a whsec or not) and hence the sentence it writes stay the same.

/// Shorter candidates are skipped: a value like "a" or "300" legitimately occurs in
/// sentences and in the numbers a problem repeats.
pub const SECRET_FLOOR: usize = 8;

/// `text` with letters and digits rotated within their class (a→b, Z→A, 9→0) and
/// each `whsec_` kept. Text with neither letters nor digits becomes `fallback`.
fn alter(text: &str, fallback: &str) -> String {
    let rotate = |part: &str| -> String {
        part.chars()
            .map(|c| match c {
                'z' => 'a',
                'Z' => 'A',
                '9' => '0',
                'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
                other => other,
            })
            .collect()
    };
    let altered = text
        .split("whsec_")
        .map(rotate)
        .collect::<Vec<_>>()
        .join("whsec_");
    if altered == text {
        fallback.to_string()
    } else {
        altered
    }
}

/// A string of ROUTES a problem may repeat: a route's or a binding's name, or an
/// event pattern, and never one holding a Standard Webhooks secret.
pub fn is_safe_text(text: &str) -> bool {
    let lower = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let upper = text.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    !text.contains("whsec_")
        && (lower || upper || Pattern::parse(text).is_some() || OPERATORS.contains(&text))
}

/// Every `whsec_…` in `text`, as far as base64 (and its URL-safe form) runs.
fn whsec_runs(text: &str) -> Vec<String> {
    text.match_indices("whsec_")
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest
                .char_indices()
                .skip("whsec_".len())
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || "+/=_-".contains(*c)))
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].to_string()
        })
        .collect()
}

/// The credentials, query and fragment of `text` read as a URL: as written, and as
/// the WHATWG parser gives them (it also takes `https:user:pass@host`).
fn url_secrets(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut userinfo = |info: &str| {
        found.push(info.to_string());
        if let Some((user, password)) = info.split_once(':') {
            found.extend([user.to_string(), password.to_string()]);
        }
    };
    if let Some(at) = text.find("://") {
        let rest = &text[at + 3..];
        let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
        if let Some(end) = authority.rfind('@') {
            userinfo(&authority[..end]);
        }
    }
    if let Ok(url) = url::Url::parse(text) {
        userinfo(&format!(
            "{}:{}",
            url.username(),
            url.password().unwrap_or_default()
        ));
        found.extend(url.query().map(str::to_string));
        found.extend(url.fragment().map(str::to_string));
    }
    if let Some((_, after)) = text.split_once('?') {
        let query = after.split('#').next().unwrap_or_default();
        found.push(query.to_string());
        found.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(_, v)| v.to_string()),
        );
    }
    if let Some((_, fragment)) = text.split_once('#') {
        found.push(fragment.to_string());
    }
    found
}

/// Every string of a JSON value, keys included.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(fields) => {
            for (key, item) in fields {
                out.push(key.clone());
                strings(item, out);
            }
        }
        _ => {}
    }
}

/// What in a ROUTES text may be a secret: each string that is not safe to repeat,
/// with the URL parts and `whsec_…` inside it.
pub fn routes_candidates(routes: &str) -> Vec<String> {
    let mut found = whsec_runs(routes);
    if let Ok(value) = serde_json::from_str::<Value>(routes) {
        let mut all = Vec::new();
        strings(&value, &mut all);
        for text in all.into_iter().filter(|text| !is_safe_text(text)) {
            found.extend(url_secrets(&text));
            found.extend(whsec_runs(&text));
            found.push(text);
        }
    }
    long_enough(found)
}

/// ROUTES with `candidate` altered in every string that is not safe to repeat (keys
/// included); when ROUTES is not JSON, wherever it occurs.
pub fn hide_in_routes(routes: &str, candidate: &str) -> String {
    // A newline: the line-based input can bind no binding and set no var of that name.
    let altered = alter(candidate, "\n");
    let hide_text = |text: String| {
        if is_safe_text(&text) {
            text
        } else {
            text.replace(candidate, &altered)
        }
    };
    fn hide(value: Value, hide_text: &dyn Fn(String) -> String) -> Value {
        match value {
            Value::String(text) => Value::String(hide_text(text)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| hide(v, hide_text)).collect())
            }
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(key, v)| (hide_text(key), hide(v, hide_text)))
                    .collect(),
            ),
            other => other,
        }
    }
    match serde_json::from_str::<Value>(routes) {
        Ok(value) => serde_json::to_string(&hide(value, &hide_text)).unwrap_or_default(),
        Err(_) => routes.replace(candidate, &alter(candidate, "\u{1}")),
    }
}

/// What in a `.dev.vars`-like text may be a secret: every var's value, each item
/// of a comma-separated one, and any `whsec_…` or URL credentials in them.
pub fn var_candidates(vars: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (_, value) in vars
        .lines()
        .filter(|line| !line.starts_with('@'))
        .filter_map(|line| line.split_once('='))
    {
        found.push(value.trim().to_string());
        found.extend(value.split(',').map(|item| item.trim().to_string()));
        found.extend(whsec_runs(value));
        found.extend(url_secrets(value.trim()));
    }
    long_enough(found)
}

/// A `.dev.vars`-like text with `candidate` altered in every var's value but
/// ROUTES's (see `hide_in_routes`); a ROUTES that is the candidate whole becomes a
/// placeholder (altered, its field names would change what it says).
pub fn hide_in_vars(vars: &str, candidate: &str) -> String {
    let altered = alter(candidate, "\u{1}");
    vars.lines()
        .map(|line| match line.split_once('=') {
            Some(("ROUTES", value)) if value.trim() == candidate => "ROUTES=\u{1}".to_string(),
            Some((name, value)) if name != "ROUTES" && !line.starts_with('@') => {
                format!("{name}={}", value.replace(candidate, &altered))
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `.dev.vars`-like text with each ROUTES line passed through `hide_in_routes`.
pub fn hide_in_routes_var(vars: &str, candidate: &str) -> String {
    vars.lines()
        .map(|line| match line.strip_prefix("ROUTES=") {
            Some(routes) => format!("ROUTES={}", hide_in_routes(routes, candidate)),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn long_enough(mut found: Vec<String>) -> Vec<String> {
    found.retain(|text| text.len() >= SECRET_FLOOR);
    found.sort();
    found.dedup();
    found
}
