//! A route's `filter` (SPEC section 5, Hookdeck's syntax): compiled once with the
//! configuration into a [`Filter`], matched against each verified payload.
//!
//! A key names a field of the payload; a bare value means equality (against an
//! array field: the array contains it); a nested object matches partially; an
//! array means the field is an array containing every one of its items. The
//! operators `$eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist`
//! apply to the value where they stand, and `$and $or $not` combine matchers
//! anywhere a matcher may stand. Numbers compare by value, strings in code-point
//! order; a comparison across types is no match.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// The operators, as a filter writes them.
pub const OPERATORS: [&str; 14] = [
    "$eq",
    "$neq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$startsWith",
    "$endsWith",
    "$exist",
    "$and",
    "$or",
    "$not",
];

/// How deep a filter may nest: deeper is a configuration problem, so matching
/// never recurses without bound.
pub const MAX_DEPTH: usize = 16;

/// A compiled filter: what must hold of one value (absent when the field is
/// missing).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every one holds (an object's keys, `$and`).
    All(Vec<Filter>),
    /// At least one holds (`$or`).
    Any(Vec<Filter>),
    /// It does not hold (`$not`).
    Not(Box<Filter>),
    /// The field `name` of an object value holds to the filter.
    Field(String, Box<Filter>),
    /// A bare value: equal, or an array that contains it.
    Equals(Value),
    /// An array filter: an array containing every item.
    ContainsAll(Vec<Value>),
    /// `$eq` … `$lte`.
    Compare(Comparison, Value),
    /// `$in` (true) or `$nin` (false) the values.
    In(Vec<Value>, bool),
    /// `$startsWith` (true) or `$endsWith` (false).
    Affix(String, bool),
    /// `$exist`.
    Exists(bool),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// What is wrong with a filter, and where: `path` is a JSON-pointer-like path
/// inside the filter (`/data/amount/$gt`). Never quotes a value of the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub path: String,
    pub what: &'static str,
}

impl Filter {
    /// Compiles a route's `filter`, which must be a JSON object.
    pub fn compile(filter: &Value) -> Result<Self, FilterError> {
        match filter {
            Value::Object(object) => compile_object(object, "", 0),
            _ => Err(FilterError {
                path: String::new(),
                what: "must be a JSON object matched against the payload",
            }),
        }
    }

    /// Whether `value` (the payload, or a field of it; `None` when missing) matches.
    pub fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Self::All(all) => all.iter().all(|f| f.matches(value)),
            Self::Any(any) => any.iter().any(|f| f.matches(value)),
            Self::Not(filter) => !filter.matches(value),
            Self::Field(name, filter) => {
                filter.matches(value.and_then(Value::as_object).and_then(|o| o.get(name)))
            }
            Self::Equals(expected) => match value {
                Some(Value::Array(items)) if !expected.is_array() => contains(items, expected),
                Some(value) => same(value, expected),
                None => false,
            },
            Self::ContainsAll(expected) => match value {
                Some(Value::Array(items)) => expected.iter().all(|e| contains(items, e)),
                _ => false,
            },
            Self::Compare(op, operand) => compare(*op, value, operand),
            Self::In(values, inside) => {
                let found = value.is_some_and(|v| contains(values, v));
                found == *inside
            }
            Self::Affix(affix, starts) => match value {
                Some(Value::String(text)) if *starts => text.starts_with(affix.as_str()),
                Some(Value::String(text)) => text.ends_with(affix.as_str()),
                _ => false,
            },
            Self::Exists(expected) => value.is_some() == *expected,
        }
    }
}

/// JSON equality with numbers by value: `100`, `100.0` and `1e2` are one number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => number_order(a, b) == Some(Ordering::Equal),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| same(a, b)))
        }
        (a, b) => a == b,
    }
}

fn contains(items: &[Value], value: &Value) -> bool {
    items.iter().any(|item| same(item, value))
}

