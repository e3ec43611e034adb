//! Matching decisions (CONTRACT §2), pure: given what the store holds for the keys of one page and the
//! page's records in order, decide insert / update / unchanged / reject for each. A decision updates the
//! in-memory view, so a later record of the page sees what earlier ones did. The store loads the view with
//! one query per page and applies the decisions in one transaction.

use crate::domain::worker_fields::ChangedFields;
use crate::domain::RejectReason;
use crate::rules::transform::Rejection;
// foldhash: the page's keys are hashed several times per record, and SipHash's resistance to chosen
// keys buys nothing for one page's worth of upstream data.
use foldhash::HashMap;
use std::hash::BuildHasher;
use uuid::Uuid;

/// What matching needs of a stored worker: its keys and content hash, nothing personal in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWorker {
    pub id: Uuid,
    pub str_number: String,
    pub nik_index: String,
    pub nik_masked: String,
    pub name_norm: String,
    pub birth_place_norm: String,
    pub content_hash: String,
    /// `None` for a row written before fingerprints existed.
    pub field_fingerprint: Option<String>,
}

/// The matching keys of one incoming, valid record.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub str_number: &'a str,
    pub nik_index: &'a str,
    pub nik_masked: &'a str,
    pub name_norm: &'a str,
    pub birth_place_norm: &'a str,
    pub content_hash: &'a str,
    /// The record's content hash in an earlier release's forms (unkeyed, and keyed over), when the
    /// page's stored workers may still hold one (`rules::identity::StoredHash`).
    pub legacy_content_hashes: Option<(&'a str, &'a str)>,
    pub field_fingerprint: &'a str,
    /// Set when the record's STR is not active: such a record may only update a known worker.
    pub inactive: Option<Rejection>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Insert {
        id: Uuid,
    },
    Update {
        id: Uuid,
        previous_str: Option<String>,
        /// Which field groups differ from what the store held.
        changed: ChangedFields,
    },
    Unchanged {
        id: Uuid,
    },
    Reject(Rejection),
}

/// The view's indexes hold the hash of a key and the slots of the workers that have it, not the key
/// itself: building a key's text anew for every record and worker (seven copies per record of a first
/// load) cost more than the matching. A lookup keeps only the slots whose worker has the key, so two
/// keys that share a hash cannot be confused.
type Slots = HashMap<u64, Vec<usize>>;

/// `S` hashes the keys (a test swaps in one under which every key collides).
#[derive(Debug, Default)]
pub struct MatchView<S = foldhash::fast::RandomState> {
    workers: Vec<StoredWorker>,
    by_str: Slots,
    by_identity: Slots,
    keys: S,
}

impl MatchView {
    pub fn new(stored: impl IntoIterator<Item = StoredWorker>) -> Self {
        MatchView::hashing_keys_with(stored)
    }
}

impl<S: BuildHasher + Default> MatchView<S> {
    fn hashing_keys_with(stored: impl IntoIterator<Item = StoredWorker>) -> Self {
        let mut view = MatchView::default();
        for worker in stored {
            view.add(worker);
        }
        view
    }

    /// Room for `additional` more workers (a page's inserts) without growing the indexes one by one.
    pub fn reserve(&mut self, additional: usize) {
        self.workers.reserve(additional);
        self.by_str.reserve(additional);
        self.by_identity.reserve(additional);
    }

    fn str_key(&self, str_number: &str) -> u64 {
        self.keys.hash_one(str_number)
    }

    fn identity_key(&self, nik_index: &str, name_norm: &str, birth_place_norm: &str) -> u64 {
        self.keys.hash_one((nik_index, name_norm, birth_place_norm))
    }

    fn worker_keys(&self, worker: &StoredWorker) -> (u64, u64) {
        (
            self.str_key(&worker.str_number),
            self.identity_key(
                &worker.nik_index,
                &worker.name_norm,
                &worker.birth_place_norm,
            ),
        )
    }

    fn add(&mut self, worker: StoredWorker) -> usize {
        let slot = self.workers.len();
        self.workers.push(worker);
        self.index(slot);
        slot
    }

    fn index(&mut self, slot: usize) {
        let (str_key, identity_key) = self.worker_keys(&self.workers[slot]);
        self.by_str.entry(str_key).or_default().push(slot);
        self.by_identity.entry(identity_key).or_default().push(slot);
    }

    fn unindex(&mut self, slot: usize) {
        let (str_key, identity_key) = self.worker_keys(&self.workers[slot]);
        for (slots, key) in [
            (&mut self.by_str, str_key),
            (&mut self.by_identity, identity_key),
        ] {
            if let Some(at) = slots.get_mut(&key) {
                at.retain(|&s| s != slot);
            }
        }
    }

