//! Reading a window by key (CONTRACT §1): the registry is live, so a record changed while we page moves to
//! the end of the order (or out of a window pinned by `updated_until`) and every record after its old
//! place moves one earlier; walking `page=1,2,3…` alone would skip one record at a page boundary for each
//! record changed behind it. Instead each request asks again from the last `updated_at` read
//! (`updated_since` is inclusive) and passes over the records of that instant it has already read.
//! A run of records sharing one `updated_at` longer than a page is walked with `page=2,3…` from that
//! instant, where only a change inside that very run could shift it.
//!
//! Pure: the cursor decides the next request and which records of an answer are new; the pipeline does
//! the I/O. What it hands on is re-cut into pages of the page size, so page boundaries (which matching
//! sees, CONTRACT §2) are those of a plain page walk whenever nothing changes during the read.

use crate::regnakes::RawRecord;
use crate::rules::record_keys::RecordKeys;
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashMapExt};

/// The next request of a read: from `since` (inclusive), page `page` of that answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub since: Option<DateTime<Utc>>,
    pub page: u64,
}

#[derive(Debug)]
pub struct ReadCursor {
    limit: usize,
    next: Request,
    /// The latest `updated_at` read, and how many records of each identity were read at that instant.
    at: Option<DateTime<Utc>>,
    read_at: HashMap<String, u32>,
    done: bool,
}

/// A record's place in the upstream order: its `updated_at` (when readable) and an identity among the
/// records of that instant (its STR number as sent, else its bytes).
fn key_of(raw: &RawRecord) -> (Option<DateTime<Utc>>, String) {
    let Some(keys) = RecordKeys::of(raw) else {
        return (None, raw.get().to_string());
    };
    let identity = keys.str_number().unwrap_or(raw.get()).to_string();
    (keys.updated_at(), identity)
}

impl ReadCursor {
    /// A read of the window starting at `since` (`None`: from the beginning), `limit` records a request.
    pub fn new(since: Option<DateTime<Utc>>, limit: u32) -> ReadCursor {
        ReadCursor {
            limit: limit.max(1) as usize,
            next: Request { since, page: 1 },
            at: None,
            read_at: HashMap::new(),
            done: false,
        }
    }

    pub fn next_request(&self) -> Option<Request> {
        (!self.done).then_some(self.next)
    }

    /// Takes one answer to `next_request`: returns the records not read before, and decides the request
    /// after it (none after a short or empty answer: the window has no more records). Only the records
    /// at either end of an answer are read for their keys (the ones passed over, and the last instant's),
    /// so a page costs a few key reads, not one per record.
    pub fn take(&mut self, records: Vec<RawRecord>) -> Vec<RawRecord> {
        let full = records.len() >= self.limit;
        let first_at = records.first().and_then(|r| key_of(r).0);
        let passed_over = self.passed_over(&records);
        let (tail_at, tail) = last_instant(&records, &passed_over);
        match tail_at {
            Some(at) if Some(at) > self.at => {
                self.at = Some(at);
                self.read_at.clear();
            }
            _ => {}
        }
        if tail_at.is_none() || tail_at == self.at {
            for identity in tail {
                *self.read_at.entry(identity).or_default() += 1;
            }
        }
        self.done = !full;
        if !self.done {
            self.next = self.after(first_at);
        }
        records
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !passed_over.contains(i))
            .map(|(_, raw)| raw)
            .collect()
    }

    /// The positions of the records of an answer read already: an answer from the instant last read
    /// starts with that instant's records, each identity passed over as many times as it was read (a
    /// duplicated STR number may repeat).
    fn passed_over(&self, records: &[RawRecord]) -> Vec<usize> {
        if self.next.page != 1 || self.next.since.is_none() || self.next.since != self.at {
            return Vec::new();
        }
        let mut left = self.read_at.clone();
        let mut positions = Vec::new();
        for (i, raw) in records.iter().enumerate() {
            if left.is_empty() {
                break;
            }
            let (at, identity) = key_of(raw);
            if at.or(self.at) != self.at {
                break;
            }
            if let Some(n) = left.get_mut(&identity) {
                *n -= 1;
                if *n == 0 {
                    left.remove(&identity);
                }
                positions.push(i);
            }
        }
        positions
    }
}

