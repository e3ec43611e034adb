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
