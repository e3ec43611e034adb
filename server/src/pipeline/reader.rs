//! Reads a run's windows from RegNakes by key (`rules::cursor`): every record of a window once, however
//! the registry changes during the read; cut into pages of the page size, each made ready in a task of
//! its own (`read_ahead`) and handed on in order. An empty or short answer ends a window, whatever its
//! totals say; the first answer's totals bound the number of requests (with a margin), and totals that
//! disagree with what was read are reported as a warning on the batch.

use crate::pipeline::plan::{RunContext, RunPlan};
use crate::pipeline::read_ahead::{ready_page, Progress, ReadyPage};
use crate::regnakes::client::Page;
use crate::regnakes::client::UpstreamError;
use crate::regnakes::RawRecord;
use crate::regnakes::{PageQuery, RegnakesClient};
use crate::rules::cursor::{Pager, ReadCursor};
use crate::rules::outcome::RunError;
use crate::rules::page::PrepareContext;
use std::rc::Rc;
use std::sync::Arc;
use tracing::Instrument;

/// A fetched page being made ready, in a task of its own (`read_ahead`).
pub type PageTask = tokio::task::JoinHandle<Result<ReadyPage, RunError>>;
pub type PageSender = tokio::sync::mpsc::Sender<Result<PageTask, RunError>>;

/// Where pages go: numbered in batch order, made ready, sent to the store loop.
struct PageSink {
    ctx: RunContext,
    prepare: Arc<PrepareContext>,
    progress: Rc<Progress>,
    pages: PageSender,
    batch_page: u64,
    requests: u64,
    /// A retry reads windows around its rows, and keeps only those rows.
    retry: Option<Arc<crate::pipeline::plan::RetryTarget>>,
}

impl PageSink {
    /// The records the run processes: all, or for a retry only the chosen rows its windows bring back.
    fn keep(&self, mut records: Vec<RawRecord>) -> Vec<RawRecord> {
        if let Some(retry) = &self.retry {
            records.retain(|raw| {
                crate::rules::record_keys::RecordKeys::of(raw)
                    .and_then(|keys| keys.str_number().map(|n| retry.wanted.contains(n)))
                    .unwrap_or(false)
            });
        }
        records
    }

    /// Hands a page on; false once the store loop has stopped.
    async fn send(&mut self, records: Vec<RawRecord>, total_pages: Option<u64>) -> bool {
        self.batch_page += 1;
        let task = actix_rt::spawn(
            ready_page(
                self.ctx.store.clone(),
                self.prepare.clone(),
                self.progress.clone(),
                records,
                total_pages,
                self.batch_page,
            )
            .in_current_span(),
        );
        self.pages.send(Ok(task)).await.is_ok()
    }
}

/// What the first answer of a window announced.
struct Announced {
    pages: Option<u64>,
    records: Option<u64>,
}

impl Announced {
    fn of(first: &Page, page_size: u64) -> Announced {
        Announced {
            pages: first
                .total_page
                .or_else(|| first.total_data.map(|d| d.div_ceil(page_size))),
            records: first.total_data,
        }
    }

    /// Requests allowed: twice the pages announced and a few more (a read by key repeats a few records
    /// per request, and a long run of one `updated_at` costs one request more).
    fn bound(&self) -> Option<u64> {
        self.pages.map(|p| p.saturating_mul(2).saturating_add(10))
    }

    fn disagreement(&self, read: u64) -> Option<String> {
        self.records.filter(|&n| n != read).map(|n| {
            format!(
                "RegNakes announced {n} records ({} pages) in the window; the read found {read}: records \
                 changed during the read (the next incremental run reads them), or the upstream counts wrong",
                self.pages.unwrap_or(0)
            )
        })
    }
}

pub async fn fetch_pages(
    ctx: RunContext,
    plan: RunPlan,
    prepare: Arc<PrepareContext>,
    progress: Rc<Progress>,
    pages: PageSender,
) {
    let client = Rc::new(RegnakesClient::new(
        ctx.settings.regnakes.clone(),
        ctx.metrics.clone(),
    ));
    let mut sink = PageSink {
        ctx,
        prepare,
        progress,
        pages,
        batch_page: 0,
        requests: 0,
        retry: plan.retry.clone(),
    };
    for query in &plan.queries {
        match read_window(&client, query, &plan.trace_id, &mut sink).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(failed) => {
                tracing::error!(error = %failed, "RegNakes page could not be fetched");
                let _ = sink.pages.send(Err(failed)).await;
                return;
            }
        }
    }
}

/// A page request in flight (a task of its own, so it goes on while the reader waits to hand pages on).
type InFlight = tokio::task::JoinHandle<Result<Page, UpstreamError>>;

/// Sends the request the cursor asks for next, numbered in the batch; `None` when the read is over.
fn send_next(
    client: &Rc<RegnakesClient>,
    cursor: &ReadCursor,
    query: &PageQuery,
    trace_id: &str,
    sink: &mut PageSink,
) -> Option<InFlight> {
    let request = cursor.next_request()?;
    sink.requests += 1;
    let (client, trace_id, request_no) = (client.clone(), trace_id.to_string(), sink.requests);
    let asked = PageQuery {
        updated_since: request.since,
        ..query.clone()
    };
    Some(actix_rt::spawn(
        async move {
            client
                .fetch_page(&asked, request.page, request_no, &trace_id)
                .await
        }
        .in_current_span(),
    ))
}

