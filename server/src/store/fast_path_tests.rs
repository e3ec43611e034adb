//! The fast path for unchanged records (`rules::unchanged`), page by page on a real database (SQLite and
//! PostgreSQL, `testing::fresh_database`): when another
//! record of the page, or the page written just before, reaches a worker the fast path found unchanged,
//! the page is decided as the full path would decide it.

use crate::config::{NikKey, NikKeys, Secret};
use crate::domain::ProfessionCatalogue;
use crate::regnakes::RawRecord;
use crate::rules::identity::NikIndexer;
use crate::rules::page::{
    prepare_page, scan_page, PageInput, PageOutcome, PrepareContext, PreparedPage, Written,
};
use crate::rules::transform::TransformContext;
use crate::store::page::{store_page, Handoff};
use crate::store::writes;
use crate::testing::{fresh_database, Backend};
use migration::{Migrator, MigratorTrait};
use sea_orm::{Database, DatabaseConnection, EntityTrait, QueryOrder};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// The test on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;

            #[actix_rt::test]
            async fn sqlite() {
                $body(Backend::Sqlite).await
            }
            #[actix_rt::test]
            async fn postgres() {
                $body(Backend::Postgres).await
            }
        }
    };
}

/// One person's record under STR `str_number`, living at `street`.
fn record(str_number: &str, street: &str) -> RawRecord {
    use crate::rules::samples::{siti, with};
    let value = with(
        with(siti(), &["str", "nomor"], json!(str_number)),
        &["alamat", "line"],
        json!(street),
    );
    RawRecord::from_string(value.to_string()).expect("JSON")
}

struct Store {
    url: String,
    db: DatabaseConnection,
    context: Arc<PrepareContext>,
    fast_path: bool,
    pages: i64,
}

impl Store {
    async fn new(backend: Backend, fast_path: bool) -> Store {
        let url = fresh_database(backend).await;
        let db = Database::connect(&url).await.expect("database");
        Migrator::up(&db, None).await.expect("migrations");
        let context = Arc::new(PrepareContext {
            transform: TransformContext {
                today: chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
                catalogue: ProfessionCatalogue::national(),
            },
            indexer: NikIndexer::new(
                Secret::new("index-key"),
                &NikKeys {
                    current: NikKey::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
                        .unwrap(),
                    previous: Vec::new(),
                },
            ),
        });
        Store {
            url,
            db,
            context,
            fast_path,
            pages: 0,
        }
    }

    /// Scans and prepares a page as the run does: the fast-path query, then the transform of the rest.
    async fn prepare(&self, records: Vec<RawRecord>) -> PreparedPage {
        let scanned = scan_page(records, self.fast_path, &self.context.indexer);
        let found = if self.fast_path {
            writes::find_unchanged(&self.db, scanned.probes())
                .await
                .expect("fast-path query")
        } else {
            Vec::new()
        };
        prepare_page(scanned, &found, self.context.clone())
    }

    /// Stores a page whose reads were made while `previous` was being written (as the run reads ahead).
    async fn store(&mut self, mut page: PreparedPage, previous: Written) -> PageOutcome {
        self.pages += 1;
        page.revalidate(None, Some(vec![&previous]));
        let input = PageInput {
            page_no: self.pages,
            ..PageInput::new(uuid::Uuid::now_v7(), chrono::Utc::now())
        };
        store_page(&self.db, page, None, input, Handoff::alone())
            .await
            .expect("page stored")
    }

    /// (STR number, street) of every stored worker.
    async fn workers(&self) -> Vec<(String, Option<String>)> {
        use entity::health_worker::{Column, Entity};
        Entity::find()
            .order_by_asc(Column::StrNumber)
            .all(&self.db)
            .await
            .expect("workers")
            .into_iter()
            .map(|w| (w.str_number, w.address_line))
            .collect()
    }
}

const FIRST_STR: &str = "1234567887654321";
const SECOND_STR: &str = "1234567887659999";

/// What a user sees of a page: its counts, and the workers stored after it.
type Seen = ((i64, i64, i64, i64), Vec<(String, Option<String>)>);

async fn seen(store: &Store, outcome: &PageOutcome) -> Seen {
    let c = &outcome.counts;
    (
        (c.inserted, c.updated, c.unchanged, c.rejected),
        store.workers().await,
    )
}

