//! The fast path for unchanged records (`rules::unchanged`), page by page on a real database (SQLite and
//! PostgreSQL, `testing::fresh_database`): when another
//! record of the page, or the page written just before, reaches a worker the fast path found unchanged,
//! the page is decided as the full path would decide it.

use crate::config::{NikKey, NikKeys, Secret};
use crate::domain::ProfessionCatalogue;
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
use serde_json::value::RawValue;
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
fn record(str_number: &str, street: &str) -> Box<RawValue> {
    use crate::rules::samples::{siti, with};
    let value = with(
        with(siti(), &["str", "nomor"], json!(str_number)),
        &["alamat", "line"],
        json!(street),
    );
    RawValue::from_string(value.to_string()).expect("JSON")
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
    async fn prepare(&self, records: Vec<Box<RawValue>>) -> PreparedPage {
        let scanned = scan_page(records, self.fast_path);
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
            batch_id: uuid::Uuid::now_v7(),
            page_no: self.pages,
            now: chrono::Utc::now(),
            first_load: None,
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
