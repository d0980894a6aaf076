//! Small text helpers the core shares.

/// `items` joined by `separator`, as `[S]::join` does; a loop of our own, as
/// the standard library's is a kilobyte of wasm for each item type.
pub(crate) fn joined<S: AsRef<str>>(items: &[S], separator: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(item.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_as_the_standard_library_does() {
        for items in [&[][..], &["a"][..], &["a", "", "b"][..]] {
            assert_eq!(joined(items, ", "), items.join(", "));
        }
        let owned = vec!["x".to_string(), "y".to_string()];
        assert_eq!(joined(&owned, " AND "), "x AND y");
    }
}
