//! The log's rows as the driver reports them: each a JSON object of its
//! columns. They are read as `serde_json::Value` and their columns taken by
//! name, as a derived `Deserialize` would (the same types and defaults): one
//! reader for every row type, where a derived one each cost kilobytes of the
//! bundle.

use serde_json::{Map, Value};

/// One row: its columns by name.
pub type Row = Map<String, Value>;

/// A row type.
pub trait FromRow: Sized {
    /// The row's columns as `Self`, or `None` if one is missing or of the wrong type.
    fn from_row(row: &Row) -> Option<Self>;
}

/// A text column.
pub fn text(row: &Row, name: &str) -> Option<String> {
    row.get(name)?.as_str().map(str::to_string)
}

/// An integer column.
pub fn int(row: &Row, name: &str) -> Option<i64> {
    row.get(name)?.as_i64()
}

/// A column that may be missing or null: `Some(None)` then.
pub fn optional<T>(row: &Row, name: &str, read: fn(&Value) -> Option<T>) -> Option<Option<T>> {
    match row.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// A count column that may be missing (0 then), never null.
pub fn count(row: &Row, name: &str) -> Option<u64> {
    row.get(name).map_or(Some(0), Value::as_u64)
}

/// `[[rows of statement 1, …], …]`, one list per shard: each shard's rows of
/// each statement, as objects. `None` unless each shard answered `statements`
/// lists.
pub fn per_shard(text: &str, statements: usize) -> Option<Vec<Vec<Vec<Row>>>> {
    let Value::Array(shards) = serde_json::from_str(text).ok()? else {
        return None;
    };
    shards
        .into_iter()
        .map(|shard| {
            let Value::Array(lists) = shard else {
                return None;
            };
            (lists.len() == statements).then_some(())?;
            lists.into_iter().map(rows).collect()
        })
        .collect()
}

/// A JSON array of objects.
fn rows(list: Value) -> Option<Vec<Row>> {
    let Value::Array(items) = list else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// A list of rows (`[{…},…]`) as `T`s.
pub fn list<T: FromRow>(text: &str) -> Option<Vec<T>> {
    rows(serde_json::from_str(text).ok()?)?
        .iter()
        .map(T::from_row)
        .collect()
}

/// Every shard's rows of its one statement as `T`s, in one list.
pub fn first<T: FromRow>(text: &str) -> Option<Vec<T>> {
    per_shard(text, 1)?
        .into_iter()
        .flatten()
        .flatten()
        .map(|row| T::from_row(&row))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pair {
        name: String,
        n: i64,
        note: Option<String>,
    }

    impl FromRow for Pair {
        fn from_row(row: &Row) -> Option<Self> {
            Some(Self {
                name: text(row, "name")?,
                n: int(row, "n")?,
                note: optional(row, "note", |v| v.as_str().map(str::to_string))?,
            })
        }
    }

    #[test]
    fn reads_each_shards_rows() {
        let rows: Vec<Pair> =
            first(r#"[[[{"name":"a","n":1,"note":null}]],[[{"name":"b","n":2,"note":"x"}]]]"#)
                .unwrap();
        assert_eq!(
            rows,
            [
                Pair {
                    name: "a".into(),
                    n: 1,
                    note: None
                },
                Pair {
                    name: "b".into(),
                    n: 2,
                    note: Some("x".into())
                }
            ]
        );
    }

    #[test]
    fn refuses_what_is_not_rows() {
        for text in [
            "",
            "{}",
            "[[]]",
            "[[[],[]]]",
            "[[[1]]]",
            r#"[[[{"name":"a"}]]]"#,
            r#"[[[{"name":"a","n":1.5}]]]"#,
            r#"[[[{"name":1,"n":1}]]]"#,
            r#"[[[{"name":"a","n":1,"note":2}]]]"#,
        ] {
            assert_eq!(first::<Pair>(text), None, "{text}");
        }
    }
}
