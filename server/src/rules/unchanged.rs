//! The fast path for records the store already holds byte for byte. A worker row keeps the hash of the
//! upstream record it was last written from (`source_hash`). Before a page is transformed, each record is
//! read only for its STR number and hashed; one query per page finds the records whose STR holder carries
//! that same hash. Those are unchanged by construction (the transform is a pure function of the record, and
//! the STR holder with the record's own bytes has the record's NIK), so they skip the transform, the
//! lookup and matching: a re-sync of unchanged data costs a hash and an index probe per record.
//!
//! Matching decides an unchanged record without touching its worker, so skipping it changes no other
//! decision, provided no other record of the page reaches that worker (`store` checks; if one does, the
//! page is transformed whole) and the page written just before did not change it (checked like reads ahead).

use crate::domain::sanitize::clean_text;
use crate::domain::StrNumber;
use crate::regnakes::RawRecord;
use crate::rules::identity::NikIndexer;
use crate::rules::record_keys::RecordKeys;
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashMapExt};
use uuid::Uuid;

/// Part of every source hash: a release may transform the same bytes differently, so its first re-sync
/// takes the full path for every record (and stores the new hashes as it finds them unchanged).
pub(crate) const TRANSFORM_VERSION: &str =
    concat!("regnakes-sync ", env!("CARGO_PKG_VERSION"), " transform 1");

/// The keyed hash of one upstream record's bytes under this release's transform (the record holds a
/// NIK: an unkeyed hash of it would give the NIK away, `rules::identity`).
pub fn source_hash(indexer: &NikIndexer, raw: &str) -> String {
    indexer.source_hash(TRANSFORM_VERSION, raw)
}

/// A record that may take the fast path: its STR number as the transform would store it, alone in its
/// page, and the hash of its bytes.
#[derive(Debug, Clone)]
pub struct Probe {
    pub position: usize,
    pub str_number: String,
    pub source_hash: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Reads each record of a page only for its STR number; records whose number occurs once in the page
/// become probes (a repeated number needs matching by NIK, so those take the full path).
pub fn probes(records: &[RawRecord], indexer: &NikIndexer) -> Vec<Probe> {
    let mut found = Vec::with_capacity(records.len());
    let mut counts: HashMap<String, u32> = HashMap::with_capacity(records.len());
    for (position, raw) in records.iter().enumerate() {
        let Some(keys) = RecordKeys::of(raw) else {
            continue;
        };
        let Some(nomor) = keys.str_number() else {
            continue;
        };
        // Counted as the transform counts repeated numbers (the cleaned text, which a valid number keeps
        // as it is), over at least the records it counts: a probe's number is alone in the page for it too.
        let cleaned = clean_text(nomor);
        *counts.entry(cleaned.to_string()).or_default() += 1;
        let Ok(number) = StrNumber::parse(&cleaned) else {
            continue;
        };
        found.push(Probe {
            position,
            str_number: number.into_string(),
            source_hash: source_hash(indexer, raw.get()),
            updated_at: keys.updated_at(),
        });
    }
    found.retain(|p| counts.get(&p.str_number).copied() == Some(1));
    found
}

/// A probe the store answered: the STR holder carries the probe's source hash.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub position: usize,
    pub worker_id: Uuid,
    /// The worker's number in the store (`missing::Seen`).
    pub seq: i64,
}

/// A record found unchanged: the worker it leaves as it is.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub position: usize,
    pub worker_id: Uuid,
    pub seq: i64,
    pub str_number: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Joins the probes to what the store answered (each probe whose STR holder carries the probe's hash):
/// the records skipped, and the source hashes of the others by position, so the full path need not
/// hash them again.
pub fn skipped(
    probes: Vec<Probe>,
    found: &[Found],
    records: usize,
) -> (Vec<Skipped>, Vec<Option<String>>) {
    let ids: HashMap<usize, Found> = found.iter().map(|f| (f.position, *f)).collect();
    let mut hashes = vec![None; records];
    let mut skipped = Vec::with_capacity(found.len());
    for p in probes {
        match ids.get(&p.position) {
            Some(found) => skipped.push(Skipped {
                position: p.position,
                worker_id: found.worker_id,
                seq: found.seq,
                str_number: p.str_number,
                updated_at: p.updated_at,
            }),
            None => hashes[p.position] = Some(p.source_hash),
        }
    }
    (skipped, hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(value: serde_json::Value) -> RawRecord {
        RawRecord::from_string(value.to_string()).unwrap()
    }

    #[test]
    fn probes_are_records_with_a_valid_str_number_alone_in_the_page() {
        let records = vec![
            raw(json!({"str": {"nomor": " 3171.2.1.1001 "}, "updated_at": "2026-01-02T03:04:05Z"})),
            raw(json!({"str": {"nomor": "3171.2.1.1002"}})),
            raw(json!({"str": {"nomor": "3171.2.1.1002"}})),
            raw(json!({"str": {"nomor": "bad!"}})),
            raw(json!({"nama": "no STR"})),
            raw(json!("not an object")),
        ];
        let indexer = crate::rules::samples::indexer();
        let found = probes(&records, &indexer);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].position, 0);
        assert_eq!(found[0].str_number, "3171.2.1.1001");
        assert_eq!(
            found[0].updated_at.map(|t| t.to_rfc3339()),
            Some("2026-01-02T03:04:05+00:00".to_string())
        );
        assert_eq!(
            found[0].source_hash,
            source_hash(&indexer, records[0].get())
        );
    }

    #[test]
    fn the_hash_is_of_the_bytes_and_this_release_under_the_key() {
        let indexer = crate::rules::samples::indexer();
        let a = source_hash(&indexer, r#"{"nama":"A"}"#);
        assert_eq!(a, source_hash(&indexer, r#"{"nama":"A"}"#));
        assert_ne!(a, source_hash(&indexer, r#"{"nama": "A"}"#));
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("k:"));
    }
}
