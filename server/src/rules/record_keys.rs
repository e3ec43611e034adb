//! A record read only for its place in the upstream order: its STR number as sent and its `updated_at`.
//! Both the fast path (`unchanged`) and reading by key (`cursor`) need these, for every record or for a
//! few; neither transforms the record. They are read by a scan of the record's bytes (`key_scan`), and by
//! serde's derive where the scan cannot tell what the derive would read.

use crate::regnakes::wire_struct::WireText;
use crate::regnakes::RawRecord;
use crate::rules::key_scan;
use crate::rules::transform::upstream_time;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::borrow::Cow;

pub struct RecordKeys<'a> {
    str_number: Option<Cow<'a, str>>,
    updated_at: Option<Cow<'a, str>>,
}

/// The keys as serde's derive reads them: what the scan answers for.
#[derive(Deserialize)]
struct Derived<'a> {
    #[serde(borrow, default)]
    str: Option<StrOnly<'a>>,
    #[serde(borrow, default)]
    updated_at: Option<WireText<'a>>,
}

#[derive(Deserialize)]
struct StrOnly<'a> {
    #[serde(borrow, default)]
    nomor: Option<WireText<'a>>,
}

impl<'a> RecordKeys<'a> {
    /// The keys of a record; `None` when it is not an object of the expected shape.
    pub fn of(record: &'a RawRecord) -> Option<RecordKeys<'a>> {
        let scanned = match record.key_places() {
            Some(places) => key_scan::placed(record.get(), places),
            None => key_scan::keys(record.get()),
        };
        match scanned {
            Ok(keys) => keys.map(|keys| RecordKeys {
                str_number: keys.str_number.map(Cow::Borrowed),
                updated_at: keys.updated_at.map(Cow::Borrowed),
            }),
            Err(key_scan::Unsure) => Self::derived(record.get()),
        }
    }

    fn derived(raw: &'a str) -> Option<RecordKeys<'a>> {
        let derived: Derived = serde_json::from_str(raw).ok()?;
        Some(RecordKeys {
            str_number: derived.str.and_then(|s| s.nomor).map(|t| t.0),
            updated_at: derived.updated_at.map(|t| t.0),
        })
    }

    /// `str.nomor` as sent (not cleaned).
    pub fn str_number(&self) -> Option<&str> {
        self.str_number.as_deref()
    }

    /// `updated_at`, when it reads as a time.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at.as_deref().and_then(upstream_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> RawRecord {
        RawRecord::from_string(text.to_string()).expect("valid JSON")
    }

    /// What a reading found: the number and the time as sent.
    fn read(keys: Option<RecordKeys<'_>>) -> Option<(Option<String>, Option<String>)> {
        keys.map(|k| {
            (
                k.str_number().map(str::to_string),
                k.updated_at.as_deref().map(str::to_string),
            )
        })
    }

    /// The record as a page brings it, with its keys' places when the page's scan read it.
    fn paged(text: &str) -> RawRecord {
        let body = format!(r#"{{"status_code":200,"data":[{text}]}}"#);
        let page = crate::regnakes::client::page_of(body.into(), 1)
            .ok()
            .expect("a page");
        page.records.into_iter().next().expect("one record")
    }

    /// Read on its own and as a page brings it, the record's keys are the derive's.
    fn assert_read_as_the_derive_reads(text: &str) {
        let derived = read(RecordKeys::derived(text.trim()));
        assert_eq!(read(RecordKeys::of(&record(text))), derived, "{text}");
        assert_eq!(read(RecordKeys::of(&paged(text))), derived, "paged {text}");
    }

    /// The scan answers as serde's derive for every shape: the contract's, the simulator's good and bad
    /// records, and the edge cases (repeated keys, wrong types, escapes, arrays for structs, brackets
    /// and quotes inside strings, the keys nested elsewhere, deep nesting). Those serde must decide are
    /// marked: every other one the scan decides itself (else the scan would never be used).
    #[test]
    fn the_scan_reads_what_the_derive_reads() {
        let at = r#""2025-03-01T10:11:12+07:00""#;
        let cases: Vec<(bool, String)> = [
            (true, "{}".to_string()),
            (true, r#"{"str": null}"#.into()),
            (true, r#"{"str": {}}"#.into()),
            (true, r#"{"str": {"nomor": null}}"#.into()),
            (true, r#"{"str": {"nomor": 5}}"#.into()),
            (true, r#"{"str": {"nomor": "x", "nomor": "y"}}"#.into()),
            (true, r#"{"str": {"nomor": null, "nomor": "y"}}"#.into()),
            (true, r#"{"str": "1234567887654321"}"#.into()),
            (true, r#"{"str": 5}"#.into()),
            (true, r#"{"str": true}"#.into()),
            (false, r#"{"str": []}"#.into()),
            (false, r#"{"str": ["1234567887654321"]}"#.into()),
            (true, r#"{"str": {"nomor": "1"}, "str": null}"#.into()),
            (true, r#"{"str": null, "str": null}"#.into()),
            (true, r#"{"updated_at": 1}"#.into()),
            (true, r#"{"updated_at": null}"#.into()),
            (true, r#"{"updated_at": false}"#.into()),
            (
                true,
                format!(r#"{{"updated_at": {at}, "updated_at": "x"}}"#),
            ),
            (true, r#"{"updated_at": [""]}"#.into()),
            (true, r#"{"updated_at": {"a": 1}}"#.into()),
            (false, r#"{"\u0073tr": {"nomor": "1"}}"#.into()),
            (false, r#"{"str": {"n\u006fmor": "1"}}"#.into()),
            (false, r#"{"str": {"nomor": "12\u0033"}}"#.into()),
            (
                false,
                r#"{"updated_at": "2025\u002d03-01T10:11:12Z"}"#.into(),
            ),
            (false, r#""just a string""#.into()),
            (false, "[1, 2]".into()),
            (false, "5".into()),
            (false, "null".into()),
            (
                true,
                format!(" {{ \"str\" :\n{{ \"nomor\" :\t\"1\" }} , \"updated_at\" : {at} }} "),
            ),
            (true, r#"{"x": "}]\"{,", "str": {"nomor": "1"}}"#.into()),
            (
                true,
                r#"{"x": "a\\", "str": {"nomor": "1", "x": "\\\""}}"#.into(),
            ),
            (
                true,
                r#"{"x": {"str": {"nomor": "no"}}, "str": {"nomor": "1"}}"#.into(),
            ),
            (
                true,
                format!(r#"{{"x": [{{"updated_at": "no"}}, [], {{}}], "updated_at": {at}}}"#),
            ),
            (
                true,
                r#"{"str": {"x": {"nomor": 5}, "nomor": "1", "y": [{"nomor": 6}]}}"#.into(),
            ),
            (
                true,
                r#"{"a": -1.5e3, "b": true, "c": false, "d": null, "e": 0, "str": {"nomor": "1"}}"#
                    .into(),
            ),
            (
                true,
                r#"{"nama": "Ñoño 漢字 😀", "str": {"nomor": "漢字"}, "": 1}"#.into(),
            ),
            (true, r#"{"str": {"nomor": ""}, "updated_at": ""}"#.into()),
            (
                true,
                r#"{"nik": "1", "nik": "2", "str": {"nomor": "1"}}"#.into(),
            ),
            (
                false,
                format!(
                    r#"{{"deep": {}1{}, "str": {{"nomor": "1"}}}}"#,
                    "[".repeat(70),
                    "]".repeat(70)
                ),
            ),
            (
                true,
                format!(
                    r#"{{"deep": {}1{}, "str": {{"nomor": "1"}}}}"#,
                    "[".repeat(60),
                    "]".repeat(60)
                ),
            ),
            (true, crate::rules::samples::siti().to_string()),
            (true, crate::rules::samples::budi().to_string()),
        ]
        .into_iter()
        .collect();
        for (decided, text) in &cases {
            assert_read_as_the_derive_reads(text);
            let record = record(text);
            assert_eq!(
                key_scan::keys(record.get()).is_ok(),
                *decided,
                "the scan decides {text}"
            );
        }

        // The simulator's records, good, messed-up and bad (each kind of spoiling), as it sends them.
        let data = regnakes_sim::dataset::Dataset::generate(3000, 7, 0.2);
        for pos in 0..data.len() as u32 {
            let mut text = Vec::new();
            data.render_into(pos, &mut text);
            let text = String::from_utf8(text).expect("UTF-8");
            assert_read_as_the_derive_reads(&text);
            assert!(key_scan::keys(&text).is_ok(), "the scan decides {text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn any_record_is_read_as_the_derive_reads_it(value in crate::rules::samples::any_record(), pretty in proptest::bool::ANY) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            };
            assert_read_as_the_derive_reads(&text);
        }
    }
}
