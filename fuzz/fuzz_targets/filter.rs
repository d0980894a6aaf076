//! Route filters (SPEC section 5): `filter::Filter::compile` on any JSON, then
//! `Filter::matches` against any JSON payload.
//! Input: the filter (one line of JSON), `\n`, the payload (JSON; without it, or
//! when it is not JSON, only a missing value is matched).
//! Invariants: no panic; a filter compiles only if it nests no deeper than
//! `MAX_DEPTH`, and wrapped to just past the bound it is rejected as too deep;
//! `{"$not": f}` matches exactly where `f` does not; `{"$and": [f]}` and
//! `{"$or": [f]}` match exactly where `f` does.
#![no_main]

use leadnest_edge::filter::{Filter, MAX_DEPTH};
use leadnest_edge_fuzz::next_line;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let (filter, payload) = next_line(data).unwrap_or((data, &[]));
    let Ok(filter) = serde_json::from_slice::<Value>(filter) else {
        return;
    };
    let payload = serde_json::from_slice::<Value>(payload).ok();
    let depth = nesting(&filter, 0);

    let compiled = match Filter::compile(&filter) {
        Ok(compiled) => compiled,
        Err(error) => {
            assert!(!error.what.is_empty());
            assert!(error.path.is_empty() || error.path.starts_with('/'));
            if error.what.contains("deeper") {
                assert!(depth > MAX_DEPTH, "{error:?} at depth {depth}");
            }
            // The bound holds whatever stands at the bottom.
            let bottom = if filter.is_object() {
                filter
            } else {
                json!({ "x": filter })
            };
            let layers = MAX_DEPTH + 1;
            let too_deep = wrap(bottom, layers, data);
            assert!(too_deep_error(&too_deep), "{layers} layers compiled");
            return;
        }
    };
    assert!(depth <= MAX_DEPTH, "compiled at depth {depth}");
    // As deep as allowed still compiles; one more layer does not.
    let room = MAX_DEPTH - depth;
    assert!(
        Filter::compile(&wrap(filter.clone(), room, data)).is_ok(),
        "{room} more layers rejected"
    );
    assert!(
        too_deep_error(&wrap(filter.clone(), room + 1, data)),
        "{} more layers compiled",
        room + 1
    );

    // The payload, a missing value, and a field of it (a filter stands at every level).
    let values = [
        payload.as_ref(),
        None,
        payload.as_ref().and_then(|p| p.get("data")),
    ];
    for value in values {
        let _ = compiled.matches(value);
    }
    if depth == MAX_DEPTH {
        return;
    }
    let not = compile(json!({ "$not": filter }));
    let and = compile(json!({ "$and": [filter] }));
    let or = compile(json!({ "$or": [filter] }));
    for value in values {
        let expected = compiled.matches(value);
        assert_eq!(not.matches(value), !expected, "$not");
        assert_eq!(and.matches(value), expected, "$and of one");
        assert_eq!(or.matches(value), expected, "$or of one");
    }
});

fn compile(filter: Value) -> Filter {
    Filter::compile(&filter).unwrap_or_else(|e| panic!("within the bound: {e:?}"))
}

fn too_deep_error(filter: &Value) -> bool {
    Filter::compile(filter).is_err_and(|e| e.what.contains("deeper"))
}

/// How deep the objects a filter's matchers stand in go (the top object is 0): a
/// field's value, `$not`'s operand and each item of `$and` / `$or` are one level
/// down; the operands of the other operators are values, not filters. Written
/// apart from `filter.rs`, from the SPEC's shape of a filter.
fn nesting(filter: &Value, depth: usize) -> usize {
    let Value::Object(object) = filter else {
        return 0;
    };
    object
        .iter()
        .map(|(key, value)| match (key.as_str(), value) {
            ("$and" | "$or", Value::Array(items)) => items
                .iter()
                .map(|item| nesting(item, depth + 1))
                .max()
                .unwrap_or(depth),
            ("$and" | "$or", _) => depth,
            ("$not", value) => nesting(value, depth + 1),
            (key, _) if key.starts_with('$') => depth,
            (_, value) => nesting(value, depth + 1),
        })
        .fold(depth, usize::max)
}

/// `filter` inside `layers` levels of field, `$not`, `$and` and `$or`, in an
/// order the input picks.
fn wrap(mut filter: Value, layers: usize, data: &[u8]) -> Value {
    for layer in 0..layers {
        let pick = data.get(layer).copied().unwrap_or(layer as u8) % 4;
        filter = match pick {
            0 => json!({ "a": filter }),
            1 => json!({ "$not": filter }),
            2 => json!({ "$and": [filter] }),
            _ => json!({ "$or": [filter] }),
        };
    }
    filter
}
