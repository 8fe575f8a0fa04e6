//! Round-robin order across tenants: the lister lists and the fetcher works through a batch
//! tenant after tenant in turn, so one tenant's backlog never queues up ahead of every other
//! tenant's (each tenant has its own request budget, and a batch of one tenant only spends
//! that one).

use std::collections::HashMap;
use std::hash::Hash;

/// `items` reordered round-robin by `key` (every key's first item in order of first
/// appearance, then every key's second, ...), each key's own order kept.
pub fn in_turn<T, K: Eq + Hash>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen: HashMap<K, (usize, usize)> = HashMap::new();
    let mut ranked: Vec<(usize, usize, T)> = items
        .into_iter()
        .map(|item| {
            let groups = seen.len();
            let (group, count) = seen.entry(key(&item)).or_insert((groups, 0));
            let rank = *count;
            *count += 1;
            (rank, *group, item)
        })
        .collect();
    // Stable: items of one key and rank keep their order.
    ranked.sort_by_key(|(rank, group, _)| (*rank, *group));
    ranked.into_iter().map(|(_, _, item)| item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_turns_and_keep_their_own_order() {
        let items = vec!["a1", "a2", "a3", "b1", "x", "b2"];
        let out = in_turn(items, |s| s.chars().next());
        assert_eq!(out, ["a1", "b1", "x", "a2", "b2", "a3"]);
        assert!(in_turn(Vec::<u8>::new(), |n| *n).is_empty());
        assert_eq!(in_turn(vec![3, 1, 2], |_| 0), [3, 1, 2]);
    }
}
