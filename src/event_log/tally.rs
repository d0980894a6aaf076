//! A small ordered map: its entries in a vector, sorted by key. The isolate's
//! pending writes hold a few dozen keys between two flushes (a second apart),
//! the stats a few hundred hours; a `BTreeMap` for each of their key types
//! was kilobytes of the bundle.

/// Entries sorted by key, each key once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally<K, V>(Vec<(K, V)>);

impl<K, V> Default for Tally<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> Tally<K, V> {
    /// Changes the value of `key` with `change`, made with `V::default()`
    /// first if there is none.
    pub fn update(&mut self, key: K, change: impl FnOnce(&mut V))
    where
        V: Default,
    {
        let at = match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (key, V::default()));
                at
            }
        };
        if let Some((_, value)) = self.0.get_mut(at) {
            change(value);
        }
    }

    /// Takes the value of `key` out.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let at = self.0.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(self.0.remove(at).1)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every entry, in order, leaving the map empty.
    pub fn take(&mut self) -> Vec<(K, V)> {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_key_once_in_order() {
        let mut tally: Tally<(u8, String), i64> = Tally::default();
        for (key, n) in [((2, "b"), 1), ((1, "z"), 2), ((2, "a"), 3), ((2, "b"), 4)] {
            tally.update((key.0, key.1.to_string()), |v| *v += n);
        }
        assert_eq!(
            tally.keys().cloned().collect::<Vec<_>>(),
            [(1, "z".into()), (2, "a".into()), (2, "b".into())]
        );
        assert_eq!(tally.remove(&(2, "b".into())), Some(5));
        assert_eq!(tally.remove(&(2, "b".into())), None);
        assert_eq!(tally.take(), [((1, "z".into()), 2), ((2, "a".into()), 3)]);
        assert!(tally.is_empty());
    }
}
