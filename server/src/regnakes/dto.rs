//! Wire types of the RegNakes API (CONTRACT §1). They never leave the `regnakes` and `rules::transform`
//! modules: everything past them sees domain types.

use super::wire_struct::{wire_struct, WireText};
use serde::Deserialize;
use serde_json::value::RawValue;

/// §1.1: every value is a string.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<String>,
}

/// §1.2 envelope. Records stay raw so one malformed record cannot fail the page, and so the raw text can
/// be kept with a rejection.
#[derive(Debug, Deserialize)]
pub struct PageEnvelope<'a> {
    #[serde(default)]
    pub total_page: Option<u64>,
    #[serde(default)]
    pub total_data: Option<u64>,
    #[serde(borrow)]
    pub data: Vec<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
pub struct OperationOutcome {
    #[serde(default)]
    pub issue: Vec<OutcomeIssue>,
}

#[derive(Debug, Deserialize)]
pub struct OutcomeIssue {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub details: Option<OutcomeDetails>,
}

#[derive(Debug, Deserialize)]
pub struct OutcomeDetails {
    #[serde(default)]
    pub text: Option<String>,
}

impl OperationOutcome {
    pub fn has_code(&self, code: &str) -> bool {
        self.issue.iter().any(|i| i.code.as_deref() == Some(code))
    }

