//! The platform clock. `std::time::SystemTime::now()` panics on
//! wasm32-unknown-unknown; `Date.now()` does not, and allocates no `Date`.

/// Milliseconds since the unix epoch.
pub(crate) fn now_ms() -> u64 {
    // A timestamp in ms is an integer well inside f64's exact range.
    js_sys::Date::now() as u64
}

/// Seconds since the unix epoch.
pub(crate) fn now_seconds() -> i64 {
    i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX)
}

/// Milliseconds elapsed since `started` (from [`now_ms`]).
pub(crate) fn since(started: u64) -> u64 {
    now_ms().saturating_sub(started)
}
