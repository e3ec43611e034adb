//! A first load into an empty store need not ask the database, page after page, for workers it cannot
//! hold. When a batch starts on an empty `health_worker` table, every STR number and NIK index the batch
//! writes goes into a Bloom filter (fixed size, so memory does not grow with the data), and a page's
//! lookup asks only for the keys the filter may hold: the database's answer for any other key is empty.
//!
//! The filter learns a page's keys when the page is decided, before it writes them, so it always holds
//! every key the store may hold (a rolled-back page leaves false "maybe"s, which cost a lookup, nothing
//! more). It is right only while the sync is the one writer of workers, which the lease guarantees.

use super::key_hash::KeyHash;
use std::cell::RefCell;
use std::rc::Rc;

/// Bits of the filter: 8 MiB, in blocks of one cache line (512 bits): a key's bits all lie in one block,
/// so a probe costs one memory access rather than six. At the national scale (2.2 M workers, 4.4 M keys)
/// about one key in 650 never written is a false "maybe".
const BITS: usize = 1 << 26;
const BLOCK_WORDS: usize = 8;
const BLOCKS: u64 = (BITS / 64 / BLOCK_WORDS) as u64;
const PROBES: usize = 6;

/// The filter is far larger than the processor's caches, so nearly every key's block is a miss: the
/// load that missed was 98 % of the filter's time (issue 22). A page's keys are asked or told together:
/// every block is requested first (`prefetch`), so the misses overlap instead of following each other.
pub struct KeyFilter {
    bits: Vec<u64>,
}

/// The batch's filter, shared by the pages being made ready and stored (all on the run's thread);
/// `None` when the batch started on a store that already held workers.
pub type FirstLoad = Option<Rc<RefCell<KeyFilter>>>;

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter {
            bits: vec![0; BITS / 64],
        }
    }
}

/// Where a key's bits lie: the first word of its block, and the 6 × 9 bits that pick its bits in it.
#[derive(Clone, Copy)]
struct Slot {
    block: usize,
    bits: u64,
}

impl Slot {
    /// The key's hash picks the block (its high bits, scaled to the blocks); a bijective mix of it
    /// picks the bits, independent of the block.
    fn of(key: KeyHash) -> Slot {
        let hash = key.get();
        let block = ((u128::from(hash) * u128::from(BLOCKS)) >> 64) as usize * BLOCK_WORDS;
        Slot {
            block,
            bits: mix(hash),
        }
    }

    /// The (word, mask) of each of the key's bits.
    fn positions(self) -> [(usize, u64); PROBES] {
        std::array::from_fn(|i| {
            let bit = (self.bits >> (i * 9)) as usize & 511;
            (self.block + bit / 64, 1 << (bit % 64))
        })
    }
}

/// MurmurHash3's 64-bit finaliser: every bit of the input moves about half of the output's.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl KeyFilter {
    /// The keys' slots, each block asked of memory as it is found.
    fn slots(&self, keys: impl Iterator<Item = KeyHash>) -> Vec<Slot> {
        keys.map(|key| {
            let slot = Slot::of(key);
            self.prefetch(slot.block);
            slot
        })
        .collect()
    }

    #[cfg(target_arch = "x86_64")]
    fn prefetch(&self, word: usize) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        if let Some(block) = self.bits.get(word) {
            // SAFETY: a prefetch only hints the cache; it reads nothing into the program and cannot
            // fault, and the address is inside `bits` besides.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(block).cast()) }
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn prefetch(&self, _word: usize) {}

    fn holds(&self, slot: Slot) -> bool {
        slot.positions()
            .iter()
            .all(|&(word, mask)| self.bits[word] & mask != 0)
    }

    /// Tells the filter of keys the store may now hold.
    pub fn insert_all(&mut self, keys: impl Iterator<Item = KeyHash>) {
        for slot in self.slots(keys) {
            for (word, mask) in slot.positions() {
                self.bits[word] |= mask;
            }
        }
    }

    /// For each pair of keys, whether the store may hold either: `false` only when neither was
    /// inserted.
    pub fn may_contain_either(&self, pairs: &[(KeyHash, KeyHash)]) -> Vec<bool> {
        let slots = self.slots(pairs.iter().flat_map(|&(a, b)| [a, b]));
        slots
            .chunks_exact(2)
            .map(|pair| self.holds(pair[0]) || self.holds(pair[1]))
            .collect()
    }

    /// `false` only for a key never inserted.
    #[cfg(test)]
    pub fn may_contain(&self, key: KeyHash) -> bool {
        self.holds(Slot::of(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_every_key_inserted_and_few_others() {
        let mut filter = KeyFilter::default();
        let inserted: Vec<KeyHash> = (0..200_000)
            .map(|i| KeyHash::of(&format!("STR-{i:08}")))
            .collect();
        filter.insert_all(inserted.iter().copied());
        assert!(
            inserted.iter().all(|&k| filter.may_contain(k)),
            "no false negative"
        );
        let others: Vec<KeyHash> = (0..100_000)
            .map(|i| KeyHash::of(&format!("NIK-{i:08}")))
            .collect();
        let false_maybes = others.iter().filter(|&&k| filter.may_contain(k)).count();
        assert!(false_maybes < 10, "{false_maybes} false maybes in 100 000");
    }

    #[test]
    fn a_pair_may_be_held_when_either_key_was_inserted() {
        let mut filter = KeyFilter::default();
        let key = |text: &str| KeyHash::of(text);
        filter.insert_all([key("str-a"), key("nik-b")].into_iter());
        let pairs = [
            (key("str-a"), key("nik-x")),
            (key("str-x"), key("nik-b")),
            (key("str-a"), key("nik-b")),
            (key("str-x"), key("nik-x")),
        ];
        assert_eq!(
            filter.may_contain_either(&pairs),
            vec![true, true, true, false]
        );
        assert!(filter.may_contain_either(&[]).is_empty());
    }
}
