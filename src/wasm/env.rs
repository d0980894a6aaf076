//! Configuration from the Worker's env, loaded once per isolate.

use std::cell::OnceCell;

use wasm_bindgen::prelude::*;

use crate::config::{Config, ConfigError, ConfigSource, UrlParts};

/// The Worker's env seen as a [`ConfigSource`].
struct EnvSource<'a>(&'a JsValue);

impl EnvSource<'_> {
    /// The binding `name`, if it is an object with every method in `methods`.
    fn has(&self, name: &str, methods: &[&str]) -> bool {
        let Ok(value) = js_sys::Reflect::get(self.0, &JsValue::from_str(name)) else {
            return false;
        };
        value.is_object()
            && methods.iter().all(|method| {
                js_sys::Reflect::get(&value, &JsValue::from_str(method))
                    .is_ok_and(|f| f.is_function())
            })
    }
}

impl ConfigSource for EnvSource<'_> {
    fn text(&self, name: &str) -> Option<String> {
        let value = js_sys::Reflect::get(self.0, &JsValue::from_str(name)).ok()?;
        if value.is_undefined() || value.is_null() {
            return None;
        }
        // A [vars] value written as JSON in wrangler.toml arrives as an object or
        // number; one given on the command line arrives as a string. Read both.
        value.as_string().or_else(|| {
            js_sys::JSON::stringify(&value)
                .ok()
                .and_then(|s| s.as_string())
        })
    }

    fn has_kv(&self, name: &str) -> bool {
        self.has(name, &["get", "put", "list"])
    }

    fn has_queue(&self, name: &str) -> bool {
        self.has(name, &["send", "sendBatch"])
    }

    fn has_durable_object(&self, name: &str) -> bool {
        self.has(name, &["idFromName", "get"])
    }

    fn parse_url(&self, url: &str) -> Option<UrlParts> {
        let url = JsUrl::new(url).ok()?;
        Some(UrlParts {
            scheme: url.protocol().trim_end_matches(':').to_string(),
            host: url.hostname(),
        })
    }
}

#[wasm_bindgen]
extern "C" {
    /// The runtime's WHATWG `URL`, the parser `fetch` itself uses.
    #[wasm_bindgen(js_name = URL)]
    type JsUrl;
    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(url: &str) -> Result<JsUrl, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn hostname(this: &JsUrl) -> String;
}

thread_local! {
    // An isolate's env does not change while it lives: read once, kept for
    // the isolate's life, so every request's machine can borrow it.
    static LOADED: OnceCell<&'static Result<Config, ConfigError>> = const { OnceCell::new() };
}

/// The isolate's configuration, loaded on first use.
pub(crate) fn config(env: &JsValue) -> &'static Result<Config, ConfigError> {
    LOADED.with(|cell| *cell.get_or_init(|| Box::leak(Box::new(Config::load(&EnvSource(env))))))
}
