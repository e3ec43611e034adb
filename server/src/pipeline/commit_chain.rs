//! The ordered commit chain: pages are stored one after another with one page in flight, so page n+1 is
//! decided and written while page n is still writing, yet the store only ever shows whole pages in order.
//!
//! The invariant, kept by the chain and the `Handoff` each page's task gets:
//! 1. page n+1 starts only after page n has *decided* (`Handoff::decided`), and is given what page n
//!    writes, to check its own reads against (`PreparedPage::revalidate`);
//! 2. page n+1 commits only after page n has *committed* (`Handoff::after`); if page n fails, stops or is
//!    cancelled, its commit signal is dropped or `false`, and page n+1 rolls back;
//! 3. at most one page is in flight: the caller finishes page n (takes its outcome in) before it takes
//!    page n+2, so a failure or a cancel stops the run at a page boundary.

use crate::rules::page::Written;
use crate::store::page::Handoff;
use futures_util::future::{self, Either};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

/// A page's task ended: its number and what it returned.
#[derive(Debug)]
pub struct Finished<T> {
    pub page: i64,
    pub result: Result<T, JoinError>,
}

/// A page being stored, in a task of its own.
struct InFlight<T> {
    page: i64,
    task: JoinHandle<T>,
    /// What it writes, once decided; taken when the next page is linked to it.
    decided: Option<oneshot::Receiver<Written>>,
    /// Its commit, handed to the next page.
    committed: Option<oneshot::Receiver<bool>>,
}

impl<T> InFlight<T> {
    async fn finish(self) -> Finished<T> {
        Finished {
            page: self.page,
            result: self.task.await,
        }
    }
}

/// What racing the next page against the page in flight gave first.
pub enum Raced<N, T> {
    /// The next page is ready; the page in flight is still in flight.
    Next(N),
    /// The page in flight ended first (the next page's future is still pending).
    Finished(Finished<T>),
}

/// The next page's side of the chain: the `Handoff` its task gets, and what the page in flight writes.
pub struct Link {
    pub handoff: Handoff,
    /// What the page in flight writes (none when no page is in flight).
    pub previous_writes: Option<Written>,
    decided: oneshot::Receiver<Written>,
    committed: oneshot::Receiver<bool>,
}

/// The chain's end of a started page: kept until the page after it is linked.
pub struct Started {
    decided: oneshot::Receiver<Written>,
    committed: oneshot::Receiver<bool>,
}

impl Link {
    /// Splits the link into the task's `Handoff` and what `CommitChain::start` keeps.
    pub fn split(self) -> (Handoff, Option<Written>, Started) {
        (
            self.handoff,
            self.previous_writes,
            Started {
                decided: self.decided,
                committed: self.committed,
            },
        )
    }
}

/// One page in flight at most, linked to the page before it (module comment).
pub struct CommitChain<T> {
    in_flight: Option<InFlight<T>>,
}

impl<T> Default for CommitChain<T> {
    fn default() -> Self {
        CommitChain { in_flight: None }
    }
}

impl<T> CommitChain<T> {
    /// Waits for whichever comes first: the next page (`following`, pinned by the caller so that it can
    /// still be awaited after the page in flight ended), or the end of the page in flight.
    pub async fn race<F>(&mut self, following: Pin<&mut F>) -> Raced<F::Output, T>
    where
        F: Future,
    {
        let Some(mut flight) = self.in_flight.take() else {
            return Raced::Next(following.await);
        };
        match future::select(following, &mut flight.task).await {
            Either::Left((next, _)) => {
                self.in_flight = Some(flight);
                Raced::Next(next)
            }
            Either::Right((result, _)) => Raced::Finished(Finished {
                page: flight.page,
                result,
            }),
        }
    }

    /// Links the next page to the page in flight once that page has decided. A page in flight that
    /// ended before deciding (or was linked to already) is finished here instead (`Err`): its result
    /// says why, and the next link has no page before it.
    pub async fn link(&mut self) -> Result<Link, Finished<T>> {
        let (decided_tx, decided) = oneshot::channel();
        let (committed_tx, committed) = oneshot::channel();
        let mut link = Link {
            handoff: Handoff {
                after: None,
                decided: decided_tx,
                committed: committed_tx,
            },
            previous_writes: None,
            decided,
            committed,
        };
        let Some(flight) = self.in_flight.as_mut() else {
            return Ok(link);
        };
        let written = match flight.decided.take() {
            Some(decided) => decided.await.ok(),
            None => None,
        };
        match written {
            Some(written) => {
                link.previous_writes = Some(written);
                link.handoff.after = flight.committed.take();
                Ok(link)
            }
            None => match self.in_flight.take() {
                Some(flight) => Err(flight.finish().await),
                None => Ok(link),
            },
        }
    }

    /// Puts `page` (its task started with the `Handoff` of a link from this chain) in flight and returns
    /// the page that was in flight: the caller finishes it (`finish`) before taking the next page.
    pub fn start(
        &mut self,
        page: i64,
        task: JoinHandle<T>,
        started: Started,
    ) -> Option<PageBefore<T>> {
        let before = self.in_flight.replace(InFlight {
            page,
            task,
            decided: Some(started.decided),
            committed: Some(started.committed),
        });
        before.map(PageBefore)
    }

