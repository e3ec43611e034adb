//! Abuse limits of the RPC surface (CONTRACT §3). Authenticated calls are limited per caller (`sub`), so
//! every Odoo user behind one address has a budget of their own, and each call of a batch is charged.
//! Requests that fail authentication are limited per peer address on a budget of their own, so a flood of
//! bad tokens never touches a valid caller's. Both maps are pruned, so they stay bounded.

pub use crate::config::LimitSettings;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Limits {
    per_caller: DefaultKeyedRateLimiter<String>,
    auth_failures: DefaultKeyedRateLimiter<IpAddr>,
}

/// Refused: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for `Retry-After`, at least 1.
    pub fn seconds(self) -> u64 {
        (self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)).max(1)
    }
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let nonzero = |n: u32| NonZeroU32::new(n.max(1)).expect("max(1) is not zero");
    Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst))
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        Limits {
            per_caller: RateLimiter::keyed(quota(settings.calls_per_second, settings.calls_burst)),
            auth_failures: RateLimiter::keyed(quota(
                settings.auth_failures_per_second,
                settings.auth_failures_burst,
            )),
        }
    }

    /// Charges `calls` calls to an authenticated caller.
    pub fn charge_caller(&self, sub: &str, calls: usize) -> Result<(), RetryAfter> {
        let n = NonZeroU32::new(u32::try_from(calls).unwrap_or(u32::MAX).max(1))
            .expect("max(1) is not zero");
        match self.per_caller.check_key_n(&sub.to_string(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(RetryAfter(
                not_until.wait_time_from(governor::clock::DefaultClock::default().now()),
            )),
            // More calls at once than the burst allows: never, so "a minute" is an honest answer.
            Err(_) => Err(RetryAfter(Duration::from_secs(60))),
        }
    }

    /// Charges one failed authentication to the peer address.
    pub fn charge_auth_failure(&self, peer: IpAddr) -> Result<(), RetryAfter> {
        self.auth_failures.check_key(&peer).map_err(|not_until| {
            RetryAfter(not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
        })
    }

    /// Forgets callers and addresses whose budget is full again (they would start afresh anyway).
    pub fn prune(&self) {
        self.per_caller.retain_recent();
        self.per_caller.shrink_to_fit();
        self.auth_failures.retain_recent();
        self.auth_failures.shrink_to_fit();
    }

    /// Callers and addresses currently remembered.
    pub fn tracked(&self) -> usize {
        self.per_caller.len() + self.auth_failures.len()
    }
}

/// Prunes the limiters every minute until the server stops, so their memory stays bounded by the callers
/// and addresses of the last minute.
pub async fn prune_until_stopped(limits: std::sync::Arc<Limits>) {
    loop {
        actix_rt::time::sleep(Duration::from_secs(60)).await;
        limits.prune();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn limits(per_second: u32, burst: u32) -> Limits {
        Limits::new(LimitSettings {
            calls_per_second: per_second,
            calls_burst: burst,
            auth_failures_per_second: per_second,
            auth_failures_burst: 3,
        })
    }

    #[test]
    fn each_call_of_a_batch_is_charged_to_its_caller_only() {
        let limits = limits(1, 60);
        assert!(limits.charge_caller("siti", 50).is_ok());
        assert!(limits.charge_caller("siti", 50).is_err(), "60 a burst");
        assert!(limits.charge_caller("budi", 50).is_ok(), "budi has his own");
        let refused = limits.charge_caller("siti", 500).unwrap_err();
        assert!(refused.seconds() >= 1);
    }

    #[test]
    fn failed_authentication_has_a_budget_of_its_own() {
        let limits = limits(1, 10);
        let peer = IpAddr::from([127, 0, 0, 1]);
        let refused = (0..10)
            .filter(|_| limits.charge_auth_failure(peer).is_err())
            .count();
        assert_eq!(refused, 7, "3 a burst");
        assert!(limits.charge_caller("siti", 1).is_ok());
    }

    #[test]
    fn pruning_forgets_whoever_is_back_to_a_full_budget() {
        let limits = limits(1000, 1);
        for i in 0..500 {
            let _ = limits.charge_caller(&format!("user-{i}"), 1);
            let _ = limits.charge_auth_failure(IpAddr::from([10, 0, (i / 256) as u8, i as u8]));
        }
        assert!(limits.tracked() >= 500);
        // A budget of 1 call refills in a millisecond; poll until every key is forgotten.
        let deadline = Instant::now() + Duration::from_secs(5);
        while limits.tracked() > 0 {
            assert!(
                Instant::now() < deadline,
                "{} still tracked",
                limits.tracked()
            );
            limits.prune();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
