//! The server's CPU work per record, without the network or the database: what `regnakes-bench --cpu`
//! measures (issue 22). It runs the pipeline's own steps on page bodies as the registry sends them:
//! reading the page (`regnakes::client::page_of`), the fast path's scan, the transform with its NIK
//! columns and hashes, and the decision, as a first load decides (nothing stored) or as an unchanged
//! re-sync does (the store answering every probe). The database's side of a sync is not in it.

use crate::config::{NikKey, NikKeys, Secret};
use crate::regnakes::client::page_of;
use crate::rules::decide::{decide_page, PagePlan};
use crate::rules::identity::NikIndexer;
use crate::rules::page::{
    prepare_page, scan_page, LookupRow, PageInput, PrepareContext, PreparedPage,
};
use crate::rules::transform::TransformContext;
use crate::rules::unchanged::{Found, Probe};
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// The NIK keys the bench gives its server (`NIK_INDEX_KEY`, `NIK_ENCRYPTION_KEY`) and uses here: the
/// same keys, so both measure the same hashing and encryption.
pub const BENCH_NIK_INDEX_KEY: &str = "bench-nik-index-key-bench-nik-index-key";
pub const BENCH_NIK_ENCRYPTION_KEY: &str = "b1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Page bodies, what transforming them needs, and the store a first load of them leaves.
pub struct CpuPath {
    bodies: Vec<Vec<u8>>,
    context: Arc<PrepareContext>,
    now: DateTime<Utc>,
    loaded: Store,
}

/// What one pass decided, so a pass cannot be optimised away and two builds can be compared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    pub records: usize,
    pub written: usize,
    pub unchanged: usize,
    pub rejected: usize,
}

/// The workers a pass has written, found as the store's lookups find them (by STR number, by NIK index,
/// and by STR number with the source hash on the fast path).
#[derive(Default)]
struct Store {
    rows: Vec<LookupRow>,
    by_id: HashMap<Uuid, usize>,
    by_str: HashMap<String, usize>,
    by_nik: HashMap<String, usize>,
}

impl Store {
    /// The probes whose STR holder carries the probe's source hash (`store::writes::find_unchanged`).
    fn unchanged(&self, probes: &[Probe]) -> Vec<Found> {
        probes
            .iter()
            .filter_map(|p| {
                let row = &self.rows[*self.by_str.get(&p.str_number)?];
                (row.source_hash.as_deref() == Some(p.source_hash.as_str())).then_some(Found {
                    position: p.position,
                    worker_id: row.id,
                    seq: row.seq,
                })
            })
            .collect()
    }

    /// The stored workers the page's records may match (`store::writes::lookup`).
    fn lookup(&self, page: &PreparedPage) -> Vec<LookupRow> {
        let mut found = HashSet::default();
        for p in &page.valid {
            let by_str = self
                .by_str
                .get(p.candidate.worker.str_certificate.number.as_str());
            found.extend(by_str.into_iter().chain(self.by_nik.get(&p.nik.index)));
        }
        found.into_iter().map(|&i| self.rows[i].clone()).collect()
    }

    fn write(&mut self, plan: &PagePlan) {
        for row in plan.inserts.iter().chain(&plan.updates) {
            let at = *self.by_id.entry(row.id).or_insert(self.rows.len());
            let stored = LookupRow::of_row(row, at as i64);
            if at == self.rows.len() {
                self.rows.push(stored);
            } else {
                self.rows[at] = stored;
            }
            self.by_str.insert(row.str_number.clone(), at);
            self.by_nik.insert(row.nik_index.clone(), at);
        }
    }
}

impl CpuPath {
    /// The simulator's records in pages of `page_size`, as it serves them; `now` the sync's time.
    pub fn of_dataset(
        data: &regnakes_sim::Dataset,
        page_size: usize,
        now: DateTime<Utc>,
    ) -> CpuPath {
        let rows: Vec<u32> = (0..data.len() as u32).collect();
        let pages = rows.chunks(page_size.max(1)).map(|chunk| {
            let mut body = br#"{"status_code":200,"message":"Success","data":["#.to_vec();
            data.render_items(chunk, &mut body);
            body.extend_from_slice(b"]}");
            body
        });
        CpuPath::new(pages.collect(), now)
    }

