//! Which stored workers a complete full read saw, one bit per worker (CONTRACT §3, "missing from the
//! registry"). Workers are numbered densely in the store (`seq` on PostgreSQL, `rowid` on SQLite), so
//! 2.2 million workers take 275 kB, whatever their STR numbers; a set of ids would take tens of MB.
//! Only workers stored when the read started are tracked: those it inserts were seen by definition.

/// The bits of the workers numbered `1..=last`.
#[derive(Debug, Clone)]
pub struct Seen {
    bits: Vec<u64>,
    last: i64,
}

impl Seen {
    /// For a store whose greatest worker number is `last` (0 when empty).
    pub fn new(last: i64) -> Seen {
        let words = usize::try_from(last.max(0)).unwrap_or(0).div_ceil(64) + 1;
        Seen {
            bits: vec![0; words],
            last: last.max(0),
        }
    }

    pub fn note(&mut self, seq: i64) {
        if (1..=self.last).contains(&seq) {
            let seq = seq as usize;
            self.bits[seq / 64] |= 1 << (seq % 64);
        }
    }

    pub fn saw(&self, seq: i64) -> bool {
        (1..=self.last).contains(&seq) && {
            let seq = seq as usize;
            self.bits[seq / 64] & (1 << (seq % 64)) != 0
        }
    }

    /// The numbers not seen, in order: the workers that may be missing (and numbers no worker holds,
    /// such as those of inserts that were rolled back).
    pub fn unseen(&self) -> Vec<i64> {
        let mut unseen = Vec::new();
        for (word_at, word) in self.bits.iter().enumerate() {
            if *word == u64::MAX {
                continue;
            }
            for bit in 0..64 {
                let seq = (word_at * 64 + bit) as i64;
                if seq > self.last {
                    return unseen;
                }
                if seq >= 1 && word & (1 << bit) == 0 {
                    unseen.push(seq);
                }
            }
        }
        unseen
    }
}

/// Who the registry holds among the records changed while a read ran (`pipeline::reader::changed_since`):
/// by STR number and by NIK blind index, as matching finds a worker (a renewal changes the number).
#[derive(Debug, Default)]
pub struct ChangedDuring {
    pub str_numbers: std::collections::HashSet<String>,
    pub nik_indexes: std::collections::HashSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_are_the_numbers_never_noted() {
        let cases: [(i64, Vec<i64>, Vec<i64>); 5] = [
            (0, vec![], vec![]),
            (3, vec![1, 2, 3], vec![]),
            (3, vec![2], vec![1, 3]),
            (130, vec![], (1..=130).collect()),
            // Out of range: numbers of workers inserted after the read started, and none at all.
            (64, vec![64, 0, -1, 65, 1000], (1..64).collect()),
        ];
        for (last, noted, want) in cases {
            let mut seen = Seen::new(last);
            for seq in &noted {
                seen.note(*seq);
            }
            assert_eq!(seen.unseen(), want, "last {last}, noted {noted:?}");
            for seq in noted {
                assert_eq!(seen.saw(seq), (1..=last).contains(&seq));
            }
        }
    }
}
