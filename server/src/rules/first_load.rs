//! A first load into an empty store need not ask the database, page after page, for workers it cannot
//! hold. When a batch starts on an empty `health_worker` table, every STR number and NIK index the batch
//! writes goes into a Bloom filter (fixed size, so memory does not grow with the data), and a page's
//! lookup asks only for the keys the filter may hold: the database's answer for any other key is empty.
//!
//! The filter learns a page's keys when the page is decided, before it writes them, so it always holds
//! every key the store may hold (a rolled-back page leaves false "maybe"s, which cost a lookup, nothing
//! more). It is right only while the sync is the one writer of workers, which the lease guarantees.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::rc::Rc;

/// Bits of the filter: 8 MiB, in blocks of one cache line (512 bits): a key's bits all lie in one block,
/// so a probe costs one memory access rather than six. At the national scale (2.2 M workers, 4.4 M keys)
/// about one key in 650 never written is a false "maybe".
const BITS: usize = 1 << 26;
const BLOCK_WORDS: usize = 8;
const BLOCKS: u64 = (BITS / 64 / BLOCK_WORDS) as u64;
const PROBES: usize = 6;

pub struct KeyFilter {
    bits: Vec<u64>,
    first: foldhash::fast::FixedState,
    second: foldhash::fast::FixedState,
}

/// The batch's filter, shared by the pages being made ready and stored (all on the run's thread);
/// `None` when the batch started on a store that already held workers.
pub type FirstLoad = Option<Rc<RefCell<KeyFilter>>>;

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter {
            bits: vec![0; BITS / 64],
            first: foldhash::fast::FixedState::with_seed(0x5eed_0001),
            second: foldhash::fast::FixedState::with_seed(0x5eed_0002),
        }
    }
}

impl KeyFilter {
    /// The (word, mask) of each of a key's bits: one hash picks the block, the other the bits in it.
    fn positions(&self, key: &str) -> [(usize, u64); PROBES] {
        let block = (self.first.hash_one(key) % BLOCKS) as usize * BLOCK_WORDS;
        let bits = self.second.hash_one(key);
        std::array::from_fn(|i| {
            let bit = (bits >> (i * 9)) as usize & 511;
            (block + bit / 64, 1 << (bit % 64))
        })
    }

    pub fn insert(&mut self, key: &str) {
        for (word, mask) in self.positions(key) {
            self.bits[word] |= mask;
        }
    }

    /// `false` only for a key never inserted.
    pub fn may_contain(&self, key: &str) -> bool {
        self.positions(key)
            .iter()
            .all(|&(word, mask)| self.bits[word] & mask != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_every_key_inserted_and_few_others() {
        let mut filter = KeyFilter::default();
        let inserted: Vec<String> = (0..200_000).map(|i| format!("STR-{i:08}")).collect();
        for key in &inserted {
            filter.insert(key);
        }
        assert!(
            inserted.iter().all(|k| filter.may_contain(k)),
            "no false negative"
        );
        let false_maybes = (0..100_000)
            .filter(|i| filter.may_contain(&format!("NIK-{i:08}")))
            .count();
        assert!(false_maybes < 10, "{false_maybes} false maybes in 100 000");
    }
}