    /// `bodies`: page answers as RegNakes sends them; `now` the sync's time.
    pub fn new(bodies: Vec<Vec<u8>>, now: DateTime<Utc>) -> CpuPath {
        let keys = NikKeys {
            current: NikKey::parse(BENCH_NIK_ENCRYPTION_KEY).expect("a valid key"),
            previous: Vec::new(),
        };
        let context = Arc::new(PrepareContext {
            transform: TransformContext {
                today: crate::domain::time::jakarta_date(now),
                catalogue: crate::domain::ProfessionCatalogue::national(),
            },
            indexer: NikIndexer::new(Secret::new(BENCH_NIK_INDEX_KEY), &keys),
        });
        let mut path = CpuPath {
            bodies,
            context,
            now,
            loaded: Store::default(),
        };
        let mut loaded = Store::default();
        path.pass(&Store::default(), false, |plan| loaded.write(plan));
        path.loaded = loaded;
        path
    }

    /// Every page as a first load takes it: read, transformed, decided. Against an empty store, as the
    /// first load's key filter lets most pages decide without a lookup (the database's side, which
    /// this does not measure).
    pub fn first_load(&self) -> Decided {
        self.pass(&Store::default(), false, |_| {})
    }

    /// Every page as an unchanged re-sync after the first load takes it: read, scanned and hashed,
    /// found unchanged on the fast path (the rest transformed and matched), decided.
    pub fn unchanged(&self) -> Decided {
        self.pass(&self.loaded, true, |_| {})
    }

    fn pass(&self, store: &Store, fast_path: bool, mut wrote: impl FnMut(&PagePlan)) -> Decided {
        let mut decided = Decided::default();
        for (page_no, body) in self.bodies.iter().enumerate() {
            if let Some(plan) = self.page(page_no, body, store, fast_path, &mut decided) {
                wrote(&plan);
            }
        }
        decided
    }

    fn page(
        &self,
        page_no: usize,
        body: &[u8],
        store: &Store,
        fast_path: bool,
        decided: &mut Decided,
    ) -> Option<PagePlan> {
        // The copy stands for the server's one copy of the body out of the connection's chunks.
        let page = page_of(body.to_vec(), page_no as u64 + 1).ok()?;
        decided.records += page.records.len();
        let scanned = scan_page(page.records, fast_path, &self.context.indexer);
        let found = store.unchanged(scanned.probes());
        let prepared = prepare_page(scanned, &found, self.context.clone());
        let stored = store.lookup(&prepared);
        let plan = decide_page(prepared, stored, &PageInput::new(Uuid::nil(), self.now));
        let counts = &plan.outcome.counts;
        decided.written += plan.inserts.len() + plan.updates.len();
        decided.unchanged += counts.unchanged as usize;
        decided.rejected += counts.rejected as usize;
        Some(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measured passes are the sync's: a first load writes every valid record and rejects the
    /// rest; an unchanged re-sync writes none and finds every valid record unchanged on the fast path.
    #[test]
    fn the_passes_decide_as_a_sync_would() {
        let data = regnakes_sim::Dataset::generate(2500, 7, 0.05);
        let expected = data.expected_full_sync(1000);
        let path = CpuPath::of_dataset(&data, 1000, Utc::now());
        let first = path.first_load();
        assert_eq!(first.records, 2500);
        assert_eq!(first.rejected as u64, expected.rejected_total());
        assert_eq!(first.written + first.rejected, 2500);
        assert_eq!(first.unchanged, 0);
        let again = path.unchanged();
        assert_eq!((again.written, again.unchanged), (0, first.written));
        assert_eq!(again.rejected, first.rejected);
    }
}
