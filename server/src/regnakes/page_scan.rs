//! A page's envelope read, its records split out and every byte of it checked as serde checks it, in one
//! pass without serde. serde's walk of a page (`PageEnvelope`, each record a `RawValue`) was a fifth of
//! an unchanged re-sync's CPU, and the fast path then read each record a second time for its two keys
//! (`rules::key_scan`); this pass notes where those keys lie in each record as it goes (`KeyPlaces`), so
//! that read goes straight to them (issue 22).
//!
//! The answer is always serde's: what this pass accepts, serde accepts with the same fields and the same
//! record slices; everything else (a malformed page, an escape in a key, a repeated envelope field, a
//! count that is not a plain `u64`, an envelope sent as an array, deep nesting) is `Unsure`, and the
//! caller asks serde, which also gives the error. A test holds the two to the same answer over edge cases
//! and arbitrary, spoiled pages.

use super::json_scan::{Scan, Unsure};

/// A page as serde's `PageEnvelope` reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct ScannedPage {
    pub total_page: Option<u64>,
    pub total_data: Option<u64>,
    pub records: Vec<ScannedRecord>,
}

/// A record's place in the page's text, and where its keys lie when it is an object.
#[derive(Debug, PartialEq, Eq)]
pub struct ScannedRecord {
    pub start: u32,
    pub end: u32,
    pub places: Option<KeyPlaces>,
}

/// Where a record's top-level `str` and `updated_at` lie (what the fast path reads of every record),
/// in bytes from the record's start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyPlaces {
    pub str: Place,
    pub updated_at: Place,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The key is not in the record.
    #[default]
    Absent,
    /// The key's value starts here.
    At(u32),
    /// The key is there more than once (which serde's derive refuses).
    Repeated,
}

impl Place {
    fn note(&mut self, at: u32) {
        *self = match self {
            Place::Absent => Place::At(at),
            Place::At(_) | Place::Repeated => Place::Repeated,
        };
    }
}

/// Containers around a record's members: the envelope, `data`, the record.
const RECORD_MEMBER_DEPTH: usize = 3;

/// Reads a page's body; `Unsure` where only serde can answer.
pub fn scan(text: &str) -> Result<ScannedPage, Unsure> {
    // Record places are kept as `u32` (as `RawRecord` keeps them).
    u32::try_from(text.len()).map_err(|_| Unsure)?;
    let mut scan = Scan::new(text);
    let mut total_page = None;
    let mut total_data = None;
    let mut records = None;
    scan.object(|scan, key| match key {
        "total_page" => once(&mut total_page, count(scan)?),
        "total_data" => once(&mut total_data, count(scan)?),
        "data" => once(&mut records, data(scan)?),
        _ => scan.valid_value(1),
    })?;
    if !scan.at_end() {
        return Err(Unsure);
    }
    Ok(ScannedPage {
        total_page: total_page.flatten(),
        total_data: total_data.flatten(),
        records: records.ok_or(Unsure)?,
    })
}

/// A field of the envelope, which serde refuses to find twice.
fn once<T>(field: &mut Option<T>, value: T) -> Result<(), Unsure> {
    if field.is_some() {
        return Err(Unsure);
    }
    *field = Some(value);
    Ok(())
}

/// `total_page` or `total_data`: `null` or a `u64`.
fn count(scan: &mut Scan<'_>) -> Result<Option<u64>, Unsure> {
    if scan.null() {
        return Ok(None);
    }
    scan.unsigned().map(Some)
}

/// The `data` array: each record's place, and its keys' places when it is an object.
fn data(scan: &mut Scan<'_>) -> Result<Vec<ScannedRecord>, Unsure> {
    let mut records = Vec::new();
    scan.array(|scan| {
        let start = scan.position();
        let places = if scan.peek() == Some(b'{') {
            Some(record_object(scan, start)?)
        } else {
            scan.valid_value(RECORD_MEMBER_DEPTH - 1)?;
            None
        };
        records.push(ScannedRecord {
            start: start as u32,
            end: scan.position() as u32,
            places,
        });
        Ok(())
    })?;
    Ok(records)
}

