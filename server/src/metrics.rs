//! Every metric of CONTRACT §4, named once. The Grafana dashboard and the Prometheus rules use these names.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabel {
    pub endpoint: String,
    pub status: String,
}

/// The upstream endpoints and statuses the server counts, pre-created at zero so `rate()` and
/// `increase()` see the first error (a series that appears at its first increment has no rate).
pub const UPSTREAM_ENDPOINTS: [&str; 2] = ["token", "nakes"];
pub const UPSTREAM_STATUSES: [&str; 9] = [
    "200", "400", "401", "429", "500", "502", "503", "504", "error",
];

pub struct Metrics {
    registry: Registry,
    pub batches: Family<StatusLabel, Counter>,
    pub records: Family<OutcomeLabel, Counter>,
    pub rejected: Family<ReasonLabel, Counter>,
    pub batch_duration: Histogram,
    pub last_success: Gauge<f64, AtomicU64>,
    pub running: Gauge,
    pub last_failure_ratio: Gauge<f64, AtomicU64>,
    pub upstream_requests: Family<UpstreamLabel, Counter>,
    pub upstream_retries: Counter,
    pub integration_enabled: Gauge,
    pub unchanged_fast_path: Counter,
    /// `SYNC_FAILURE_THRESHOLD`, so the failed-row alert compares with what the server uses.
    pub failure_threshold: Gauge<f64, AtomicU64>,
    /// When the running batch started (0 when none), for the stuck-sync alert.
    pub running_since: Gauge<f64, AtomicU64>,
    /// Stored workers the registry no longer has (`missing_since` set).
    pub workers_missing: Gauge,
    /// Record paths outside the mapping met for the first time: the upstream's shape changed.
    pub upstream_new_fields: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut metrics = Metrics {
            registry: Registry::default(),
            batches: Family::default(),
            records: Family::default(),
            rejected: Family::default(),
            batch_duration: Histogram::new([
                1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0,
            ]),
            last_success: Gauge::default(),
            running: Gauge::default(),
            last_failure_ratio: Gauge::default(),
            upstream_requests: Family::default(),
            upstream_retries: Counter::default(),
            integration_enabled: Gauge::default(),
            unchanged_fast_path: Counter::default(),
            failure_threshold: Gauge::default(),
            running_since: Gauge::default(),
            workers_missing: Gauge::default(),
            upstream_new_fields: Counter::default(),
        };
        metrics.register_batch_metrics();
        metrics.register_state_and_upstream_metrics();
        metrics.precreate_label_values();
        metrics
    }

    fn register_batch_metrics(&mut self) {
        let r = &mut self.registry;
        r.register(
            "regnakes_sync_batches",
            "Finished sync batches by status",
            self.batches.clone(),
        );
        r.register(
            "regnakes_sync_records",
            "Upstream records by outcome",
            self.records.clone(),
        );
        r.register(
            "regnakes_sync_rejected",
            "Rejected records by reason",
            self.rejected.clone(),
        );
        r.register(
            "regnakes_sync_batch_duration_seconds",
            "Duration of finished sync batches",
            self.batch_duration.clone(),
        );
        r.register(
            "regnakes_sync_last_batch_failure_ratio",
            "Rejected share of the last finished batch",
            self.last_failure_ratio.clone(),
        );
        r.register(
            "regnakes_sync_failure_threshold",
            "SYNC_FAILURE_THRESHOLD: the rejected share above which a batch is failed",
            self.failure_threshold.clone(),
        );
        r.register(
            "regnakes_sync_unchanged_fast_path_records",
            "Records found unchanged from their bytes alone (no transform, no matching); also counted as unchanged",
            self.unchanged_fast_path.clone(),
        );
    }

    fn register_state_and_upstream_metrics(&mut self) {
        let r = &mut self.registry;
        r.register(
            "regnakes_sync_last_success_timestamp_seconds",
            "Unix time of the last succeeded or partial batch",
            self.last_success.clone(),
        );
        r.register(
            "regnakes_sync_running",
            "1 while a sync runs (any instance sharing the database)",
            self.running.clone(),
        );
        r.register(
            "regnakes_sync_running_started_timestamp_seconds",
            "Unix time the running batch started; 0 when none runs",
            self.running_since.clone(),
        );
        r.register(
            "regnakes_integration_enabled",
            "1 when the RegNakes integration is enabled",
            self.integration_enabled.clone(),
        );
        r.register(
            "regnakes_upstream_requests",
            "Requests to RegNakes by endpoint and HTTP status",
            self.upstream_requests.clone(),
        );
        r.register(
            "regnakes_upstream_retries",
            "Retried RegNakes requests",
            self.upstream_retries.clone(),
        );
        r.register(
            "regnakes_upstream_new_fields",
            "Record fields outside the mapping that a batch met for the first time (the upstream's shape changed)",
            self.upstream_new_fields.clone(),
        );
        r.register(
            "regnakes_workers_missing",
            "Stored health workers the registry no longer has (marked by a complete full sync)",
            self.workers_missing.clone(),
        );
    }

    /// Every label value the server knows exists from the start, so dashboards and alert rules see
    /// zeros rather than no data (and `rate()` sees the first increment).
    fn precreate_label_values(&self) {
        for status in crate::domain::batch::BatchStatus::FINISHED {
            let _ = self.batches.get_or_create(&StatusLabel {
                status: status.code().into(),
            });
        }
        for outcome in ["inserted", "updated", "unchanged", "rejected"] {
            let _ = self.records.get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            });
        }
        for reason in crate::domain::RejectReason::ALL {
            let _ = self.rejected.get_or_create(&ReasonLabel {
                reason: reason.code().into(),
            });
        }
        for endpoint in UPSTREAM_ENDPOINTS {
            for status in UPSTREAM_STATUSES {
                let _ = self.upstream_requests.get_or_create(&UpstreamLabel {
                    endpoint: endpoint.into(),
                    status: status.into(),
                });
            }
        }
    }

    pub fn upstream_request(&self, endpoint: &str, status: &str) {
        self.upstream_requests
            .get_or_create(&UpstreamLabel {
                endpoint: endpoint.into(),
                status: status.into(),
            })
            .inc();
    }

    /// Sets the gauges that describe the shared state from a `sync.status` answer, so every instance
    /// reports the same, before and after a restart.
    pub fn set_shared_state(&self, status: &crate::domain::batch::SyncStatus) {
        let seconds = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis() as f64 / 1000.0;
        self.integration_enabled.set(i64::from(status.enabled));
        self.running.set(i64::from(status.running.is_some()));
        self.running_since.set(
            status
                .running
                .as_ref()
                .map_or(0.0, |b| seconds(b.started_at)),
        );
        if let Some(at) = status.last_success_at {
            self.last_success.set(seconds(at));
        }
        if let Some(last) = &status.last {
            self.last_failure_ratio.set(last.failure_rate);
        }
        self.workers_missing
            .set(i64::try_from(status.missing_workers).unwrap_or(i64::MAX));
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