/// Page 2 holds a record matching the stored worker by NIK, name and place of birth under a new STR,
/// then that worker's own, unchanged record: matching moves the worker to the new STR and back, which the
/// fast path alone would not see.
async fn a_record_of_the_page_reaches_a_worker_found_unchanged(backend: Backend) {
    let mut results = Vec::new();
    for fast_path in [false, true] {
        let mut store = Store::new(backend, fast_path).await;
        let first = store.prepare(vec![record(FIRST_STR, "Jl. Lama 1")]).await;
        store.store(first, Written::default()).await;
        let page = store
            .prepare(vec![
                record(SECOND_STR, "Jl. Baru 2"),
                record(FIRST_STR, "Jl. Lama 1"),
            ])
            .await;
        let outcome = store.store(page, Written::default()).await;
        assert_eq!(outcome.fast_path, 0, "the page was decided whole");
        results.push(seen(&store, &outcome).await);

        // Alone in its page, the same record takes the fast path.
        let again = store.prepare(vec![record(FIRST_STR, "Jl. Lama 1")]).await;
        let outcome = store.store(again, Written::default()).await;
        assert_eq!(outcome.counts.unchanged, 1);
        assert_eq!(outcome.fast_path, i64::from(fast_path));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].0, (0, 2, 0, 0), "{:?}", results[0]);
}
on_both_backends!(
    a_record_of_the_page_reaches_a_worker_found_unchanged,
    a_record_of_the_page_reaches_a_worker_found_unchanged
);

/// Page 3 is scanned while page 2 is written (as the run reads ahead): page 2 moves the worker to a new
/// STR, so page 3's record, found unchanged before, changes it back.
async fn the_page_before_changes_a_worker_found_unchanged(backend: Backend) {
    let mut results = Vec::new();
    for fast_path in [false, true] {
        let mut store = Store::new(backend, fast_path).await;
        let first = store.prepare(vec![record(FIRST_STR, "Jl. Lama 1")]).await;
        store.store(first, Written::default()).await;
        let third = store.prepare(vec![record(FIRST_STR, "Jl. Lama 1")]).await;
        let second = store.prepare(vec![record(SECOND_STR, "Jl. Baru 2")]).await;
        let written = store.store(second, Written::default()).await.written;
        let outcome = store.store(third, written).await;
        assert_eq!(outcome.fast_path, 0, "the fast path's answer was stale");
        results.push(seen(&store, &outcome).await);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(
        results[0],
        (
            (0, 1, 0, 0),
            vec![(FIRST_STR.to_string(), Some("Jl. Lama 1".to_string()))]
        )
    );
}
on_both_backends!(
    the_page_before_changes_a_worker_found_unchanged,
    the_page_before_changes_a_worker_found_unchanged
);

/// A store from before `source_hash`: the migration adds the column, the first re-sync finds its workers
/// unchanged the slow way and records their hashes, and the next one takes the fast path.
async fn a_store_from_before_the_fast_path_gains_it(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let mut store = Store::new(backend, true).await;
    let first = store.prepare(vec![record(FIRST_STR, "Jl. Lama 1")]).await;
    store.store(first, Written::default()).await;
    // As the schema and rows were before the column existed.
    for sql in [
        "ALTER TABLE health_worker DROP COLUMN source_hash",
        "DELETE FROM seaql_migrations WHERE version LIKE '%source_hash'",
    ] {
        store.db.execute_unprepared(sql).await.expect(sql);
    }
    // As a release starts: a new process migrates, then syncs (no statement prepared before).
    store.db = Database::connect(&store.url).await.expect("reconnect");
    Migrator::up(&store.db, None).await.expect("the upgrade");
    // The column has the type a fresh database gives it (the entity's, like `content_hash`).
    let types_sql = match backend {
        Backend::Postgres => {
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = 'health_worker' AND column_name IN ('source_hash', 'content_hash') \
             ORDER BY 1"
        }
        Backend::Sqlite => {
            "SELECT name, type FROM pragma_table_info('health_worker') \
             WHERE name IN ('source_hash', 'content_hash') ORDER BY 1"
        }
    };
    let types: Vec<String> = store
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            store.db.get_database_backend(),
            types_sql,
        ))
        .await
        .expect("column types")
        .iter()
        .map(|row| row.try_get_by_index::<String>(1).expect("type"))
        .collect();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0], types[1], "content_hash and source_hash types");

    let mut fast_paths = Vec::new();
    for _ in 0..2 {
        let again = store.prepare(vec![record(FIRST_STR, "Jl. Lama 1")]).await;
        let outcome = store.store(again, Written::default()).await;
        assert_eq!(outcome.counts.unchanged, 1);
        fast_paths.push(outcome.fast_path);
    }
    assert_eq!(fast_paths, [0, 1], "slow once (hash recorded), then fast");
}
on_both_backends!(
    a_store_from_before_the_fast_path_gains_it,
    a_store_from_before_the_fast_path_gains_it
);