/// The instant of an answer's last records, and their identities (what the next answer, asked from that
/// instant, repeats first), passing over the positions in `skip`. Records whose time cannot be read are
/// taken for that instant.
fn last_instant(records: &[RawRecord], skip: &[usize]) -> (Option<DateTime<Utc>>, Vec<String>) {
    let mut at = None;
    let mut identities = Vec::new();
    for (_, raw) in records
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| !skip.contains(i))
    {
        let (this, identity) = key_of(raw);
        match (this, at) {
            (Some(this), None) => at = Some(this),
            (Some(this), Some(last)) if this != last => break,
            _ => {}
        }
        identities.push(identity);
    }
    (at, identities)
}

impl ReadCursor {
    /// The request after a full answer whose first record was at `first_at`.
    fn after(&self, first_at: Option<DateTime<Utc>>) -> Request {
        let Some(at) = self.at else {
            // No readable time at all: walk the pages.
            return Request {
                since: self.next.since,
                page: self.next.page + 1,
            };
        };
        if Some(at) == self.next.since {
            // Inside one instant's run of records longer than a page: its next page.
            return Request {
                since: self.next.since,
                page: self.next.page + 1,
            };
        }
        if self.next.page == 1 && first_at == Some(at) {
            // An answer wholly of one instant it did not start from holds that instant's first records.
            return Request {
                since: Some(at),
                page: 2,
            };
        }
        Request {
            since: Some(at),
            page: 1,
        }
    }
}

/// Cuts the records of a read into pages of `size`, in order.
#[derive(Debug)]
pub struct Pager {
    size: usize,
    buffer: Vec<RawRecord>,
}

impl Pager {
    pub fn new(size: u32) -> Pager {
        let size = size.max(1) as usize;
        Pager {
            size,
            buffer: Vec::with_capacity(size),
        }
    }

    /// Adds records; returns the pages they complete.
    pub fn push(&mut self, records: Vec<RawRecord>) -> Vec<Vec<RawRecord>> {
        let mut pages = Vec::new();
        for raw in records {
            self.buffer.push(raw);
            if self.buffer.len() == self.size {
                pages.push(std::mem::replace(
                    &mut self.buffer,
                    Vec::with_capacity(self.size),
                ));
            }
        }
        pages
    }