/// Two numbers in order: exactly while both are whole (past 2^53 too), as
/// `f64` otherwise.
fn number_order(a: &Number, b: &Number) -> Option<Ordering> {
    let whole = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (whole(a), whole(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn compare(op: Comparison, value: Option<&Value>, operand: &Value) -> bool {
    match op {
        Comparison::Eq => value.is_some_and(|value| same(value, operand)),
        Comparison::Neq => !value.is_some_and(|value| same(value, operand)),
        _ => {
            let order = match (value, operand) {
                (Some(Value::Number(a)), Value::Number(b)) => number_order(a, b),
                (Some(Value::String(a)), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
                // A type mismatch, or a missing field: no match.
                _ => None,
            };
            order.is_some_and(|order| match op {
                Comparison::Gt => order == Ordering::Greater,
                Comparison::Gte => order != Ordering::Less,
                Comparison::Lt => order == Ordering::Less,
                _ => order != Ordering::Greater,
            })
        }
    }
}

fn error(path: &str, what: &'static str) -> FilterError {
    FilterError {
        path: path.to_string(),
        what,
    }
}

/// An object: each key a field or an operator, all of which must hold.
fn compile_object(
    object: &Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<Filter, FilterError> {
    if depth > MAX_DEPTH {
        return Err(error(path, "nests deeper than 16 levels"));
    }
    let mut all = Vec::with_capacity(object.len());
    for (key, value) in object {
        let here = format!("{path}/{}", escape(key));
        all.push(if key.starts_with('$') {
            compile_operator(key, value, &here, depth)?
        } else {
            Filter::Field(
                key.clone(),
                Box::new(compile_matcher(value, &here, depth + 1)?),
            )
        });
    }
    Ok(match all.len() {
        1 => all.remove(0),
        _ => Filter::All(all),
    })
}

/// What may stand as a field's matcher: an object (fields and operators), an
/// array (containing all), or a bare value (equality).
fn compile_matcher(value: &Value, path: &str, depth: usize) -> Result<Filter, FilterError> {
    match value {
        Value::Object(object) => compile_object(object, path, depth),
        Value::Array(items) => Ok(Filter::ContainsAll(items.clone())),
        value => Ok(Filter::Equals(value.clone())),
    }
}

fn compile_operator(
    key: &str,
    operand: &Value,
    path: &str,
    depth: usize,
) -> Result<Filter, FilterError> {
    let comparison = |op| Ok(Filter::Compare(op, operand.clone()));
    let ordered = |op| match operand {
        Value::Number(_) | Value::String(_) => Ok(Filter::Compare(op, operand.clone())),
        _ => Err(error(path, "takes a number or a string")),
    };
    let filters = |operand: &Value| match operand {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| compile_matcher(item, &format!("{path}/{i}"), depth + 1))
            .collect::<Result<Vec<_>, _>>(),
        _ => Err(error(path, "takes a non-empty array of filters")),
    };
    match key {
        "$eq" => comparison(Comparison::Eq),
        "$neq" => comparison(Comparison::Neq),
        "$gt" => ordered(Comparison::Gt),
        "$gte" => ordered(Comparison::Gte),
        "$lt" => ordered(Comparison::Lt),
        "$lte" => ordered(Comparison::Lte),
        "$in" | "$nin" => match operand {
            Value::Array(values) => Ok(Filter::In(values.clone(), key == "$in")),
            _ => Err(error(path, "takes an array of values")),
        },
        "$startsWith" | "$endsWith" => match operand {
            Value::String(affix) => Ok(Filter::Affix(affix.clone(), key == "$startsWith")),
            _ => Err(error(path, "takes a string")),
        },
        "$exist" => match operand {
            Value::Bool(exists) => Ok(Filter::Exists(*exists)),
            _ => Err(error(path, "takes true or false")),
        },
        "$and" => Ok(Filter::All(filters(operand)?)),
        "$or" => Ok(Filter::Any(filters(operand)?)),
        "$not" => Ok(Filter::Not(Box::new(compile_matcher(
            operand,
            path,
            depth + 1,
        )?))),
        _ => Err(error(
            path,
            "is not an operator ($eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist $and $or $not)",
        )),
    }
}

/// A key as a path segment: a field name of the payloads' shape (lowercase,
/// digits, `_`) or a known operator is shown; anything else is shown as `*`,
/// since `/health` is public and a key could hold anything.
fn escape(key: &str) -> String {
    let field = (1..=40).contains(&key.len())
        && !key.starts_with("whsec_")
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if field || OPERATORS.contains(&key) {
        key.to_string()
    } else {
        "*".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bounce(kind: &str) -> Value {
        json!({"event": "email.bounced", "timestamp": "2024-01-15T10:30:00Z",
               "data": {"message_id": "msg_1", "bounce_type": kind, "amount": 42,
                        "tags": ["vip", "test"], "campaign_id": "camp_xyz789",
                        "email": "user@example.com", "nested": {"a": {"b": 1}}}})
    }

    fn check(filter: Value, payload: &Value) -> bool {
        Filter::compile(&filter)
            .unwrap_or_else(|e| panic!("{filter}: {e:?}"))
            .matches(Some(payload))
    }

    /// Numbers are one number however they are written (SPEC section 5): the
    /// payload's text is LeadNest's, the filter's the customer's.
    #[test]
    fn numbers_compare_by_value_however_written() {
        let payload = |amount: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"data": {{"amount": {amount}, "scores": [{amount}], "box": {{"n": {amount}}}}}}}"#
            ))
            .unwrap_or(Value::Null)
        };
        for written in ["100", "100.0", "1e2", "1.0E2"] {
            let event = payload(written);
            for (filter, expected) in [
                (json!({"data": {"amount": 100}}), true),
                (json!({"data": {"amount": 100.0}}), true),
                (json!({"data": {"amount": {"$eq": 100}}}), true),
                (json!({"data": {"amount": {"$neq": 100}}}), false),
                (json!({"data": {"amount": {"$in": [5, 100]}}}), true),
                (json!({"data": {"amount": {"$nin": [100.0]}}}), false),
                (json!({"data": {"scores": 100}}), true),
                (json!({"data": {"scores": [100.0]}}), true),
                (json!({"data": {"box": {"$eq": {"n": 100}}}}), true),
                (json!({"data": {"amount": 101}}), false),
                (json!({"data": {"amount": {"$neq": 100.5}}}), true),
            ] {
                assert_eq!(
                    check(filter.clone(), &event),
                    expected,
                    "{filter} on {written}"
                );
            }
        }
        // Whole numbers past 2^53 stay apart, as integers.
        let big = payload("9007199254740993");
        assert!(!check(
            json!({"data": {"amount": 9_007_199_254_740_992_u64}}),
            &big
        ));
        assert!(check(
            json!({"data": {"amount": {"$gt": 9_007_199_254_740_992_u64}}}),
            &big
        ));
        assert!(check(
            json!({"data": {"amount": {"$eq": 9_007_199_254_740_993_u64}}}),
            &big
        ));
        assert!(check(json!({"data": {"amount": {"$gt": -1}}}), &big));
    }

    /// (filter, expected on `bounce("hard")`), one row per rule.
    #[test]
    fn every_operator() {
        let hard = bounce("hard");
        for (filter, expected) in [
            // Equality, partial nested objects, missing fields.
            (json!({"data": {"bounce_type": "hard"}}), true),
            (json!({"data": {"bounce_type": "soft"}}), false),
            (
                json!({"event": "email.bounced", "data": {"amount": 42}}),
                true,
            ),
            (json!({"data": {"nested": {"a": {"b": 1}}}}), true),
            (json!({"data": {"nested": {"a": {"b": 2}}}}), false),
            (json!({"data": {"missing": "x"}}), false),
            (json!({"data": {"amount": "42"}}), false),
            // Arrays: a bare value is contained; an array filter contains all.
            (json!({"data": {"tags": "vip"}}), true),
            (json!({"data": {"tags": "gold"}}), false),
            (json!({"data": {"tags": ["test", "vip"]}}), true),
            (json!({"data": {"tags": ["vip", "gold"]}}), false),
            (json!({"data": {"bounce_type": ["hard"]}}), false),
            // Comparisons: numbers by value, strings in code-point order, mismatches fail.
            (json!({"data": {"amount": {"$gt": 41}}}), true),
            (json!({"data": {"amount": {"$gt": 42}}}), false),
            (json!({"data": {"amount": {"$gte": 42.0}}}), true),
            (json!({"data": {"amount": {"$lt": 42.5}}}), true),
            (json!({"data": {"amount": {"$lte": 41}}}), false),
            (json!({"data": {"amount": {"$gt": "4"}}}), false),
            (json!({"data": {"bounce_type": {"$gt": "hare"}}}), false),
            (json!({"data": {"bounce_type": {"$lt": "hare"}}}), true),
            (json!({"data": {"bounce_type": {"$gt": 1}}}), false),
            (json!({"data": {"missing": {"$lt": 100}}}), false),
            (json!({"data": {"bounce_type": {"$eq": "hard"}}}), true),
            (json!({"data": {"bounce_type": {"$neq": "soft"}}}), true),
            (json!({"data": {"bounce_type": {"$neq": "hard"}}}), false),
            (json!({"data": {"missing": {"$neq": "hard"}}}), true),
            (json!({"data": {"tags": {"$eq": ["vip", "test"]}}}), true),
            // Sets, affixes, existence.
            (
                json!({"data": {"bounce_type": {"$in": ["soft", "hard"]}}}),
                true,
            ),
            (
                json!({"data": {"bounce_type": {"$nin": ["soft", "hard"]}}}),
                false,
            ),
            (json!({"data": {"missing": {"$nin": ["x"]}}}), true),
            (
                json!({"data": {"campaign_id": {"$startsWith": "camp_"}}}),
                true,
            ),
            (json!({"data": {"campaign_id": {"$endsWith": "789"}}}), true),
            (json!({"data": {"amount": {"$startsWith": "4"}}}), false),
            (json!({"data": {"bounce_type": {"$exist": true}}}), true),
            (json!({"data": {"missing": {"$exist": false}}}), true),
            (json!({"data": {"missing": {"$exist": true}}}), false),
            // Combinators anywhere a matcher stands.
            (
                json!({"$or": [{"event": "sms.failed"}, {"data": {"bounce_type": "hard"}}]}),
                true,
            ),
            (
                json!({"$and": [{"event": "email.bounced"}, {"$or": [{"data": {"amount": {"$lt": 10}}}, {"data": {"tags": "vip"}}]}]}),
                true,
            ),
            (
                json!({"$and": [{"event": "email.bounced"}, {"$or": [{"data": {"amount": {"$lt": 10}}}, {"data": {"tags": "gold"}}]}]}),
                false,
            ),
            (json!({"$not": {"data": {"tags": "test"}}}), false),
            (
                json!({"data": {"bounce_type": {"$not": {"$in": ["soft", "block"]}}}}),
                true,
            ),
            (json!({"data": {"tags": {"$not": "test"}}}), false),
            (json!({"data": {"amount": {"$gt": 10, "$lt": 50}}}), true),
            (json!({"data": {"amount": {"$gt": 10, "$lt": 40}}}), false),
            (json!({}), true),
        ] {
            assert_eq!(check(filter.clone(), &hard), expected, "{filter}");
        }
    }

    #[test]
    fn the_syntax_documented_examples() {
        // The examples the documentation of this filter syntax states (Convoy's
        // filter manual, which follows Hookdeck's): direct and nested object
        // matches, array contains, $neq, and $or over an array field.
        assert!(check(
            json!({"event_type": "created"}),
            &json!({"event_type": "created", "x": 1})
        ));
        assert!(check(
            json!({"event": {"type": "created"}}),
            &json!({"event": {"type": "created", "id": 7}})
        ));
        let dish = json!({"dish": {"name": "jollof", "ingredients": ["rice", "tomato"]}});
        assert!(check(json!({"dish": {"ingredients": "rice"}}), &dish));
        assert!(!check(json!({"dish": {"ingredients": "beans"}}), &dish));
        assert!(check(
            json!({"event": {"$neq": "created"}}),
            &json!({"event": "updated"})
        ));
        assert!(!check(
            json!({"event": {"$neq": "created"}}),
            &json!({"event": "created"})
        ));
        let cities = json!({"cities": ["lagos", "ibadan"]});
        assert!(check(
            json!({"$or": [{"cities": "london"}, {"cities": "lagos"}]}),
            &cities
        ));
        assert!(!check(
            json!({"$or": [{"cities": "london"}, {"cities": "paris"}]}),
            &cities
        ));
    }

    #[test]
    fn a_malformed_filter_names_where_and_what() {
        for (filter, path, what) in [
            (json!([1]), "", "must be a JSON object"),
            (
                json!({"data": {"amount": {"$gt": {}}}}),
                "/data/amount/$gt",
                "takes a number or a string",
            ),
            (
                json!({"data": {"amount": {"$in": 3}}}),
                "/data/amount/$in",
                "takes an array",
            ),
            (json!({"$or": {}}), "/$or", "non-empty array of filters"),
            (json!({"$and": []}), "/$and", "non-empty array of filters"),
            (
                json!({"data": {"x": {"$startsWith": 1}}}),
                "/data/x/$startsWith",
                "takes a string",
            ),
            (
                json!({"data": {"x": {"$exist": "yes"}}}),
                "/data/x/$exist",
                "true or false",
            ),
            (
                json!({"data": {"x": {"$regex": "a.*"}}}),
                "/data/x/*",
                "is not an operator",
            ),
            (
                json!({"$or": [{"d": {"$bogus": 1}}]}),
                "/$or/0/d/*",
                "is not an operator",
            ),
            (
                json!({"whsec_secret value!": {"$bogus": 1}}),
                "/*/*",
                "is not an operator",
            ),
        ] {
            let found = Filter::compile(&filter).unwrap_err();
            assert_eq!(found.path, path, "{filter}");
            assert!(found.what.contains(what), "{filter}: {found:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = json!({"x": 1});
        for _ in 0..MAX_DEPTH + 1 {
            deep = json!({"a": deep});
        }
        assert!(Filter::compile(&deep).unwrap_err().what.contains("deeper"));
        let mut deep_not = json!({"x": 1});
        for _ in 0..200 {
            deep_not = json!({"$not": deep_not});
        }
        assert!(Filter::compile(&deep_not).is_err());
        let mut ok = json!({"x": 1});
        for _ in 0..MAX_DEPTH - 1 {
            ok = json!({"a": ok});
        }
        assert!(Filter::compile(&ok).is_ok());
    }
}
