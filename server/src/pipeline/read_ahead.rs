//! Pages are made ready ahead of the one being stored: each fetched page becomes a task of its own
//! (scan and transform on the blocking pool, the fast-path query and, on PostgreSQL, the lookup of its
//! stored workers), so several pages' reads overlap each other and the writes. What a page read may be
//! stale by the time it is stored: it notes how many pages were committed before its first read, and the
//! store loop checks it against what the pages committed since then wrote (`RecentWrites`).

use crate::domain::worker_fields::FieldCounts;

use crate::regnakes::RawRecord;
use crate::rules::first_load::FirstLoad;
use crate::rules::outcome::RunError;
use crate::rules::page::{
    prepare_page, scan_page, LookedUp, PrepareContext, PreparedPage, Written,
};
use crate::store::page::look_ahead;
use crate::store::writes;
use sea_orm::{DatabaseConnection, DbBackend};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// What the store loop tells the pages being made ready (all on the run's thread).
#[derive(Default)]
pub struct Progress {
    /// Pages committed so far.
    pub committed: Cell<i64>,
    /// Whether pages should try the fast path: while pages find unchanged records they do; a first
    /// load, which finds none, does not spend a query per page on it.
    pub fast_path: Cell<bool>,
    /// The keys the store may hold, when the batch started on an empty store.
    pub first_load: FirstLoad,
    /// Which field groups the committed pages' updates changed (reported on the batch).
    pub changed_fields: RefCell<FieldCounts>,
    /// What the upstream announced that the read did not find (reported on the batch as warnings).
    pub upstream_warnings: RefCell<Vec<String>>,
    /// Inserts and updates still to report field by field (`store::changes`).
    pub change_budget: Rc<Cell<u32>>,
    /// Record paths the mapping does not know, in the committed pages.
    pub unknown_fields: RefCell<crate::rules::unknown_fields::UnknownFields>,
    /// The stored workers the committed pages saw, when the run is a complete full read.
    pub seen: RefCell<Option<crate::rules::seen::Seen>>,
}

/// A page ready to store, with the stored workers its records may match when they could be read ahead.
pub struct ReadyPage {
    pub prepared: PreparedPage,
    pub total_pages: Option<u64>,
    pub looked_up: Option<LookedUp>,
    /// Pages committed before this page's first read: its reads saw at least those.
    pub read_after: i64,
}

/// Makes a fetched page ready: scan, fast-path query, transform of the rest, read-ahead lookup.
pub async fn ready_page(
    db: DatabaseConnection,
    context: Arc<PrepareContext>,
    progress: Rc<Progress>,
    records: Vec<RawRecord>,
    total_pages: Option<u64>,
    page_no: u64,
) -> Result<ReadyPage, RunError> {
    let failed = |err: tokio::task::JoinError| {
        tracing::error!(error = %err, page = page_no, "preparing a page failed");
        RunError::Prepare { page: page_no }
    };
    let fast_path = progress.fast_path.get();
    let scan_context = context.clone();
    let scanned =
        tokio::task::spawn_blocking(move || scan_page(records, fast_path, &scan_context.indexer))
            .await
            .map_err(failed)?;
    let read_after = progress.committed.get();
    let found = if fast_path {
        writes::find_unchanged(&db, scanned.probes())
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, page = page_no, "finding unchanged records failed; the page takes the full path");
                Vec::new()
            })
    } else {
        Vec::new()
    };
    let prepared = tokio::task::spawn_blocking(move || prepare_page(scanned, &found, context))
        .await
        .map_err(failed)?;
    let looked_up = if db.get_database_backend() == DbBackend::Postgres {
        match look_ahead(&db, &prepared, &progress.first_load).await {
            Ok(looked_up) => Some(looked_up),
            Err(err) => {
                tracing::warn!(error = %err, page = page_no, "reading ahead failed; the page's transaction looks up instead");
                None
            }
        }
    } else {
        None
    };
    Ok(ReadyPage {
        prepared,
        total_pages,
        looked_up,
        read_after,
    })
}

/// Pages kept in `RecentWrites`: more than can be made ready ahead of the one being stored.
const KEPT: usize = 16;

/// What the last pages committed wrote, by page number.
#[derive(Default)]
pub struct RecentWrites {
    pages: VecDeque<(i64, Written)>,
}

impl RecentWrites {
    pub fn push(&mut self, page: i64, written: Written) {
        self.pages.push_back((page, written));
        if self.pages.len() > KEPT {
            self.pages.pop_front();
        }
    }

    /// What the pages after `read_after` and before `page` wrote, or `None` if some are no longer kept.
    pub fn since(&self, read_after: i64, page: i64) -> Option<Vec<&Written>> {
        let oldest_kept = self.pages.front().map_or(page, |(n, _)| *n);
        if read_after + 1 < oldest_kept && read_after + 1 < page {
            return None;
        }
        Some(
            self.pages
                .iter()
                .filter(|(n, _)| *n > read_after && *n < page)
                .map(|(_, w)| w)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_since_a_read_are_the_pages_committed_after_it() {
        let mut recent = RecentWrites::default();
        assert_eq!(recent.since(0, 1).map(|w| w.len()), Some(0));
        for page in 1..=20 {
            recent.push(page, Written::default());
        }
        assert_eq!(recent.since(20, 21).map(|w| w.len()), Some(0));
        assert_eq!(recent.since(18, 21).map(|w| w.len()), Some(2));
        assert_eq!(recent.since(4, 21).map(|w| w.len()), Some(16));
        assert!(recent.since(3, 21).is_none(), "page 4 is no longer kept");
    }
}
