//! The memory RPC answers may take, shared by every caller (CONTRACT §3: the memory answers take is
//! bounded whatever the number of concurrent callers). A request reserves what its calls may answer
//! before it runs them (from each call's `limit`), takes more if an answer turns out larger, and holds
//! the reservation until its response body has been sent. A request that cannot get its share within
//! `WAIT` is told to retry (`-32029`, `Retry-After`); nothing grows the process without limit.
//!
//! When the last heavy answer of a burst is gone, the allocator is asked to hand its free memory back to
//! the operating system: otherwise glibc keeps the peak of a burst for the life of the process.

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use serde_json::Value;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of answers in flight at once, across all callers.
pub const DEFAULT_BUDGET_BYTES: usize = 32 * 1024 * 1024;
/// How long a request waits for its share before it is told to retry.
pub const WAIT: Duration = Duration::from_secs(5);
/// The unit permits are counted in (a semaphore counts at most `u32::MAX` permits).
const UNIT: usize = 1024;
/// Answers at least this large hand memory back to the OS when the budget is idle again.
const TRIM_AFTER: usize = 512 * 1024;

/// What one answer row may take, by method, for the reservation made before a call runs.
pub fn estimate(method: &str, params: &Value) -> usize {
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .clamp(1, 200) as usize;
    let per_row = match method {
        "batch.errors" | "batch.warnings" | "batch.list" => 1024,
        "worker.search" => 512,
        _ => return 4 * 1024,
    };
    limit * per_row + 1024
}

#[derive(Clone)]
pub struct AnswerBudget {
    permits: Arc<Semaphore>,
    total_units: usize,
}

/// A reservation: the bytes it holds go back to the budget when it is dropped.
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
    budget: AnswerBudget,
    bytes: usize,
}

/// The budget is spent: retry later.
#[derive(Debug)]
pub struct Exhausted;

fn units(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT))
        .unwrap_or(u32::MAX)
        .max(1)
}

impl AnswerBudget {
    pub fn new(bytes: usize) -> Self {
        let total_units = units(bytes) as usize;
        AnswerBudget {
            permits: Arc::new(Semaphore::new(total_units)),
            total_units,
        }
    }

    /// Reserves `bytes` (at most the whole budget), waiting at most `wait`.
    pub async fn reserve(&self, bytes: usize, wait: Duration) -> Result<Reservation, Exhausted> {
        let n = units(bytes).min(self.total_units as u32);
        let acquire = self.permits.clone().acquire_many_owned(n);
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Ok(Reservation {
                permit: Some(permit),
                budget: self.clone(),
                bytes,
            }),
            _ => Err(Exhausted),
        }
    }

    /// Bytes currently free.
    pub fn available(&self) -> usize {
        self.permits.available_permits() * UNIT
    }
}

impl Reservation {
    /// Grows the reservation to cover `bytes` in all, waiting at most `wait` for the difference. An
    /// answer larger than the whole budget takes all of it: it is answered, alone.
    pub async fn cover(&mut self, bytes: usize, wait: Duration) -> Result<(), Exhausted> {
        let held = self.permit.as_ref().map_or(0, |p| p.num_permits());
        let needed = (units(bytes) as usize).min(self.budget.total_units);
        if needed > held {
            let more = self.budget.reserve((needed - held) * UNIT, wait).await?;
            if let (Some(mine), Some(theirs)) = (self.permit.as_mut(), more.take_permit()) {
                mine.merge(theirs);
            }
        }
        self.bytes = self.bytes.max(bytes);
        Ok(())
    }

    fn take_permit(mut self) -> Option<OwnedSemaphorePermit> {
        self.permit.take()
    }

    /// A response body that keeps this reservation until it has been sent.
    pub fn body(self, bytes: Bytes) -> BudgetedBody {
        BudgetedBody {
            bytes: Some(bytes),
            _reservation: self,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        drop(permit);
        let idle = self.budget.permits.available_permits() == self.budget.total_units;
        if idle && self.bytes >= TRIM_AFTER {
            release_free_memory();
        }
    }
}

/// Hands the allocator's free memory back to the operating system (glibc keeps it otherwise).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim only returns free pages of glibc's heaps to the kernel; it takes no pointer
    // and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}

/// A response body sent whole, holding its budget reservation until actix drops it.
pub struct BudgetedBody {
    bytes: Option<Bytes>,
    _reservation: Reservation,
}

impl MessageBody for BudgetedBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.bytes.take().map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn reservations_share_one_budget_and_come_back_when_dropped() {
        let budget = AnswerBudget::new(100 * UNIT);
        let a = budget.reserve(60 * UNIT, WAIT).await.unwrap();
        assert!(
            budget
                .reserve(60 * UNIT, Duration::from_millis(20))
                .await
                .is_err(),
            "40 units left"
        );
        let mut b = budget.reserve(30 * UNIT, WAIT).await.unwrap();
        assert!(b.cover(50 * UNIT, Duration::from_millis(20)).await.is_err());
        b.cover(40 * UNIT, WAIT).await.unwrap();
        assert_eq!(budget.available(), 0);
        drop(a);
        drop(b);
        assert_eq!(budget.available(), 100 * UNIT);
        let mut whole = budget.reserve(500 * UNIT, WAIT).await.unwrap();
        whole.cover(800 * UNIT, WAIT).await.unwrap();
        assert_eq!(
            budget.available(),
            0,
            "a larger answer takes the whole budget, alone"
        );
        assert!(budget
            .reserve(UNIT, Duration::from_millis(20))
            .await
            .is_err());
    }

    #[test]
    fn estimates_follow_the_limit() {
        let p = serde_json::json!({"limit": 200});
        assert_eq!(estimate("batch.errors", &p), 200 * 1024 + 1024);
        assert_eq!(
            estimate("batch.errors", &serde_json::json!({"limit": 100000})),
            200 * 1024 + 1024
        );
        assert_eq!(estimate("sync.status", &Value::Null), 4 * 1024);
    }
}