    /// The workers holding STR number `str_number`.
    fn holders(&self, str_number: &str) -> Vec<usize> {
        let slots = self.by_str.get(&self.str_key(str_number));
        slots
            .into_iter()
            .flatten()
            .copied()
            .filter(|&s| self.workers[s].str_number == str_number)
            .collect()
    }

    /// The workers with the record's NIK, name and place of birth.
    fn same_identity(&self, rec: &Incoming) -> Vec<usize> {
        let key = self.identity_key(rec.nik_index, rec.name_norm, rec.birth_place_norm);
        let slots = self.by_identity.get(&key);
        slots
            .into_iter()
            .flatten()
            .copied()
            .filter(|&s| {
                let w = &self.workers[s];
                w.nik_index == rec.nik_index
                    && w.name_norm == rec.name_norm
                    && w.birth_place_norm == rec.birth_place_norm
            })
            .collect()
    }

    /// Decides one record. `repeated_in_page` is whether its STR number appears more than once in the page.
    pub fn decide(&mut self, rec: &Incoming, repeated_in_page: bool) -> Decision {
        let holders = self.holders(rec.str_number);
        let matched = match self.find(rec, &holders, repeated_in_page) {
            Ok(matched) => matched,
            Err(rejection) => return Decision::Reject(rejection),
        };
        let Some(slot) = matched else {
            return self.insert_unknown(rec, &holders);
        };
        self.update(slot, rec, &holders)
    }

    /// The stored worker the record is: the STR's one holder (same NIK, else an identity conflict), or,
    /// when the STR has no single holder or repeats in the page, the one worker with the record's NIK,
    /// name and place of birth.
    fn find(
        &self,
        rec: &Incoming,
        holders: &[usize],
        repeated_in_page: bool,
    ) -> Result<Option<usize>, Rejection> {
        if holders.len() == 1 && !repeated_in_page {
            let holder = &self.workers[holders[0]];
            if holder.nik_index != rec.nik_index {
                return Err(Rejection {
                    reason: RejectReason::IdentityConflict,
                    message: format!(
                        "STR {} is held by worker {} with NIK {}, the record has NIK {}; kept for review",
                        rec.str_number, holder.id, holder.nik_masked, rec.nik_masked
                    ),
                });
            }
            return Ok(Some(holders[0]));
        }
        Ok(match self.same_identity(rec).as_slice() {
            [only] => Some(*only),
            _ => None,
        })
    }

    /// A record that matches no one: a new worker, unless its STR is held by someone else or is not
    /// active.
    fn insert_unknown(&mut self, rec: &Incoming, holders: &[usize]) -> Decision {
        if let Some(&holder) = holders.first() {
            return Decision::Reject(Rejection {
                reason: RejectReason::DuplicateStr,
                message: format!(
                    "STR {} is already held by worker {} and the record matches no one by NIK, name and place of birth",
                    rec.str_number, self.workers[holder].id
                ),
            });
        }
        if let Some(inactive) = &rec.inactive {
            return Decision::Reject(inactive.clone());
        }
        let id = Uuid::now_v7();
        self.add(StoredWorker {
            id,
            str_number: rec.str_number.to_string(),
            nik_index: rec.nik_index.to_string(),
            nik_masked: rec.nik_masked.to_string(),
            name_norm: rec.name_norm.to_string(),
            birth_place_norm: rec.birth_place_norm.to_string(),
            content_hash: rec.content_hash.to_string(),
            field_fingerprint: Some(rec.field_fingerprint.to_string()),
        });
        Decision::Insert { id }
    }