    /// Waits for the page in flight, if any (at the end of a run, or after a failure so that the page
    /// waiting on the failed one has rolled back before the run ends).
    pub async fn drain(&mut self) -> Option<Finished<T>> {
        match self.in_flight.take() {
            Some(flight) => Some(flight.finish().await),
            None => None,
        }
    }
}

/// The page before the one just started.
pub struct PageBefore<T>(InFlight<T>);

impl<T> PageBefore<T> {
    pub async fn finish(self) -> Finished<T> {
        self.0.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A stand-in for `store_page`: decides at once, waits `work`, waits for the page before's commit,
    /// then "commits" (records its number) unless told to fail; returns whether it committed.
    fn page_task(
        page: i64,
        handoff: Handoff,
        work: u64,
        fail: bool,
        commits: Arc<Mutex<Vec<i64>>>,
    ) -> JoinHandle<bool> {
        tokio::task::spawn_local(async move {
            let Handoff {
                after,
                decided,
                committed,
            } = handoff;
            let _ = decided.send(Written::default());
            tokio::time::sleep(std::time::Duration::from_millis(work)).await;
            let before_ok = match after {
                None => true,
                Some(after) => after.await.unwrap_or(false),
            };
            if fail || !before_ok {
                return false; // rolled back; `committed` is dropped
            }
            commits.lock().unwrap().push(page);
            let _ = committed.send(true);
            true
        })
    }

    /// Runs pages through the chain as `store_pages` does; returns each page's result in order.
    async fn run(pages: &[(u64, bool)], commits: Arc<Mutex<Vec<i64>>>) -> Vec<(i64, bool)> {
        let mut chain = CommitChain::default();
        let mut results = Vec::new();
        for (n, &(work, fail)) in pages.iter().enumerate() {
            let page = n as i64 + 1;
            let link = match chain.link().await {
                Ok(link) => link,
                Err(finished) => {
                    results.push((finished.page, finished.result.unwrap()));
                    chain.link().await.ok().unwrap()
                }
            };
            let (handoff, _, started) = link.split();
            let task = page_task(page, handoff, work, fail, commits.clone());
            if let Some(before) = chain.start(page, task, started) {
                let finished = before.finish().await;
                results.push((finished.page, finished.result.unwrap()));
            }
        }
        if let Some(finished) = chain.drain().await {
            results.push((finished.page, finished.result.unwrap()));
        }
        results
    }

    #[actix_rt::test]
    async fn pages_commit_in_order_even_when_a_later_one_is_quicker() {
        let commits = Arc::new(Mutex::new(Vec::new()));
        let results = run(
            &[(40, false), (0, false), (20, false), (0, false)],
            commits.clone(),
        )
        .await;
        assert_eq!(*commits.lock().unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(results, vec![(1, true), (2, true), (3, true), (4, true)]);
    }

    #[actix_rt::test]
    async fn the_page_after_a_failed_one_rolls_back() {
        let commits = Arc::new(Mutex::new(Vec::new()));
        let results = run(&[(0, false), (10, true), (0, false)], commits.clone()).await;
        assert_eq!(*commits.lock().unwrap(), vec![1]);
        assert_eq!(results, vec![(1, true), (2, false), (3, false)]);
    }

    #[actix_rt::test]
    async fn a_page_that_stops_before_deciding_is_finished_by_the_link() {
        let mut chain: CommitChain<&'static str> = CommitChain::default();
        let (handoff, _, started) = chain.link().await.ok().unwrap().split();
        // The task ends without deciding: its `decided` sender is dropped.
        let task = tokio::task::spawn_local(async move {
            drop(handoff);
            "stopped"
        });
        assert!(chain.start(1, task, started).is_none());
        let finished = chain
            .link()
            .await
            .err()
            .expect("the stopped page is finished");
        assert_eq!((finished.page, finished.result.unwrap()), (1, "stopped"));
        // The next link has nothing before it.
        let link = chain.link().await.ok().unwrap();
        assert!(link.handoff.after.is_none() && link.previous_writes.is_none());
    }

    #[actix_rt::test]
    async fn racing_returns_the_end_of_the_page_in_flight_without_losing_the_next_page() {
        let mut chain: CommitChain<i64> = CommitChain::default();
        let (_handoff, _, started) = chain.link().await.ok().unwrap().split();
        assert!(chain
            .start(1, tokio::task::spawn_local(async { 1 }), started)
            .is_none());
        let (tx, rx) = oneshot::channel::<&str>();
        let following = rx;
        futures_util::pin_mut!(following);
        match chain.race(following.as_mut()).await {
            Raced::Finished(finished) => assert_eq!(finished.result.unwrap(), 1),
            Raced::Next(_) => panic!("nothing was sent yet"),
        }
        tx.send("page 2").unwrap();
        assert_eq!(following.await.unwrap(), "page 2");
        match chain.race(std::pin::pin!(async { "page 3" })).await {
            Raced::Next(next) => assert_eq!(next, "page 3"),
            Raced::Finished(_) => panic!("no page is in flight"),
        }
    }
}