    pub fn summary(&self) -> String {
        self.issue
            .iter()
            .map(|i| {
                let code = i.code.as_deref().unwrap_or("unknown");
                match i.details.as_ref().and_then(|d| d.text.as_deref()) {
                    Some(text) => format!("{code}: {text}"),
                    None => code.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A text field: absent or null, or the text (borrowed from the page where it has no escapes).
pub type Text<'a> = Option<WireText<'a>>;

wire_struct! {
    NakesRecord {
        nik: Text<'a>,
        nama: Text<'a>,
        jenis_kelamin: Text<'a>,
        tempat_lahir: Text<'a>,
        tanggal_lahir: Text<'a>,
        rumpun: Option<Coded<'a>> => "rumpun",
        jenis: Option<Coded<'a>> => "jenis",
        str: Option<StrDto<'a>> => "str",
        sip: Option<Vec<SipDto<'a>>> => "sip[]",
        alamat: Option<AlamatDto<'a>> => "alamat",
        updated_at: Text<'a>,
    }
}

wire_struct! {
    /// A coded reference (`rumpun`, `jenis`): only the code is read; the name (`nama`) is the reference
    /// list's, not the record's to decide, so it is skipped unparsed (and is not an unknown field).
    Coded {
        kode: Text<'a>,
    }
    unread: ["nama"]
}

wire_struct! {
    StrDto {
        nomor: Text<'a>,
        jenis: Text<'a>,
        konsil: Text<'a>,
        tanggal_terbit: Text<'a>,
        berlaku_sampai: Text<'a>,
        status: Text<'a>,
    }
}

wire_struct! {
    SipDto {
        nomor: Text<'a>,
        kode_fasyankes: Text<'a>,
        berlaku_sampai: Text<'a>,
    }
}

wire_struct! {
    AlamatDto {
        line: Text<'a>,
        kode_provinsi: Text<'a>,
        kode_kabkota: Text<'a>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regnakes::wire_struct::{noting_unknown, scan_whole};

    /// What serde's derive reads from `text`, with the unknown keys it notes.
    fn derived(text: &str) -> (Option<NakesRecord<'_>>, Vec<String>) {
        let mut unknown = Vec::new();
        let record = noting_unknown(&mut unknown, || serde_json::from_str(text)).ok();
        (record, unknown)
    }

    /// Where the scan reads a record, serde's derive reads the same, with no unknown key to note.
    fn assert_scanned_as_derived(text: &str) -> bool {
        let Ok(scanned) = scan_whole::<NakesRecord>(text) else {
            return false;
        };
        assert_eq!(derived(text), (Some(scanned), vec![]), "{text:?}");
        true
    }

    /// The scan reads the records of the usual shape itself, as serde would, and hands every other
    /// one to serde: escapes, unknown or repeated keys, values of another type, structs as arrays,
    /// text that is not JSON (a control character in a string, `nul`, a trailing comma or text).
    #[test]
    fn the_scan_reads_a_record_as_the_derive_does() {
        let siti = crate::rules::samples::siti().to_string();
        let cases: Vec<(bool, String)> = vec![
            (true, siti.clone()),
            (true, crate::rules::samples::budi().to_string()),
            (
                true,
                serde_json::to_string_pretty(&crate::rules::samples::siti()).unwrap(),
            ),
            (true, format!(" \n{siti}\t ")),
            (true, "{}".into()),
            (
                true,
                r#"{"nik": null, "str": null, "sip": null, "rumpun": null}"#.into(),
            ),
            (
                true,
                r#"{"sip": [], "str": {}, "alamat": {"line": ""}}"#.into(),
            ),
            (
                true,
                r#"{"rumpun": {"kode": "1", "nama": "x"}, "jenis": {"nama": null}}"#.into(),
            ),
            (
                true,
                r#"{"nama": "Ñoño 漢字 😀", "str": {"nomor": "漢字"}}"#.into(),
            ),
            (
                true,
                r#"{"sip": [{"nomor": "1"}, {}, {"berlaku_sampai": null}]}"#.into(),
            ),
            (false, r#"{"nama": "Siti \"Ami\" Aminah"}"#.into()),
            (false, r#"{"n\u0069k": "1"}"#.into()),
            (false, r#"{"gelar": "S.Kep"}"#.into()),
            (false, r#"{"alamat": {"nama": "x"}}"#.into()),
            (false, r#"{"rumpun": {"nama": {"nama": 1}}}"#.into()),
            (false, r#"{"nik": "1", "nik": "2"}"#.into()),
            (false, r#"{"str": {"nomor": "1", "nomor": null}}"#.into()),
            (false, r#"{"nik": 3205195211900003}"#.into()),
            (false, r#"{"nik": true}"#.into()),
            (false, r#"{"str": "1234567887654321"}"#.into()),
            (false, r#"{"str": ["1234567887654321"]}"#.into()),
            (false, r#"{"sip": {"nomor": "1"}}"#.into()),
            (false, r#"{"sip": [null]}"#.into()),
            (false, r#"{"sip": [["1"]]}"#.into()),
            (false, "[]".into()),
            (false, "null".into()),
            (false, r#""x""#.into()),
            (false, "{\"nama\": \"Siti\u{1}\"}".into()),
            (false, "{\"nama\": \"Siti\nAminah\"}".into()),
            (false, r#"{"nik": nul}"#.into()),
            (false, r#"{"nik": nullx}"#.into()),
            (false, r#"{"nik": "1",}"#.into()),
            (false, r#"{"sip": [{},]}"#.into()),
            (false, r#"{"nik": "1"} x"#.into()),
            (false, r#"{"nik": "1""#.into()),
            (false, r#"{"nik" "1"}"#.into()),
            (false, r#"{"nik": "1" "nama": "x"}"#.into()),
            (false, "".into()),
        ];
        for (decided, text) in &cases {
            assert_eq!(
                assert_scanned_as_derived(text),
                *decided,
                "the scan decides {text:?}"
            );
        }

        // The simulator's records: the good ones are all the scan's; every one it reads is serde's.
        let data = regnakes_sim::dataset::Dataset::generate(3000, 7, 0.2);
        let mut scanned = 0;
        for pos in 0..data.len() as u32 {
            let mut text = Vec::new();
            data.render_into(pos, &mut text);
            let text = String::from_utf8(text).expect("UTF-8");
            if assert_scanned_as_derived(&text) {
                scanned += 1;
            }
        }
        assert!(scanned >= 2400, "the scan read {scanned} of 3000");
    }

    /// Any JSON whose keys are often the record's, and any text made of a record's pieces (most of it
    /// not JSON): where the scan answers, serde's derive answers the same.
    fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let text = prop_oneof![
            Just("1234567887654321".to_string()),
            r#"[a-z"\\{}: ]{0,6}"#,
            ".{0,4}"
        ];
        let leaf = prop_oneof![
            3 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::from),
            1 => any::<i32>().prop_map(Value::from),
            6 => text.prop_map(Value::from),
        ];
        let key = prop_oneof![
            Just("nik".to_string()),
            Just("nama".to_string()),
            Just("str".to_string()),
            Just("nomor".to_string()),
            Just("sip".to_string()),
            Just("rumpun".to_string()),
            Just("kode".to_string()),
            Just("alamat".to_string()),
            Just("line".to_string()),
            ".{0,4}",
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                1 => proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                3 => proptest::collection::btree_map(key.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn any_text_the_scan_reads_is_read_so_by_the_derive(
            value in any_json(),
            pretty in proptest::bool::ANY,
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "{", "}", "[", "]", ",", ":", " ", "\n", "null", "nul", "\"nik\"", "\"sip\"",
                    "\"str\"", "\"nomor\"", "\"x\"", "\"a\\\"b\"", "\"\u{7}\"", "1",
                ]),
                0..24,
            ),
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            };
            assert_scanned_as_derived(&text);
            assert_scanned_as_derived(&pieces.concat());
        }
    }
}