/// A record that is an object, checked, with the places of its keys.
fn record_object(scan: &mut Scan<'_>, start: usize) -> Result<KeyPlaces, Unsure> {
    let mut places = KeyPlaces::default();
    scan.object(|scan, key| {
        let at = (scan.position() - start) as u32;
        match key {
            "str" => places.str.note(at),
            "updated_at" => places.updated_at.note(at),
            _ => {}
        }
        scan.valid_value(RECORD_MEMBER_DEPTH)
    })?;
    Ok(places)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regnakes::dto::PageEnvelope;
    use proptest::prelude::*;

    /// A page's reading: its counts and the place of each record.
    type Reading = (Option<u64>, Option<u64>, Vec<(u32, u32)>);

    fn serde_reads(text: &str) -> Option<Reading> {
        let envelope: PageEnvelope = serde_json::from_str(text).ok()?;
        let base = text.as_ptr() as usize;
        let records = envelope.data.iter().map(|value| {
            let start = value.get().as_ptr() as usize - base;
            (start as u32, (start + value.get().len()) as u32)
        });
        Some((envelope.total_page, envelope.total_data, records.collect()))
    }

    /// Whether the scan decided `text`; where it did, it read what serde reads.
    fn scan_agrees_with_serde(text: &str) -> bool {
        let Ok(page) = scan(text) else {
            return false;
        };
        let records = page.records.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(
            Some((page.total_page, page.total_data, records)),
            serde_reads(text),
            "{text:?}"
        );
        true
    }

    /// Pages serde reads and pages it refuses, with whether the scan decides each (the rest it leaves to
    /// serde): counts of every spelling, repeated and missing fields, trailing text and commas, every
    /// escape and number form, control characters, bare words, deep nesting.
    #[test]
    fn the_scan_reads_what_serde_reads() {
        let deep = |n: usize| format!(r#"{{"data":[{}1{}]}}"#, "[".repeat(n), "]".repeat(n));
        let cases: Vec<(bool, String)> = [
            (true, r#"{"data":[]}"#),
            (true, " \n{ \"data\" :\t[ {} , [ ] ] }\r\n"),
            (
                true,
                r#"{"status_code":200,"message":"Success","page":1,"limit":2,"total_page":3,"total_data":5,"data":[{"a":1},"x",1,null,true,false,[]]}"#,
            ),
            (true, r#"{"data":[],"total_page":null,"total_data":0}"#),
            (true, r#"{"total_page":18446744073709551615,"data":[]}"#),
            (false, r#"{"total_page":18446744073709551616,"data":[]}"#),
            (false, r#"{"total_page":-1,"data":[]}"#),
            (false, r#"{"total_page":1.0,"data":[]}"#),
            (false, r#"{"total_page":1e2,"data":[]}"#),
            (false, r#"{"total_page":"3","data":[]}"#),
            (false, r#"{"total_page":01,"data":[]}"#),
            (false, r#"{"total_page":true,"data":[]}"#),
            (false, r#"{"data":[],"data":[]}"#),
            (false, r#"{"total_data":1,"total_data":1,"data":[]}"#),
            (false, r#"{"total_page":1}"#),
            (false, r#"{"data":{}}"#),
            (false, r#"{"data":null}"#),
            (false, r#"[1,2,[]]"#),
            (false, r#"{"d\u0061ta":[]}"#),
            (false, r#"{"data":[{"\u0061":1}]}"#),
            (true, r#"{"data":[{"a":"\u00e9\ud800\"\\\/\b\f\n\r\t"}]}"#),
            (false, r#"{"data":["\x"]}"#),
            (false, r#"{"data":["\u12g4"]}"#),
            (false, r#"{"data":["\u12"]}"#),
            (false, "{\"data\":[\"a\u{1}b\"]}"),
            (false, "{\"data\":[\"tab\there\"]}"),
            (true, "{\"data\":[\"Ñoño 漢字 😀 \u{7f}\"]}"),
            (false, r#"{"data":[]} x"#),
            (false, r#"{"data":[]}}"#),
            (false, "{\"data\":[]}\u{a0}"),
            (false, "{\"data\":[]}\u{c}"),
            (false, r#"{"data":[],}"#),
            (false, r#"{"data":[1,]}"#),
            (false, r#"{"data":[{"a":1,}]}"#),
            (false, r#"{"data":[{"a" 1}]}"#),
            (false, r#"{"data":[{"a":1 "b":2}]}"#),
            (false, r#"{"data":[{1:2}]}"#),
            (false, ""),
            (false, r#"{"data":["#),
            (false, r#"{"data":["abc"#),
            (false, r#"{"data":[1"#),
            (true, r#"{"data":[-0,0.5,1e5,1E+5,-1.5e-3,123456789012345678901234567890]}"#),
            (false, r#"{"data":[01]}"#),
            (false, r#"{"data":[1.]}"#),
            (false, r#"{"data":[.5]}"#),
            (false, r#"{"data":[1e]}"#),
            (false, r#"{"data":[1e+]}"#),
            (false, r#"{"data":[-]}"#),
            (false, r#"{"data":[+1]}"#),
            (false, r#"{"data":[tru]}"#),
            (false, r#"{"data":[nul]}"#),
            (false, r#"{"data":[True]}"#),
            (false, r#"{"data":[NaN]}"#),
            (false, r#"{"data":[truex]}"#),
            (true, r#"{"meta":{"a":[1,{"b":null}],"c":"}]\"{,"},"data":[]}"#),
        ]
        .into_iter()
        .map(|(decided, text)| (decided, text.to_string()))
        .chain([(true, deep(55)), (false, deep(70)), (false, deep(130))])
        .collect();
        for (decided, text) in &cases {
            assert_eq!(scan_agrees_with_serde(text), *decided, "decided: {text:?}");
        }
    }

    /// The simulator's pages, good, messed-up and bad records together, are the scan's to read.
    #[test]
    fn the_simulators_pages_are_read_by_the_scan() {
        let data = regnakes_sim::dataset::Dataset::generate(2000, 11, 0.2);
        let rows: Vec<u32> = (0..data.len() as u32).collect();
        for chunk in rows.chunks(500) {
            let mut body =
                br#"{"status_code":200,"total_page":4,"total_data":2000,"data":["#.to_vec();
            data.render_items(chunk, &mut body);
            body.extend_from_slice(b"]}");
            let text = String::from_utf8(body).expect("UTF-8");
            assert!(scan_agrees_with_serde(&text));
        }
    }

    #[test]
    fn a_records_keys_are_placed_where_they_are() {
        let text = r#"{"data":[ {"x":{"str":1},"updated_at":"t","str":{"nomor":"1"}}, {"str":null,"str":1}, 5 ]}"#;
        let page = scan(text).expect("decided");
        let places: Vec<_> = page.records.iter().map(|r| r.places).collect();
        let first = &text[page.records[0].start as usize..page.records[0].end as usize];
        // The last one in the record: the first `"str":` is a nested one.
        let at = |needle: &str| Place::At((first.rfind(needle).unwrap() + needle.len()) as u32);
        assert_eq!(
            places,
            [
                Some(KeyPlaces {
                    str: at(r#""str":"#),
                    updated_at: at(r#""updated_at":"#),
                }),
                Some(KeyPlaces {
                    str: Place::Repeated,
                    updated_at: Place::Absent,
                }),
                None,
            ]
        );
    }

    /// A page of arbitrary records, spoiled at one place or not: the scan answers as serde or not at all.
    fn any_page() -> impl Strategy<Value = String> {
        let records = proptest::collection::vec(crate::rules::samples::any_record(), 0..6);
        let count = prop_oneof![Just(None), any::<u64>().prop_map(Some)];
        (records, count, any::<bool>()).prop_map(|(records, total, pretty)| {
            let page =
                serde_json::json!({"status_code": 200, "total_page": total, "data": records});
            if pretty {
                serde_json::to_string_pretty(&page).unwrap()
            } else {
                page.to_string()
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn any_page_spoiled_or_not_is_read_as_serde_reads_it(
            page in any_page(),
            spoil in proptest::option::of((any::<prop::sample::Index>(), 0..4u8, prop::sample::select(
                vec!['"', '\\', '{', '}', '[', ']', ',', ':', '0', '-', '.', 'e', 'n', ' ', '\u{1}', 'é'],
            ))),
        ) {
            let mut text = page;
            if let Some((place, how, ch)) = spoil {
                let boundaries: Vec<usize> =
                    (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
                let at = boundaries[place.index(boundaries.len())];
                match how {
                    0 => text.insert(at, ch),
                    1 => text.truncate(at),
                    _ => {
                        if let Some(removed) = text[at..].chars().next() {
                            text.replace_range(at..at + removed.len_utf8(), "");
                        }
                    }
                }
            }
            scan_agrees_with_serde(&text);
        }
    }
}
