//! The impressions a session remembers: for each recent impression id, what
//! recording its outcome needs — the model's `y_base` and the bucket the
//! item's key fell into in each of the `K` arrays — so the outcome is
//! recorded later by id alone, with no model run and no key vector. A
//! bounded FIFO of slots (a ring) with a hash map from id to slot: O(1) per
//! insert, lookup and removal. The most recent ones travel in the saved
//! bytes ([`crate::codec`], up to [`MAX_SAVED_IMPRESSIONS`]).

use std::collections::HashMap;

/// Default number of recent impressions a session remembers.
pub const DEFAULT_IMPRESSIONS: usize = 256;
/// Largest impression capacity accepted.
pub const MAX_IMPRESSIONS: usize = 65_536;
/// Default number of the most recent impressions kept in saved bytes.
pub const DEFAULT_SAVED_IMPRESSIONS: usize = 64;
/// Most impressions saved bytes may carry.
pub const MAX_SAVED_IMPRESSIONS: usize = 1024;
/// Longest impression id kept in saved bytes, in bytes (longer ones are not saved).
pub const MAX_SAVED_ID_BYTES: usize = 255;

/// Recent impressions: id → (y_base, buckets), stored flat per slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Impressions {
    capacity: usize,
    /// `K`: buckets per impression.
    arrays: usize,
    /// Id → its slot, for live impressions only.
    slot_of: HashMap<String, usize>,
    /// Per slot: the id it holds (meaningful while live), whether it is
    /// live, its `y_base` and its bucket in each array (`0..2^L`).
    ids: Vec<String>,
    alive: Vec<bool>,
    y_base: Vec<f32>,
    buckets: Vec<u16>,
    /// The slot to overwrite next once every slot is in use (the oldest).
    next: usize,
    live: usize,
}

impl Impressions {
    /// An empty store of at most `capacity` impressions for a memory of `arrays` arrays.
    pub fn new(capacity: usize, arrays: usize) -> Impressions {
        Impressions {
            capacity,
            arrays,
            slot_of: HashMap::new(),
            ids: Vec::new(),
            alive: Vec::new(),
            y_base: Vec::new(),
            buckets: Vec::new(),
            next: 0,
            live: 0,
        }
    }

    /// How many impressions are kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Impressions currently remembered.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The slot of the live impression `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.slot_of.get(id).copied()
    }

    /// Remembers `(y, buckets)` under `id`: in place if `id` is live, else
    /// in a new slot, or over the oldest once full. Ignored unless
    /// `buckets` has one entry per array.
    pub fn insert(&mut self, id: &str, y: f32, buckets: &[u16]) {
        if self.capacity == 0 || buckets.len() != self.arrays {
            return;
        }
        let slot = match self.find(id) {
            Some(slot) => slot,
            None if self.ids.len() < self.capacity => {
                self.ids.push(String::new());
                self.alive.push(false);
                self.y_base.push(0.0);
                self.buckets.resize(self.buckets.len() + self.arrays, 0);
                self.ids.len() - 1
            }
            None => {
                let slot = self.next;
                self.next = (self.next + 1) % self.capacity;
                self.remove(slot);
                slot
            }
        };
        let (Some(s), Some(alive), Some(yb), Some(hs)) = (
            self.ids.get_mut(slot),
            self.alive.get_mut(slot),
            self.y_base.get_mut(slot),
            self.buckets.get_mut(slot * self.arrays..(slot + 1) * self.arrays),
        ) else {
            return;
        };
        if !*alive {
            *alive = true;
            self.live += 1;
            s.clear();
            s.push_str(id);
            self.slot_of.insert(id.to_owned(), slot);
        }
        *yb = y;
        hs.copy_from_slice(buckets);
    }

    /// The `(y_base, buckets)` of `slot`.
    pub fn get(&self, slot: usize) -> (f32, &[u16]) {
        let y = self.y_base.get(slot).copied().unwrap_or(0.0);
        let b = self.buckets.get(slot * self.arrays..(slot + 1) * self.arrays).unwrap_or(&[]);
        (y, b)
    }

    /// The `n` most recent live impressions, oldest first: `(id, y_base, buckets)`.
    pub fn recent(&self, n: usize) -> Vec<(&str, f32, &[u16])> {
        let filled = self.ids.len();
        // Slots in insertion order: once the ring is full, from `next` round.
        let start = if filled == self.capacity { self.next } else { 0 };
        let mut out: Vec<(&str, f32, &[u16])> = (0..filled)
            .rev()
            .map(|k| (start + k) % filled.max(1))
            .filter(|&slot| self.alive.get(slot).copied().unwrap_or(false))
            .take(n)
            .map(|slot| {
                let (y, b) = self.get(slot);
                (self.ids.get(slot).map_or("", String::as_str), y, b)
            })
            .collect();
        out.reverse();
        out
    }

    /// Forgets the impression in `slot` (if live).
    pub fn remove(&mut self, slot: usize) {
        if let (Some(alive), Some(id)) = (self.alive.get_mut(slot), self.ids.get(slot)) {
            if *alive {
                *alive = false;
                self.live -= 1;
                self.slot_of.remove(id.as_str());
            }
        }
    }

    /// Forgets every impression.
    pub fn clear(&mut self) {
        self.alive.iter_mut().for_each(|a| *a = false);
        self.slot_of.clear();
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impressions_are_bounded_fifo_and_replace_by_id() {
        let mut imp = Impressions::new(3, 2);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            imp.insert(id, i as f32 / 10.0, &[i as u16, 1]);
        }
        assert_eq!(imp.live(), 3);
        imp.insert("b", 0.9, &[9, 9]); // replaces b in place
        assert_eq!(imp.live(), 3);
        assert_eq!(imp.get(imp.find("b").unwrap()), (0.9, &[9, 9][..]));
        imp.insert("d", 0.5, &[5, 5]); // evicts the oldest slot, a
        assert_eq!(imp.recent(9).iter().map(|r| r.0).collect::<Vec<_>>(), ["b", "c", "d"]);
        assert_eq!(imp.recent(2).iter().map(|r| r.0).collect::<Vec<_>>(), ["c", "d"]);
        assert!(imp.find("a").is_none());
        assert!(imp.find("d").is_some() && imp.find("c").is_some());
        let slot = imp.find("c").unwrap();
        imp.remove(slot);
        assert!(imp.find("c").is_none());
        assert_eq!(imp.live(), 2);
        imp.insert("e", 0.1, &[0, 0]);
        imp.insert("f", 0.1, &[0, 0]);
        assert_eq!(imp.live(), 3);
        // The map and the slots agree after every eviction.
        for id in ["b", "d", "e", "f"] {
            if let Some(slot) = imp.find(id) {
                assert_eq!(imp.ids[slot], id);
                assert!(imp.alive[slot]);
            }
        }
        imp.clear();
        assert_eq!((imp.live(), imp.find("f")), (0, None));
    }

    #[test]
    fn a_long_stream_of_ids_stays_bounded() {
        let mut imp = Impressions::new(64, 1);
        for i in 0..10_000 {
            imp.insert(&format!("id{i}"), 0.5, &[i as u16]);
            if i % 3 == 0 {
                if let Some(slot) = imp.find(&format!("id{}", i / 2)) {
                    imp.remove(slot);
                }
            }
        }
        assert!(imp.live() <= 64);
        assert_eq!(imp.slot_of.len(), imp.live());
        assert_eq!(imp.get(imp.find("id9999").unwrap()).1, &[9999]);
    }
}