/// Person `n` (1-40): a NIK, a name and an STR of their own.
fn person(n: u32) -> RawRecord {
    use crate::rules::samples::{siti, with};
    let value = with(
        with(
            with(siti(), &["nik"], json!(format!("32051952119000{n:02}"))),
            &["str", "nomor"],
            json!(format!("12345678876{n:05}")),
        ),
        &["nama"],
        json!(format!("Siti Aminah {n}")),
    );
    RawRecord::from_string(value.to_string()).expect("JSON")
}

fn people(n: u32) -> Vec<RawRecord> {
    (1..=n).map(person).collect()
}

/// What an earlier release stored for a record: its unkeyed content and source hashes.
fn unkeyed_hashes(store: &Store, raw: &str, nik: Option<&str>) -> (String, String) {
    use crate::rules::transform::{transform, Transformed};
    use sha2::{Digest, Sha256};
    let raw = match nik {
        Some(nik) => {
            let mut value: serde_json::Value = serde_json::from_str(raw).unwrap();
            value["nik"] = json!(nik);
            value.to_string()
        }
        None => raw.to_string(),
    };
    let Transformed::Valid(candidate) = transform(&raw, &store.context.transform) else {
        panic!("a valid record");
    };
    let mut source = Sha256::new();
    source.update(crate::rules::unchanged::TRANSFORM_VERSION.as_bytes());
    source.update([0u8]);
    source.update(raw.as_bytes());
    (
        candidate.worker.legacy_content_hash(),
        hex::encode(&source.finalize()[..16]),
    )
}

/// Makes the store look as an earlier release left it: every hash unkeyed.
async fn make_unkeyed(store: &Store, records: &[RawRecord]) {
    use entity::health_worker::{Column, Entity};
    use sea_orm::{ColumnTrait, QueryFilter};
    for raw in records {
        let number: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
        let (content, source) = unkeyed_hashes(store, raw.get(), None);
        Entity::update_many()
            .col_expr(
                Column::ContentHash,
                sea_orm::sea_query::Expr::value(content),
            )
            .col_expr(Column::SourceHash, sea_orm::sea_query::Expr::value(source))
            .filter(Column::StrNumber.eq(number["str"]["nomor"].as_str().unwrap()))
            .exec(&store.db)
            .await
            .unwrap();
    }
}

/// Every stored hash of the workers, sorted.
async fn stored_hashes(store: &Store) -> Vec<(String, Option<String>)> {
    use entity::health_worker::{Column, Entity};
    Entity::find()
        .order_by_asc(Column::StrNumber)
        .all(&store.db)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.content_hash, w.source_hash))
        .collect()
}

/// A store an earlier release wrote with unkeyed hashes: re-keyed at start (or not yet), a re-sync still
/// finds every record unchanged, and the one after takes the fast path again.
async fn a_store_with_unkeyed_hashes_is_rekeyed_and_stays_unchanged(backend: Backend) {
    let mut store = Store::new(backend, true).await;
    let page = store.prepare(people(6)).await;
    let outcome = store.store(page, Written::default()).await;
    assert_eq!(seen(&store, &outcome).await.0, (6, 0, 0, 0));
    let unchanged = (0, 0, 6, 0);
    // Not re-keyed yet (a sync that starts before the start-up task reaches the rows).
    make_unkeyed(&store, &people(6)).await;
    let page = store.prepare(people(6)).await;
    let outcome = store.store(page, Written::default()).await;
    assert_eq!(
        (seen(&store, &outcome).await.0, outcome.fast_path),
        (unchanged, 0)
    );
    assert!(stored_hashes(&store)
        .await
        .iter()
        .all(|(c, s)| c.starts_with("k:") && s.as_deref().is_some_and(|s| s.starts_with("k:"))));
    // Re-keyed at start: content keyed over, source dropped; nothing unkeyed is left.
    make_unkeyed(&store, &people(6)).await;
    assert!(crate::store::rehash::needed(&store.db).await.unwrap());
    let rewritten = crate::store::rehash::rekey(&store.db, &store.context.indexer, 4)
        .await
        .unwrap();
    assert_eq!(rewritten, 6);
    assert!(!crate::store::rehash::needed(&store.db).await.unwrap());
    assert!(stored_hashes(&store)
        .await
        .iter()
        .all(|(c, s)| c.starts_with("w:") && s.is_none()));
    let page = store.prepare(people(6)).await;
    let outcome = store.store(page, Written::default()).await;
    assert_eq!(
        (seen(&store, &outcome).await.0, outcome.fast_path),
        (unchanged, 0)
    );
    let page = store.prepare(people(6)).await;
    let outcome = store.store(page, Written::default()).await;
    assert_eq!(
        (seen(&store, &outcome).await.0, outcome.fast_path),
        (unchanged, 6)
    );
}

