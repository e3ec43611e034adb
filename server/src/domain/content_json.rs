//! A worker's stored content as JSON text, byte for byte what `serde_json` writes for it (the content
//! hash is taken over these bytes and the licences are stored as them, so they may never change), but
//! without serde_json's escaping loop: it looks each string up byte by byte in a table, and that was a
//! tenth of a first load's CPU besides SHA-256. A string with nothing to escape (`"`, `\` or a control
//! character; every string a sync sees, in practice) is copied as it is; any other goes through
//! serde_json. A test holds the text to serde's derive of the same structs.

use super::health_worker::{Address, HealthWorker, PracticeLicence, StrCertificate};
use super::time::IsoDate;
use chrono::NaiveDate;

/// Appends the content object (`HealthWorker::write_content_with`) with `licences` already written by
/// `licences` (`HealthWorker::licences_json`).
pub fn content(out: &mut Vec<u8>, worker: &HealthWorker, licences: &str) {
    out.extend_from_slice(b"{\"nik\":");
    string(out, worker.nik.as_str());
    out.extend_from_slice(b",\"name\":");
    string(out, worker.name.as_str());
    out.extend_from_slice(b",\"sex\":");
    optional(out, worker.sex.map(|s| s.code()));
    out.extend_from_slice(b",\"birth_place\":");
    string(out, worker.birth_place.as_str());
    out.extend_from_slice(b",\"birth_date\":");
    date(out, Some(worker.birth_date));
    out.extend_from_slice(b",\"profession\":");
    string(out, worker.profession.code);
    out.extend_from_slice(b",\"str_certificate\":");
    certificate(out, &worker.str_certificate);
    out.extend_from_slice(b",\"licences\":");
    out.extend_from_slice(licences.as_bytes());
    out.extend_from_slice(b",\"address\":");
    address(out, &worker.address);
    out.push(b'}');
}

/// Appends the licences as a JSON array (`health_worker.licences_json`).
pub fn licences(out: &mut Vec<u8>, licences: &[PracticeLicence]) {
    out.push(b'[');
    for (i, licence) in licences.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"number\":");
        string(out, &licence.number);
        out.extend_from_slice(b",\"facility_code\":");
        optional(out, licence.facility_code.as_deref());
        out.extend_from_slice(b",\"valid_until\":");
        date(out, licence.valid_until);
        out.push(b'}');
    }
    out.push(b']');
}

fn certificate(out: &mut Vec<u8>, cert: &StrCertificate) {
    out.extend_from_slice(b"{\"number\":");
    string(out, cert.number.as_str());
    out.extend_from_slice(b",\"kind\":");
    optional(out, cert.kind.as_deref());
    out.extend_from_slice(b",\"council\":");
    optional(out, cert.council.as_deref());
    out.extend_from_slice(b",\"issued_on\":");
    date(out, cert.issued_on);
    out.extend_from_slice(b",\"valid_until\":");
    date(out, cert.valid_until);
    out.extend_from_slice(b",\"status\":");
    string(out, cert.status.code());
    out.push(b'}');
}

fn address(out: &mut Vec<u8>, address: &Address) {
    out.extend_from_slice(b"{\"line\":");
    optional(out, address.line.as_deref());
    out.extend_from_slice(b",\"province_code\":");
    optional(out, address.province_code.as_deref());
    out.extend_from_slice(b",\"regency_code\":");
    optional(out, address.regency_code.as_deref());
    out.push(b'}');
}

/// A date as `time::serialize_date` writes it, or `null`.
fn date(out: &mut Vec<u8>, date: Option<NaiveDate>) {
    optional(out, date.map(IsoDate::of).as_ref().map(IsoDate::as_str));
}

fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string as serde_json writes it: it escapes `"`, `\` and control characters, nothing else.
fn string(out: &mut Vec<u8>, text: &str) {
    // No early exit, so the test runs over whole vectors (the strings are short).
    let needs_escape = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        serde_json::to_writer(&mut *out, text).expect("a string serialises into memory");
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health_worker::{Sex, StrStatus};
    use crate::domain::{Nik, PersonName, PlaceName, ProfessionCatalogue, StrNumber};
    use proptest::prelude::*;
    use serde::Serialize;

    /// The content as serde's derive wrote it before this module: the oracle.
    #[derive(Serialize)]
    struct Derived<'a> {
        nik: &'a str,
        name: &'a str,
        sex: Option<Sex>,
        birth_place: &'a str,
        #[serde(serialize_with = "crate::domain::time::serialize_date")]
        birth_date: NaiveDate,
        profession: &'a str,
        str_certificate: &'a StrCertificate,
        licences: &'a [PracticeLicence],
        address: &'a Address,
    }

    fn derived(w: &HealthWorker) -> String {
        serde_json::to_string(&Derived {
            nik: w.nik.as_str(),
            name: w.name.as_str(),
            sex: w.sex,
            birth_place: w.birth_place.as_str(),
            birth_date: w.birth_date,
            profession: w.profession.code,
            str_certificate: &w.str_certificate,
            licences: &w.licences,
            address: &w.address,
        })
        .unwrap()
    }

    fn written(w: &HealthWorker) -> (String, String) {
        let mut list = Vec::new();
        licences(&mut list, &w.licences);
        let list = String::from_utf8(list).unwrap();
        let mut all = Vec::new();
        content(&mut all, w, &list);
        (String::from_utf8(all).unwrap(), list)
    }

    fn worker(text: &str, optional: Option<String>, dates: [Option<NaiveDate>; 3]) -> HealthWorker {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let licence = |n: &str| PracticeLicence {
            number: n.to_string(),
            facility_code: optional.clone(),
            valid_until: dates[2],
        };
        HealthWorker {
            nik: Nik::parse("3205195211900003", today).unwrap(),
            name: PersonName::parse(text).unwrap_or_else(|_| PersonName::parse("Siti").unwrap()),
            sex: optional.as_ref().map(|_| Sex::Female),
            birth_place: PlaceName::parse(text),
            birth_date: dates[0].unwrap_or(NaiveDate::MIN),
            profession: &ProfessionCatalogue::national().all()[0],
            str_certificate: StrCertificate {
                number: StrNumber::parse("1234567887654321").unwrap(),
                kind: Some(text.to_string()),
                council: optional.clone(),
                issued_on: dates[0],
                valid_until: dates[1],
                status: StrStatus::Dicabut,
            },
            licences: match dates[1] {
                Some(_) => vec![licence(text), licence("446/SIP/2024")],
                None => Vec::new(),
            },
            address: crate::domain::health_worker::Address {
                line: Some(text.to_string()),
                province_code: optional.clone(),
                regency_code: None,
            },
            upstream_updated_at: None,
        }
    }

    /// A worker's text fields, its optional ones, and its dates (birth, STR validity, licences').
    type Case<'a> = (&'a str, Option<&'a str>, [Option<NaiveDate>; 3]);

    #[test]
    fn writes_what_serde_writes() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        let cases: &[Case] = &[
            (
                "Siti Aminah, S.Kep., Ners",
                Some("1000156689"),
                [date(1990, 11, 12), None, None],
            ),
            ("", None, [None, date(2031, 1, 2), date(2029, 7, 9)]),
            (
                "quote \" and backslash \\",
                Some("\"\\"),
                [date(1, 1, 1), date(9999, 12, 31), None],
            ),
            (
                "tab\tline\nfeed\r\u{8}\u{c}\u{0}\u{1f}",
                Some("\u{7f}"),
                [None, date(2024, 2, 29), None],
            ),
            (
                "Ñoño Dédé 日本 😀 \u{2028}",
                Some("é"),
                [date(-1, 1, 1), date(10_000, 1, 1), date(1, 1, 1)],
            ),
            (
                "</script> & 'single'",
                Some(""),
                [NaiveDate::MIN.into(), NaiveDate::MAX.into(), None],
            ),
        ];
        for (text, optional, dates) in cases {
            let w = worker(text, optional.map(str::to_string), *dates);
            let (all, list) = written(&w);
            assert_eq!(all, derived(&w), "content of {text:?}");
            assert_eq!(
                list,
                serde_json::to_string(&w.licences).unwrap(),
                "licences of {text:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn writes_what_serde_writes_for_any_text(
            text in "\\PC{0,12}|[\\x00-\\x7f]{0,12}",
            optional in proptest::option::of("[\"\\\\\\x00-\\x1f a-zé]{0,6}"),
            days in proptest::array::uniform3(proptest::option::of(-800_000i32..3_000_000)),
        ) {
            let dates = days.map(|d| d.and_then(NaiveDate::from_num_days_from_ce_opt));
            let w = worker(&text, optional, dates);
            let (all, list) = written(&w);
            prop_assert_eq!(all, derived(&w));
            prop_assert_eq!(list, serde_json::to_string(&w.licences).unwrap());
        }
    }
}