/// Reads one window to its end; `Ok(false)` when the store loop stopped first. The next request is sent
/// as soon as an answer has told the cursor where to go on, before that answer's pages are handed on,
/// so fetching overlaps with the store loop taking pages.
async fn read_window(
    client: &Rc<RegnakesClient>,
    query: &PageQuery,
    trace_id: &str,
    sink: &mut PageSink,
) -> Result<bool, RunError> {
    let page_size = sink.ctx.settings.regnakes.page_size;
    let mut cursor = ReadCursor::new(query.updated_since, page_size);
    let mut pager = Pager::new(page_size);
    let mut announced: Option<Announced> = None;
    let (mut requests, mut read) = (0u64, 0u64);
    let mut in_flight = send_next(client, &cursor, query, trace_id, sink);
    while let Some(answer) = in_flight.take() {
        requests += 1;
        let failed = |cause: String| RunError::Fetch {
            page: sink.batch_page + 1,
            cause,
        };
        let page = answer
            .await
            .map_err(|err| failed(format!("the request stopped: {err}")))?
            .map_err(|err| failed(err.to_string()))?;
        let announced = announced.get_or_insert_with(|| Announced::of(&page, u64::from(page_size)));
        let fresh = cursor.take(page.records);
        read += fresh.len() as u64;
        if let Some((bound, pages)) = announced.bound().zip(announced.pages) {
            if requests >= bound && cursor.next_request().is_some() {
                return Err(failed(format!(
                    "RegNakes kept answering after {bound} requests, where its first answer \
                     announced {pages} pages; the read stopped"
                )));
            }
        }
        in_flight = send_next(client, &cursor, query, trace_id, sink);
        for records in pager.push(sink.keep(fresh)) {
            if !sink.send(records, announced.pages).await {
                if let Some(request) = in_flight {
                    request.abort();
                }
                return Ok(false);
            }
        }
    }
    let total_pages = announced.as_ref().and_then(|a| a.pages);
    if let Some(records) = pager.finish() {
        if !sink.send(records, total_pages).await {
            return Ok(false);
        }
    }
    if let Some(warning) = announced.and_then(|a| a.disagreement(read)) {
        tracing::warn!(%warning, "RegNakes totals disagree with the read");
        sink.progress.upstream_warnings.borrow_mut().push(warning);
    }
    Ok(true)
}

/// Requests the read of what changed during a run may make at most: a registry changing faster than
/// this can be read is not settled, and nobody is marked missing.
const CHANGED_SINCE_MAX_REQUESTS: u64 = 1_000;

/// A record read only for its NIK.
#[derive(serde::Deserialize)]
struct NikOnly<'a> {
    #[serde(borrow, default)]
    nik: Option<std::borrow::Cow<'a, str>>,
}

/// The identities of the records changed since `since` (shortly before the run's pinned `until`), read
/// by key to the end with no upper bound, so a record changed while this reads moves ahead of it and is
/// met too. A complete full read may not have seen these (they moved as they changed, a renewal under a
/// new STR number), yet the registry has them: they are not missing.
pub async fn changed_since(
    ctx: &RunContext,
    since: chrono::DateTime<chrono::Utc>,
    trace_id: &str,
) -> Result<crate::rules::seen::ChangedDuring, RunError> {
    let client = RegnakesClient::new(ctx.settings.regnakes.clone(), ctx.metrics.clone());
    let mut cursor = ReadCursor::new(Some(since), ctx.settings.regnakes.page_size);
    let mut changed = crate::rules::seen::ChangedDuring::default();
    let today = crate::domain::time::jakarta_date(chrono::Utc::now());
    let mut requests = 0;
    while let Some(request) = cursor.next_request() {
        requests += 1;
        if requests > CHANGED_SINCE_MAX_REQUESTS {
            return Err(RunError::Fetch {
                page: requests,
                cause: format!(
                    "the records changed during the run took more than {CHANGED_SINCE_MAX_REQUESTS} requests to read"
                ),
            });
        }
        let query = PageQuery {
            updated_since: request.since,
            ..PageQuery::default()
        };
        let page = client
            .fetch_page(
                &query,
                request.page,
                requests,
                &format!("{trace_id}/changed"),
            )
            .await
            .map_err(|err| RunError::Fetch {
                page: requests,
                cause: err.to_string(),
            })?;
        for record in cursor.take(page.records) {
            let raw = record.get();
            if let Some(number) = crate::rules::record_keys::RecordKeys::of(&record).and_then(|k| {
                k.str_number()
                    .map(|n| crate::domain::sanitize::clean_text(n).into_owned())
            }) {
                changed.str_numbers.insert(number);
            }
            let nik = serde_json::from_str::<NikOnly>(raw)
                .ok()
                .and_then(|r| r.nik)
                .and_then(|nik| {
                    crate::domain::Nik::parse(&crate::domain::sanitize::clean_text(&nik), today)
                        .ok()
                });
            if let Some(nik) = nik {
                changed.nik_indexes.insert(ctx.indexer.index(&nik));
            }
        }
    }
    Ok(changed)
}
