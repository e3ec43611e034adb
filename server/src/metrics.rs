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
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let batches = Family::<StatusLabel, Counter>::default();
        let records = Family::<OutcomeLabel, Counter>::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        let batch_duration = Histogram::new([
            1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0,
        ]);
        let last_success = Gauge::<f64, AtomicU64>::default();
        let running = Gauge::default();
        let last_failure_ratio = Gauge::<f64, AtomicU64>::default();
        let upstream_requests = Family::<UpstreamLabel, Counter>::default();
        let upstream_retries = Counter::default();
        let integration_enabled = Gauge::default();
        let unchanged_fast_path = Counter::default();
        let failure_threshold = Gauge::<f64, AtomicU64>::default();
        let running_since = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "regnakes_sync_failure_threshold",
            "SYNC_FAILURE_THRESHOLD: the rejected share above which a batch is failed",
            failure_threshold.clone(),
        );
        registry.register(
            "regnakes_sync_running_started_timestamp_seconds",
            "Unix time the running batch started; 0 when none runs",
            running_since.clone(),
        );
        registry.register(
            "regnakes_sync_batches",
            "Finished sync batches by status",
            batches.clone(),
        );
        registry.register(
            "regnakes_sync_records",
            "Upstream records by outcome",
            records.clone(),
        );
        registry.register(
            "regnakes_sync_rejected",
            "Rejected records by reason",
            rejected.clone(),
        );
        registry.register(
            "regnakes_sync_batch_duration_seconds",
            "Duration of finished sync batches",
            batch_duration.clone(),
        );
        registry.register(
            "regnakes_sync_last_success_timestamp_seconds",
            "Unix time of the last succeeded or partial batch",
            last_success.clone(),
        );
        registry.register(
            "regnakes_sync_running",
            "1 while a sync runs (any instance sharing the database)",
            running.clone(),
        );
        registry.register(
            "regnakes_sync_last_batch_failure_ratio",
            "Rejected share of the last finished batch",
            last_failure_ratio.clone(),
        );
        registry.register(
            "regnakes_upstream_requests",
            "Requests to RegNakes by endpoint and HTTP status",
            upstream_requests.clone(),
        );
        registry.register(
            "regnakes_upstream_retries",
            "Retried RegNakes requests",
            upstream_retries.clone(),
        );
        registry.register(
            "regnakes_integration_enabled",
            "1 when the RegNakes integration is enabled",
            integration_enabled.clone(),
        );
        registry.register(
            "regnakes_sync_unchanged_fast_path_records",
            "Records found unchanged from their bytes alone (no transform, no matching); also counted as unchanged",
            unchanged_fast_path.clone(),
        );
        // Pre-create the label values so dashboards and alert rules see zeros rather than no data.
        for status in crate::domain::batch::BatchStatus::FINISHED {
            let _ = batches.get_or_create(&StatusLabel {
                status: status.code().into(),
            });
        }
        for outcome in ["inserted", "updated", "unchanged", "rejected"] {
            let _ = records.get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            });
        }
        for reason in crate::domain::RejectReason::ALL {
            let _ = rejected.get_or_create(&ReasonLabel {
                reason: reason.code().into(),
            });
        }
        for endpoint in UPSTREAM_ENDPOINTS {
            for status in UPSTREAM_STATUSES {
                let _ = upstream_requests.get_or_create(&UpstreamLabel {
                    endpoint: endpoint.into(),
                    status: status.into(),
                });
            }
        }
        Metrics {
            registry,
            batches,
            records,
            rejected,
            batch_duration,
            last_success,
            running,
            last_failure_ratio,
            upstream_requests,
            upstream_retries,
            integration_enabled,
            unchanged_fast_path,
            failure_threshold,
            running_since,
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