    /// A record that is stored worker `slot`: unchanged, or an update (a renewal when the STR number
    /// changes, refused when another worker holds the new number).
    fn update(&mut self, slot: usize, rec: &Incoming, holders: &[usize]) -> Decision {
        let worker = &self.workers[slot];
        let same = worker.content_hash == rec.content_hash
            || rec
                .legacy_content_hashes
                .is_some_and(|(l, w)| worker.content_hash == l || worker.content_hash == w);
        if same {
            return Decision::Unchanged { id: worker.id };
        }
        let renewed = worker.str_number != rec.str_number;
        if renewed && holders.iter().any(|&h| h != slot) {
            return Decision::Reject(Rejection {
                reason: RejectReason::DuplicateStr,
                message: format!(
                    "the record matches worker {} by NIK, name and place of birth, but its STR {} is held by another worker",
                    worker.id, rec.str_number
                ),
            });
        }
        let previous_str = renewed.then(|| worker.str_number.clone());
        let changed =
            ChangedFields::between(worker.field_fingerprint.as_deref(), rec.field_fingerprint);
        self.unindex(slot);
        let worker = &mut self.workers[slot];
        worker.str_number = rec.str_number.to_string();
        worker.name_norm = rec.name_norm.to_string();
        worker.birth_place_norm = rec.birth_place_norm.to_string();
        worker.content_hash = rec.content_hash.to_string();
        worker.field_fingerprint = Some(rec.field_fingerprint.to_string());
        let id = worker.id;
        self.index(slot);
        Decision::Update {
            id,
            previous_str,
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact record/worker: (str, nik, name, place, content).
    type Keys = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );

    fn stored(keys: Keys) -> StoredWorker {
        let (str_number, nik, name, place, content) = keys;
        StoredWorker {
            id: Uuid::from_u128(str_number.bytes().map(u128::from).sum()),
            str_number: str_number.into(),
            nik_index: nik.into(),
            nik_masked: format!("{nik}-masked"),
            name_norm: name.into(),
            birth_place_norm: place.into(),
            content_hash: content.into(),
            field_fingerprint: None,
        }
    }

    fn incoming(keys: &Keys, inactive: bool) -> Incoming<'_> {
        let (str_number, nik, name, place, content) = keys;
        Incoming {
            str_number,
            nik_index: nik,
            nik_masked: nik,
            name_norm: name,
            birth_place_norm: place,
            content_hash: content,
            legacy_content_hashes: None,
            field_fingerprint: content,
            inactive: inactive.then(|| Rejection {
                reason: RejectReason::StrInactive,
                message: "inactive".into(),
            }),
        }
    }