    /// The last, partial page (if any).
    pub fn finish(&mut self) -> Option<Vec<RawRecord>> {
        (!self.buffer.is_empty()).then(|| std::mem::take(&mut self.buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A registry as CONTRACT §1 describes it: records sorted by (updated_at, STR); `change` moves one to
    /// the end with a new time; `answer` is what a request sees now.
    struct Registry {
        records: Vec<(i64, String, u32)>,
        clock: i64,
    }

    impl Registry {
        fn new(times: &[i64]) -> Registry {
            let records = times
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, format!("{i:06}"), 0))
                .collect();
            Registry {
                records,
                clock: 1_000_000,
            }
        }

        fn change(&mut self, str_number: &str) {
            let i = self.records.iter().position(|r| r.1 == str_number).unwrap();
            let mut r = self.records.remove(i);
            self.clock += 1;
            r.0 = self.clock;
            r.2 += 1;
            self.records.push(r);
        }

        fn answer(&self, request: Request, limit: usize, until: i64) -> Vec<RawRecord> {
            let since = request.since.map_or(i64::MIN, |t| t.timestamp());
            self.records
                .iter()
                .filter(|r| r.0 >= since && r.0 < until)
                .skip((request.page as usize - 1) * limit)
                .take(limit)
                .map(|(t, n, v)| {
                    let at = DateTime::from_timestamp(*t, 0).unwrap().to_rfc3339();
                    RawRecord::from_string(
                        json!({"str": {"nomor": n}, "updated_at": at, "v": v}).to_string(),
                    )
                    .unwrap()
                })
                .collect()
        }
    }

    fn numbers(records: &[RawRecord]) -> Vec<String> {
        records.iter().map(|r| key_of(r).1).collect()
    }

    /// Reads the whole window, calling `between` before each request.
    fn read(
        registry: &mut Registry,
        limit: usize,
        mut between: impl FnMut(&mut Registry, u64),
    ) -> Vec<String> {
        let mut cursor = ReadCursor::new(None, limit as u32);
        let mut read = Vec::new();
        let mut requests = 0;
        while let Some(request) = cursor.next_request() {
            between(registry, requests);
            requests += 1;
            assert!(requests < 10_000, "the read does not end");
            let answer = registry.answer(request, limit, 1_000_000);
            read.extend(numbers(&cursor.take(answer)));
        }
        read
    }

    #[test]
    fn every_record_is_read_once_whatever_the_ties() {
        let cases: &[(&str, Vec<i64>, usize)] = &[
            ("distinct times", (0..95).collect(), 10),
            (
                "ties of 7 across pages",
                (0..100).map(|i| i / 7).collect(),
                10,
            ),
            ("one instant, five pages", vec![5; 50], 10),
            (
                "a long run in the middle",
                (0..30)
                    .map(|i| if (10..25).contains(&i) { 10 } else { i })
                    .collect(),
                4,
            ),
            ("exactly one page", (0..10).collect(), 10),
            ("empty", vec![], 10),
        ];
        for (name, times, limit) in cases {
            let mut registry = Registry::new(times);
            let read = read(&mut registry, *limit, |_, _| {});
            let expected: Vec<String> = (0..times.len()).map(|i| format!("{i:06}")).collect();
            assert_eq!(read, expected, "{name}");
        }
    }

    /// Changes behind the read and ahead of it, between requests (request number, STR number).
    const CHANGES: [(u64, &str); 6] = [
        (1, "000005"),
        (3, "000150"),
        (5, "000040"),
        (7, "000199"),
        (9, "000100"),
        (11, "000061"),
    ];

    fn edit(registry: &mut Registry, request: u64) {
        if let Some((_, number)) = CHANGES.iter().find(|(n, _)| *n == request) {
            registry.change(number);
        }
    }

    /// Every record still in the window (a changed one left it: its new time is past `until`) is read
    /// once, and none twice.
    fn check_complete(registry: &Registry, read: &[String]) -> Vec<String> {
        let mut unique = read.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), read.len(), "a record read twice");
        registry
            .records
            .iter()
            .filter(|r| r.0 < 1_000_000 && !read.contains(&r.1))
            .map(|r| r.1.clone())
            .collect()
    }

    #[test]
    fn records_changed_during_the_read_make_it_skip_nothing() {
        let times: Vec<i64> = (0..200).map(|i| i / 3).collect();
        let mut registry = Registry::new(&times);
        let read = read(&mut registry, 10, edit);
        assert_eq!(check_complete(&registry, &read), Vec::<String>::new());
        // The control: walking page numbers through the same edits skips records.
        let mut registry = Registry::new(&times);
        let mut walked = Vec::new();
        for page in 1..=20u64 {
            edit(&mut registry, page - 1);
            let request = Request { since: None, page };
            walked.extend(numbers(&registry.answer(request, 10, 1_000_000)));
        }
        assert!(
            !check_complete(&registry, &walked).is_empty(),
            "the page walk skipped nothing"
        );
    }

    #[test]
    fn pages_are_cut_at_the_page_size() {
        let mut pager = Pager::new(3);
        let raw = |n: u32| RawRecord::from_string(n.to_string()).unwrap();
        assert!(pager.push(vec![raw(1), raw(2)]).is_empty());
        let pages = pager.push(vec![raw(3), raw(4), raw(5), raw(6), raw(7)]);
        assert_eq!(pages.len(), 2);
        assert_eq!(
            pages[1].iter().map(|r| r.get()).collect::<Vec<_>>(),
            ["4", "5", "6"]
        );
        assert_eq!(pager.finish().map(|p| p.len()), Some(1));
        assert!(pager.finish().is_none());
    }
}
