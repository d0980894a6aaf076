//! Helpers shared by the fuzz targets: a line splitter for the plain-text input
//! formats (so seeds stay readable files) and a `ConfigSource` the targets control.

use std::collections::{HashMap, HashSet};

use leadnest_edge::config::{ConfigSource, UrlParts};

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

/// A worker env from a `.dev.vars`-like text: `NAME=value` sets a var or secret,
/// `@NAME` binds a KV namespace, queue producer or Durable Object namespace under NAME, other lines are
/// ignored. A secret name that itself starts with `whsec_` resolves to itself, so
/// a ROUTES input alone can feed `signing_secret` values to the whsec decoder.
#[derive(Debug, Default)]
pub struct Source {
    vars: HashMap<String, String>,
    bindings: HashSet<String>,
}

impl Source {
    pub fn from_vars(input: &str) -> Self {
        let mut source = Self::default();
        for line in input.lines() {
            if let Some(binding) = line.strip_prefix('@') {
                source.bindings.insert(binding.to_string());
            } else if let Some((name, value)) = line.split_once('=') {
                source.vars.insert(name.to_string(), value.to_string());
            }
        }
        source
    }

    /// The env the routes target checks ROUTES against: the README's example
    /// secret and queue names, one secret that is not a whsec, and `DEDUP`.
    pub fn for_routes() -> Self {
        Self::from_vars(
            "CRM_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\
             LOCAL_BACKEND_SIGNING_SECRET=whsec_bGVhZG5lc3QtbG9jYWwtYmFja2VuZC1rZXk=\n\
             BAD_SECRET=not-whsec\n\
             @ANALYTICS_QUEUE\n@DELIVERY_QUEUE\n@DEDUP",
        )
    }
}

impl ConfigSource for Source {
    fn text(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .cloned()
            .or_else(|| name.starts_with("whsec_").then(|| name.to_string()))
    }
    fn has_kv(&self, name: &str) -> bool {
        self.bindings.contains(name)
    }
    fn has_queue(&self, name: &str) -> bool {
        self.bindings.contains(name)
    }
    fn has_durable_object(&self, name: &str) -> bool {
        self.bindings.contains(name)
    }
    // As the worker's runtime URL gives them: protocol without ':', WHATWG hostname.
    fn parse_url(&self, text: &str) -> Option<UrlParts> {
        let url = url::Url::parse(text).ok()?;
        Some(UrlParts {
            scheme: url.scheme().to_string(),
            host: url.host_str().unwrap_or_default().to_string(),
        })
    }
}
