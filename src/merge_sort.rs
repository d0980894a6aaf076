//! A stable merge sort of plain keys: the standard library's sorts are each
//! kilobytes of the bundle per key type; this is a few hundred bytes.

/// Sorts `keys` in place, stably (equal keys keep their order); O(n log n)
/// with one buffer of the same length.
pub fn sort<K: Ord + Copy>(keys: &mut Vec<K>) {
    let mut from = std::mem::take(keys);
    let mut into = from.clone();
    let len = from.len();
    let mut width = 1;
    while width < len {
        let mut start = 0;
        while start < len {
            let middle = (start + width).min(len);
            let end = (start + 2 * width).min(len);
            let (mut left, mut right) = (start, middle);
            for slot in into.get_mut(start..end).unwrap_or_default() {
                // The left run's key wins ties: stable.
                let take_left = match (from.get(left), from.get(right)) {
                    (Some(l), Some(r)) if left < middle && right < end => l <= r,
                    _ => left < middle,
                };
                let taken = if take_left { &mut left } else { &mut right };
                if let Some(&key) = from.get(*taken) {
                    *slot = key;
                }
                *taken += 1;
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut into);
        width *= 2;
    }
    *keys = from;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_as_the_standard_library_does() {
        let mut state: u32 = 0x9e37_79b9;
        for len in (0..70).chain([255, 256, 257, 1000, 4097]) {
            for spread in [1, 3, 1000, u32::MAX] {
                let keys: Vec<(u32, usize)> = (0..len)
                    .map(|index| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        (state % spread.max(1), index)
                    })
                    .collect();
                // Stable: compare by the key alone, indices then say the order.
                let mut expected = keys.clone();
                expected.sort_by_key(|&(key, _)| key);
                let mut ours: Vec<Keyed> =
                    keys.iter().map(|&(key, index)| Keyed(key, index)).collect();
                sort(&mut ours);
                let ours: Vec<(u32, usize)> = ours.iter().map(|k| (k.0, k.1)).collect();
                assert_eq!(ours, expected, "{len} {spread}");
            }
        }
    }

    /// Ordered by its key only, so that stability shows.
    #[derive(Clone, Copy, PartialEq, Eq)]
    struct Keyed(u32, usize);

    impl PartialOrd for Keyed {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Keyed {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0.cmp(&other.0)
        }
    }
}
