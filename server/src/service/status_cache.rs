//! The last `sync.status` answer, shared by the requests of a short window: under hundreds of requests a
//! second, one computes it and the rest are served the copy.

/// `sync.status` is polled by dashboards; under load it is answered from a copy at most this old (plus,
/// while one request refreshes it, that refresh's time: the others are not queued behind it). This
/// instance's own changes (start, finish, cancel, enable) drop the copy at once.
const STATUS_TTL: std::time::Duration = std::time::Duration::from_millis(200);

/// The last `sync.status` answer, refreshed by one request at a time.
pub struct StatusCache<T>(std::sync::Mutex<StatusCacheState<T>>);

struct StatusCacheState<T> {
    answer: Option<(std::time::Instant, T)>,
    /// Bumped by every invalidation: a refresh that began before it must not store its answer.
    generation: u64,
    refreshing: bool,
}

pub(super) enum StatusLookup<'a, T> {
    Answer(T),
    /// Compute the answer and give it to the refresh.
    Refresh(StatusRefresh<'a, T>),
}

/// The one refresh in flight; dropped without an answer (an error, a request cancelled mid-way), it
/// ends and the next request refreshes.
pub(super) struct StatusRefresh<'a, T> {
    cache: &'a StatusCache<T>,
    generation: u64,
}

impl<T> StatusRefresh<'_, T> {
    pub(super) fn finish(self, answer: T) {
        // Dropping `self` afterwards only ends the refresh again.
        self.cache.put(self.generation, Some(answer));
    }
}

impl<T> Drop for StatusRefresh<'_, T> {
    fn drop(&mut self) {
        self.cache.put(self.generation, None);
    }
}

impl<T> Default for StatusCache<T> {
    fn default() -> Self {
        StatusCache(std::sync::Mutex::new(StatusCacheState {
            answer: None,
            generation: 0,
            refreshing: false,
        }))
    }
}

impl<T: Clone> StatusCache<T> {
    pub(super) fn lookup(&self) -> StatusLookup<'_, T> {
        let mut state = self.0.lock().expect("status cache lock");
        if let Some((at, answer)) = &state.answer {
            if at.elapsed() < STATUS_TTL || state.refreshing {
                return StatusLookup::Answer(answer.clone());
            }
        }
        state.refreshing = true;
        StatusLookup::Refresh(StatusRefresh {
            cache: self,
            generation: state.generation,
        })
    }
}

impl<T> StatusCache<T> {
    /// Stores a computed answer (`None`: the refresh failed) and ends the refresh.
    fn put(&self, generation: u64, answer: Option<T>) {
        let mut state = self.0.lock().expect("status cache lock");
        state.refreshing = false;
        if let Some(answer) = answer.filter(|_| state.generation == generation) {
            state.answer = Some((std::time::Instant::now(), answer));
        }
    }

    pub fn invalidate(&self) {
        let mut state = self.0.lock().expect("status cache lock");
        state.answer = None;
        state.generation += 1;
    }
}

/// A run tells the cache when what `sync.status` shows changes.
impl<T: Send> crate::pipeline::run::StatusListener for StatusCache<T> {
    fn status_changed(&self) {
        self.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn refresh(cache: &StatusCache<Value>) -> StatusRefresh<'_, Value> {
        match cache.lookup() {
            StatusLookup::Refresh(refresh) => refresh,
            StatusLookup::Answer(answer) => panic!("expected a refresh, got {answer}"),
        }
    }

    fn answer(cache: &StatusCache<Value>) -> Option<Value> {
        match cache.lookup() {
            StatusLookup::Answer(answer) => Some(answer),
            StatusLookup::Refresh(_) => None,
        }
    }

    fn age(cache: &StatusCache<Value>, by: std::time::Duration) {
        let mut state = cache.0.lock().unwrap();
        if let Some((at, _)) = state.answer.as_mut() {
            *at -= by;
        }
    }

    #[test]
    fn one_request_refreshes_while_the_others_get_the_last_answer() {
        let cache = StatusCache::default();
        refresh(&cache).finish(json!(1));
        assert_eq!(answer(&cache), Some(json!(1)), "fresh: served");

        age(&cache, STATUS_TTL);
        let first = refresh(&cache);
        assert_eq!(
            answer(&cache),
            Some(json!(1)),
            "stale, but being refreshed: the last answer, no second query"
        );
        first.finish(json!(2));
        assert_eq!(answer(&cache), Some(json!(2)));
    }

    #[test]
    fn a_failed_or_cancelled_refresh_lets_the_next_request_refresh() {
        let cache = StatusCache::default();
        refresh(&cache).finish(json!(1));
        age(&cache, STATUS_TTL);
        drop(refresh(&cache));
        assert_eq!(answer(&cache), None, "the next request refreshes");
    }

    #[test]
    fn an_invalidation_wins_over_a_refresh_begun_before_it() {
        let cache = StatusCache::default();
        let before = refresh(&cache);
        cache.invalidate();
        before.finish(json!("before the change"));
        assert_eq!(
            answer(&cache),
            None,
            "an answer from before the change is not kept"
        );
        refresh(&cache).finish(json!("after"));
        assert_eq!(answer(&cache), Some(json!("after")));
    }
}