on_both_backends!(
    unkeyed_hashes_are_rekeyed,
    a_store_with_unkeyed_hashes_is_rekeyed_and_stays_unchanged
);

/// Every NIK a stored row allows (digits 1-4 and 15-16 from its masked form, 7-12 from its birth date
/// and sex), tried against the dump's text and against `values` with every unkeyed function of a record
/// the code computes: the NIKs that give themselves away.
fn try_every_nik(
    store: &Store,
    dump: &[String],
    raw: &str,
    row: &entity::health_worker::Model,
    values: &HashSet<String>,
) -> Vec<String> {
    use chrono::Datelike;
    use sha2::{Digest, Sha256};
    let masked = &row.nik_masked;
    let day = row.birth_date.day()
        + if row.sex.as_deref() == Some("female") {
            40
        } else {
            0
        };
    let birth = format!(
        "{day:02}{:02}{:02}",
        row.birth_date.month(),
        row.birth_date.year() % 100
    );
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let mut found = Vec::new();
    for district in 0..100 {
        for serial in 0..100 {
            let nik = format!(
                "{}{district:02}{birth}{serial:02}{}",
                &masked[..4],
                &masked[14..]
            );
            if dump.iter().any(|row| row.contains(&nik)) {
                found.push(nik.clone());
            }
            if crate::domain::Nik::parse(&nik, today).is_err() {
                continue;
            }
            let (content, source) = unkeyed_hashes(store, raw, Some(&nik));
            let plain = hex::encode(Sha256::digest(nik.as_bytes()));
            if [content, source, plain.clone(), plain[..32].to_string()]
                .iter()
                .any(|h| values.contains(h))
            {
                found.push(nik);
            }
        }
    }
    found
}

/// Someone holding a copy of the database and the code, but no key, tries every NIK each stored row
/// allows (the masked form, birth date and sex give 12 of its 16 digits) against every stored value,
/// with every unkeyed function the code has computed of a record: none is recovered. The same attack on
/// what an earlier release stored finds every one, so the test can fail.
async fn a_dump_and_the_code_recover_no_nik(backend: Backend) {
    use entity::health_worker::Entity;
    let mut store = Store::new(backend, true).await;
    let records = people(4);
    let page = store.prepare(records.clone()).await;
    store.store(page, Written::default()).await;
    let rows = Entity::find().all(&store.db).await.unwrap();
    let dump: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    let values: HashSet<String> = rows
        .iter()
        .flat_map(|r| {
            let row = serde_json::to_value(r).unwrap();
            row.as_object()
                .unwrap()
                .values()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .flat_map(|v| {
            let bare = v
                .trim_start_matches("k:")
                .trim_start_matches("w:")
                .to_string();
            [v, bare]
        })
        .collect();
    let attack = |raw: &str, row: &entity::health_worker::Model, values: &HashSet<String>| {
        try_every_nik(&store, &dump, raw, row, values)
    };
    for (raw, row) in records.iter().zip(&rows) {
        let raw = raw.get();
        let record: serde_json::Value = serde_json::from_str(raw).unwrap();
        let row = rows
            .iter()
            .find(|w| w.str_number == record["str"]["nomor"].as_str().unwrap())
            .unwrap_or(row);
        assert_eq!(attack(raw, row, &values), Vec::<String>::new());
        // The control: an earlier release's unkeyed content hash gives the NIK away.
        let (legacy, _) = unkeyed_hashes(&store, raw, None);
        let earlier: HashSet<String> = [legacy].into_iter().collect();
        assert_eq!(
            attack(raw, row, &earlier),
            vec![record["nik"].as_str().unwrap().to_string()]
        );
    }
}

on_both_backends!(no_nik_from_a_dump, a_dump_and_the_code_recover_no_nik);
