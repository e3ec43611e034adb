//! What is retried, and how long to wait: decided here, apart from the transport (CONTRACT §1, issue:
//! connection errors, timeouts, 5xx, 429 and unparseable pages are retried at most 3 times with
//! exponential backoff and jitter, honouring `Retry-After`; other 4xx are not).

use std::time::Duration;

/// The outcome of one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Worth trying again; `retry_after` is what the upstream asked for.
    Transient {
        cause: String,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help.
    Permanent { cause: String },
}

/// Classifies an HTTP status (the body was already read, so a garbage body is the caller's `Transient`).
pub fn classify_status(status: u16, retry_after: Option<Duration>, cause: String) -> Attempt {
    match status {
        429 | 500..=599 | 408 => Attempt::Transient { cause, retry_after },
        _ => Attempt::Permanent { cause },
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base_delay: Duration,
    pub max_retries: u32,
    /// Upper bound on any single wait, including an upstream's `Retry-After`.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): base × 2^(retry-1), with ±50 % jitter, or the
    /// upstream's `Retry-After` when it asks for longer.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1 << (retry.saturating_sub(1)).min(16));
        let jittered = exp.mul_f64(0.5 + fastrand::f64());
        let wait = match retry_after {
            Some(asked) if asked > jittered => asked,
            _ => jittered,
        };
        wait.min(self.max_delay)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for rate limits and is treated as absent).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let cases = [
            (500, true),
            (502, true),
            (503, true),
            (429, true),
            (408, true),
            (400, false),
            (403, false),
            (404, false),
            (422, false),
        ];
        for (status, transient) in cases {
            let got = classify_status(status, None, String::new());
            assert_eq!(
                matches!(got, Attempt::Transient { .. }),
                transient,
                "status {status}"
            );
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_retries: 3,
            max_delay: Duration::from_secs(5),
        };
        for retry in 1..=3u32 {
            let nominal = 100.0 * f64::from(1u32 << (retry - 1));
            let got = policy.delay(retry, None).as_secs_f64() * 1000.0;
            assert!(
                got >= nominal * 0.5 && got <= nominal * 1.5,
                "retry {retry}: {got} ms"
            );
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }
}
