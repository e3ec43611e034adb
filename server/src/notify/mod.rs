//! Outbound notifications after a batch: the Slack alert (one per failure streak, plus "recovered") and
//! the Odoo sync notification, signed as CONTRACT §3 says (`X-RegNakes-Signature`). Delivery is retried a
//! few times and never fails the batch.

use crate::config::Secret;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// The header Odoo's receiver checks.
pub const SIGNATURE_HEADER: &str = "X-RegNakes-Signature";

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with `ODOO_NOTIFY_SECRET` (its own key:
/// whoever can verify tokens cannot forge notifications, and the other way round).
pub fn signature(secret: &Secret, unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts a key of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    None,
    Failing,
    Recovered,
}

/// The streak rule: alert when a failure streak starts, and once more when it ends.
pub fn alert_action(alerting: bool, failed: bool) -> AlertAction {
    match (alerting, failed) {
        (false, true) => AlertAction::Failing,
        (true, false) => AlertAction::Recovered,
        _ => AlertAction::None,
    }
}

#[derive(Clone)]
pub struct Notifier {
    pub slack_webhook_url: Option<Secret>,
    /// Odoo's receiver and the secret its notifications are signed with (`ODOO_NOTIFY_URL`,
    /// `ODOO_NOTIFY_SECRET`; the settings require the secret with the URL).
    pub odoo: Option<(String, Secret)>,
}

/// A Slack incoming-webhook message (`{"text": …, "blocks": …}`) for a batch.
pub fn slack_message(action: AlertAction, batch: &Value) -> Value {
    let field = |k: &str| {
        batch
            .get(k)
            .map(|v| v.to_string().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let headline = match action {
        AlertAction::Recovered => format!(
            ":white_check_mark: RegNakes sync recovered: batch {} {}",
            field("id"),
            field("status")
        ),
        _ => format!(
            ":rotating_light: RegNakes sync {}: {}",
            field("status"),
            field("error")
        ),
    };
    let details = format!(
        "batch `{}` · trace `{}` · trigger {} · received {} · inserted {} · updated {} · unchanged {} · rejected {} ({:.1}%)",
        field("id"),
        field("trace_id"),
        field("trigger"),
        field("received"),
        field("inserted"),
        field("updated"),
        field("unchanged"),
        field("rejected"),
        batch.get("failure_rate").and_then(Value::as_f64).unwrap_or(0.0) * 100.0,
    );
    json!({
        "text": format!("{headline}\n{details}"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": details}]}
        ]
    })
}

/// The events Odoo is told of (CONTRACT §3): every batch's start and end, however it was started and
/// however it ended.
pub const BATCH_STARTED: &str = "regnakes.batch_started";
pub const BATCH_FINISHED: &str = "regnakes.batch_finished";

impl Notifier {
    /// Tells Odoo a batch started (wherever it was started: Odoo, the schedule, the CLI, another Odoo).
    pub async fn batch_started(&self, batch: Value, trace_id: String) {
        self.tell_odoo(BATCH_STARTED, batch, &trace_id).await;
    }

    async fn tell_odoo(&self, event: &str, batch: Value, trace_id: &str) {
        if let Some((url, secret)) = &self.odoo {
            let body = json!({"event": event, "batch": batch});
            deliver("odoo", url, &body, trace_id, Some(secret)).await;
        }
    }

    pub async fn batch_finished(&self, batch: Value, action: AlertAction, trace_id: String) {
        self.tell_odoo(BATCH_FINISHED, batch.clone(), &trace_id)
            .await;
        if action != AlertAction::None {
            match &self.slack_webhook_url {
                Some(url) => {
                    let message = slack_message(action, &batch);
                    deliver("slack", url.expose(), &message, &trace_id, None).await
                }
                None => tracing::warn!(
                    ?action,
                    "no SLACK_WEBHOOK_URL configured; alert only in logs and metrics"
                ),
            }
        }
    }
}

/// POSTs `body` up to four times; with `sign_with`, each attempt is signed afresh (so a late retry is not
/// refused for an old timestamp) over the exact bytes sent.
async fn deliver(
    target: &'static str,
    url: &str,
    body: &Value,
    trace_id: &str,
    sign_with: Option<&Secret>,
) {
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(crate::tls::outbound_config()))
        .timeout(Duration::from_secs(10))
        .finish();
    let bytes = body.to_string();
    for attempt in 1..=4u32 {
        let mut request = client
            .post(url)
            .insert_header(("X-Request-ID", trace_id))
            .content_type("application/json");
        if let Some(secret) = sign_with {
            let now = chrono::Utc::now().timestamp();
            request =
                request.insert_header((SIGNATURE_HEADER, signature(secret, now, bytes.as_bytes())));
        }
        let result = request.send_body(bytes.clone()).await;
        match result {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                tracing::warn!(
                    target,
                    attempt,
                    status = response.status().as_u16(),
                    trace_id,
                    "notification refused"
                )
            }
            // The URL of a Slack webhook is a secret: the error's display may contain it, so log its kind only.
            Err(err) => tracing::warn!(
                target,
                attempt,
                trace_id,
                error = err_kind(&err),
                "notification failed"
            ),
        }
        if attempt < 4 {
            actix_rt::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
    }
    tracing::error!(
        target,
        trace_id,
        "notification not delivered after 4 attempts"
    );
}

fn err_kind(err: &awc::error::SendRequestError) -> &'static str {
    use awc::error::SendRequestError as E;
    match err {
        E::Connect(_) => "connect",
        E::Timeout => "timeout",
        E::Send(_) => "send",
        E::Response(_) => "response",
        _ => "request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference value: `printf '1764150000.{"a":1}' | openssl dgst -sha256 -hmac s3cret`.
        let header = signature(&Secret::new("s3cret"), 1_764_150_000, br#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1764150000,v1=657ae93167cebbc3125e7c418ce45abc7d88a52f9b2f51453857a5a32f62c948"
        );
    }

    #[test]
    fn one_alert_per_streak() {
        assert_eq!(alert_action(false, true), AlertAction::Failing);
        assert_eq!(alert_action(true, true), AlertAction::None);
        assert_eq!(alert_action(true, false), AlertAction::Recovered);
        assert_eq!(alert_action(false, false), AlertAction::None);
    }
}
