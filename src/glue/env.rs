//! Configuration from the Worker's env, loaded once per isolate.

use std::cell::OnceCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::Env;

use wasm_bindgen::prelude::wasm_bindgen;

use crate::config::{Config, ConfigError, ConfigSource, UrlParts};

/// The Worker's env seen as a [`ConfigSource`].
pub(crate) struct EnvSource<'a>(pub(crate) &'a Env);

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
        self.0.kv(name).is_ok()
    }

    fn has_queue(&self, name: &str) -> bool {
        self.0.queue(name).is_ok()
    }

    fn has_durable_object(&self, name: &str) -> bool {
        self.0.durable_object(name).is_ok()
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

/// A loaded configuration, valid or not, shared by every request of the isolate.
pub(crate) type Loaded = Rc<Result<Config, ConfigError>>;

/// The binding named `name` (a KV namespace, a queue), if one is bound.
pub(crate) fn binding(env: &Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(JsValue::is_object)
}

thread_local! {
    // An isolate's env does not change while it lives, so it is read once.
    static LOADED: OnceCell<Loaded> = const { OnceCell::new() };
}

/// The isolate's configuration, loaded on first use.
pub(crate) fn config(env: &Env) -> Loaded {
    LOADED.with(|cell| {
        cell.get_or_init(|| Rc::new(Config::load(&EnvSource(env))))
            .clone()
    })
}