    #[derive(Debug, PartialEq)]
    enum Expect {
        Insert,
        Update(&'static str),
        UpdateRenewed(&'static str, &'static str),
        Unchanged(&'static str),
        Reject(RejectReason),
    }

    fn run(store: &[Keys], page: &[(Keys, bool)]) -> Vec<Expect> {
        let decided = run_hashing::<foldhash::fast::RandomState>(store, page);
        let colliding = run_hashing::<Colliding>(store, page);
        assert_eq!(decided, colliding, "keys that share a hash are told apart");
        decided
    }

    /// Hashes every key alike: the view's indexes then hold every worker under one hash.
    #[derive(Default)]
    struct Colliding;

    impl BuildHasher for Colliding {
        type Hasher = Colliding;
        fn build_hasher(&self) -> Colliding {
            Colliding
        }
    }

    impl std::hash::Hasher for Colliding {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    fn run_hashing<S: BuildHasher + Default>(store: &[Keys], page: &[(Keys, bool)]) -> Vec<Expect> {
        let stored_workers: Vec<StoredWorker> = store.iter().copied().map(stored).collect();
        let id_to_str: HashMap<Uuid, &'static str> = store
            .iter()
            .zip(&stored_workers)
            .map(|(k, w)| (w.id, k.0))
            .collect();
        let mut view = MatchView::<S>::hashing_keys_with(stored_workers);
        let mut counts: HashMap<&str, usize> = HashMap::default();
        for (keys, _) in page {
            *counts.entry(keys.0).or_default() += 1;
        }
        page.iter()
            .map(|(keys, inactive)| {
                let decision = view.decide(&incoming(keys, *inactive), counts[keys.0] > 1);
                let name = |id: &Uuid| *id_to_str.get(id).unwrap_or(&"new");
                match decision {
                    Decision::Insert { .. } => Expect::Insert,
                    Decision::Update {
                        id,
                        previous_str: None,
                        ..
                    } => Expect::Update(name(&id)),
                    Decision::Update {
                        id,
                        previous_str: Some(old),
                        ..
                    } => {
                        assert_eq!(name(&id), old, "history keeps the old number");
                        Expect::UpdateRenewed(name(&id), keys.0)
                    }
                    Decision::Unchanged { id } => Expect::Unchanged(name(&id)),
                    Decision::Reject(r) => Expect::Reject(r.reason),
                }
            })
            .collect()
    }

    const SITI: Keys = ("STR-A", "nik-1", "siti", "garut", "v1");

    #[test]
    fn decision_table() {
        use Expect::*;
        use RejectReason::*;
        type Case = (&'static str, Vec<Keys>, Vec<(Keys, bool)>, Vec<Expect>);
        let cases: Vec<Case> = vec![
            ("new worker is inserted", vec![], vec![(SITI, false)], vec![Insert]),
            ("same content is unchanged", vec![SITI], vec![(SITI, false)], vec![Unchanged("STR-A")]),
            (
                "changed content updates the STR holder",
                vec![SITI],
                vec![(("STR-A", "nik-1", "siti", "garut", "v2"), false)],
                vec![Update("STR-A")],
            ),
            (
                "same STR, other NIK: identity conflict",
                vec![SITI],
                vec![(("STR-A", "nik-9", "budi", "bogor", "v1"), false)],
                vec![Reject(IdentityConflict)],
            ),
            (
                "renewed STR found by NIK, name and place",
                vec![SITI],
                vec![(("STR-B", "nik-1", "siti", "garut", "v2"), false)],
                vec![UpdateRenewed("STR-A", "STR-B")],
            ),
            (
                "renewal with another place of birth is a new worker",
                vec![SITI],
                vec![(("STR-B", "nik-1", "siti", "bogor", "v2"), false)],
                vec![Insert],
            ),
            (
                "two people under one STR in a page: one stored, one duplicate",
                vec![],
                vec![
                    (("STR-A", "nik-1", "siti", "garut", "v1"), false),
                    (("STR-A", "nik-2", "budi", "bogor", "v1"), false),
                ],
                vec![Insert, Reject(DuplicateStr)],
            ),
            (
                "re-run of the duplicate pair: first unchanged via fallback, second still duplicate",
                vec![SITI],
                vec![(SITI, false), (("STR-A", "nik-2", "budi", "bogor", "v1"), false)],
                vec![Unchanged("STR-A"), Reject(DuplicateStr)],
            ),
            (
                "same record twice in a page: the second sees the first",
                vec![],
                vec![(SITI, false), (("STR-A", "nik-1", "siti", "garut", "v2"), false)],
                vec![Insert, Update("new")],
            ),
            (
                "revocation of a known worker updates it",
                vec![SITI],
                vec![(("STR-A", "nik-1", "siti", "garut", "revoked"), true)],
                vec![Update("STR-A")],
            ),
            (
                "inactive STR of an unknown worker is rejected",
                vec![],
                vec![(SITI, true)],
                vec![Reject(StrInactive)],
            ),
            (
                "several holders, fallback finds one",
                vec![SITI, ("STR-A", "nik-2", "budi", "bogor", "v1")],
                vec![(("STR-A", "nik-2", "budi", "bogor", "v2"), false)],
                vec![Update("STR-A")],
            ),
            (
                "several holders, no fallback: duplicate",
                vec![SITI, ("STR-A", "nik-2", "budi", "bogor", "v1")],
                vec![(("STR-A", "nik-3", "ani", "solo", "v1"), false)],
                vec![Reject(DuplicateStr)],
            ),
            (
                "fallback match whose new STR belongs to someone else",
                vec![SITI, ("STR-B", "nik-2", "budi", "bogor", "v1")],
                vec![
                    (("STR-B", "nik-1", "siti", "garut", "v2"), false),
                    (("STR-B", "nik-2", "budi", "bogor", "v1"), false),
                ],
                vec![Reject(DuplicateStr), Unchanged("STR-B")],
            ),
        ];
        for (name, store, page, expected) in cases {
            assert_eq!(run(&store, &page), expected, "case: {name}");
        }
    }

    #[test]
    fn an_update_reports_the_fields_it_changed() {
        use crate::domain::worker_fields::WorkerField;
        let fingerprint = |fields: [&str; 9]| fields.map(|f| format!("{f:0>8}")).concat();
        let before = fingerprint(["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
        let after = fingerprint(["a2", "b", "c", "d", "e", "f2", "g", "h", "i"]);
        let mut worker = stored(("STR-A", "N1", "siti", "garut", "v1"));
        worker.field_fingerprint = Some(before);
        let mut view = MatchView::new([worker.clone()]);
        let mut rec = incoming(&("STR-A", "N1", "siti", "garut", "v2"), false);
        rec.field_fingerprint = &after;
        let Decision::Update { changed, .. } = view.decide(&rec, false) else {
            panic!("a changed record updates its worker");
        };
        let reported: Vec<WorkerField> = WorkerField::ALL
            .into_iter()
            .filter(|f| changed.contains(*f))
            .collect();
        assert_eq!(reported, [WorkerField::Name, WorkerField::StrValidity]);
        assert!(!changed.is_unknown());

        // A row stored before fingerprints existed: the change is counted, its fields are unknown.
        let mut old_row = worker;
        old_row.field_fingerprint = None;
        let mut view = MatchView::new([old_row]);
        let Decision::Update { changed, .. } = view.decide(&rec, false) else {
            panic!("a changed record updates its worker");
        };
        assert!(changed.is_unknown());
    }
}
