//! The impressions a session remembers: for each recent impression id, the
//! item's `(y_base, h)` as scored, so its outcome can be recorded later by id
//! alone. A bounded FIFO of slots (a ring) with a hash map from id to slot:
//! O(1) per insert, lookup and removal.

use hashbrown::HashMap;

/// Default number of recent impressions a session remembers.
pub const DEFAULT_IMPRESSIONS: usize = 256;
/// Largest impression capacity accepted.
pub const MAX_IMPRESSIONS: usize = 65_536;

/// Recent impressions: id → (y_base, h), stored flat per slot.
#[derive(Clone, Debug)]
pub(crate) struct Impressions {
    capacity: usize,
    dim: usize,
    /// Id → its slot, for live impressions only.
    slot_of: HashMap<String, usize>,
    /// Per slot: the id it holds (meaningful while live), whether it is
    /// live, its `y_base` and its hidden vector.
    ids: Vec<String>,
    alive: Vec<bool>,
    y_base: Vec<f32>,
    hidden: Vec<f32>,
    /// The slot to overwrite next once every slot is in use (the oldest).
    next: usize,
    live: usize,
}

impl Impressions {
    pub(crate) fn new(capacity: usize, dim: usize) -> Impressions {
        Impressions {
            capacity,
            dim,
            slot_of: HashMap::new(),
            ids: Vec::new(),
            alive: Vec::new(),
            y_base: Vec::new(),
            hidden: Vec::new(),
            next: 0,
            live: 0,
        }
    }

    /// How many impressions are kept at most.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Impressions currently remembered.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The slot of the live impression `id`.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        self.slot_of.get(id).copied()
    }

    /// Remembers `(y, h)` under `id`: in place if `id` is live, else in a
    /// new slot, or over the oldest once full.
    pub(crate) fn insert(&mut self, id: &str, y: f32, h: &[f32]) {
        if self.capacity == 0 || h.len() != self.dim {
            return;
        }
        let slot = match self.find(id) {
            Some(slot) => slot,
            None if self.ids.len() < self.capacity => {
                self.ids.push(String::new());
                self.alive.push(false);
                self.y_base.push(0.0);
                self.hidden.resize(self.hidden.len() + self.dim, 0.0);
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
            self.hidden.get_mut(slot * self.dim..(slot + 1) * self.dim),
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
        hs.copy_from_slice(h);
    }

    /// The `(y_base, h)` of `slot`.
    pub(crate) fn get(&self, slot: usize) -> (f32, &[f32]) {
        let y = self.y_base.get(slot).copied().unwrap_or(0.0);
        let h = self.hidden.get(slot * self.dim..(slot + 1) * self.dim).unwrap_or(&[]);
        (y, h)
    }

    /// Forgets the impression in `slot` (if live).
    pub(crate) fn remove(&mut self, slot: usize) {
        if let (Some(alive), Some(id)) = (self.alive.get_mut(slot), self.ids.get(slot)) {
            if *alive {
                *alive = false;
                self.live -= 1;
                self.slot_of.remove(id.as_str());
            }
        }
    }

    /// Forgets every impression.
    pub(crate) fn clear(&mut self) {
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
            imp.insert(id, i as f32 / 10.0, &[i as f32, 1.0]);
        }
        assert_eq!(imp.live(), 3);
        imp.insert("b", 0.9, &[9.0, 9.0]); // replaces b in place
        assert_eq!(imp.live(), 3);
        assert_eq!(imp.get(imp.find("b").unwrap()), (0.9, &[9.0, 9.0][..]));
        imp.insert("d", 0.5, &[5.0, 5.0]); // evicts the oldest slot, a
        assert!(imp.find("a").is_none());
        assert!(imp.find("d").is_some() && imp.find("c").is_some());
        let slot = imp.find("c").unwrap();
        imp.remove(slot);
        assert!(imp.find("c").is_none());
        assert_eq!(imp.live(), 2);
        imp.insert("e", 0.1, &[0.0, 0.0]);
        imp.insert("f", 0.1, &[0.0, 0.0]);
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
            imp.insert(&format!("id{i}"), 0.5, &[i as f32]);
            if i % 3 == 0 {
                if let Some(slot) = imp.find(&format!("id{}", i / 2)) {
                    imp.remove(slot);
                }
            }
        }
        assert!(imp.live() <= 64);
        assert_eq!(imp.slot_of.len(), imp.live());
        assert_eq!(imp.get(imp.find("id9999").unwrap()).1, &[9999.0]);
    }
}
