//! One hash per matching key of a record (its STR number, its NIK index), computed once when the record
//! is prepared, off the run's thread. On the run's thread a key is asked about several times: whether a
//! first load's filter may hold it (`first_load`), the filter told of it once written, whether a page
//! written since a read gave it to a worker (`page::Written`), for every page written since. Before,
//! each of these questions hashed the key's text again (issue 22).

use std::hash::BuildHasher;

/// A key's hash. Two keys with the same hash are taken for each other where it is used, which only
/// costs a lookup more, never a stale read or a missed worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(u64);

impl KeyHash {
    pub fn of(key: &str) -> KeyHash {
        KeyHash(foldhash::fast::FixedState::with_seed(0x6b65_795f_6861_7368).hash_one(key))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// The hashes of a record's two matching keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHashes {
    pub str_number: KeyHash,
    pub nik_index: KeyHash,
}

impl KeyHashes {
    pub fn of(str_number: &str, nik_index: &str) -> KeyHashes {
        KeyHashes {
            str_number: KeyHash::of(str_number),
            nik_index: KeyHash::of(nik_index),
        }
    }
}
