//! Wire types of the RegNakes API (CONTRACT §1). They never leave the `regnakes` and `rules::transform`
//! modules: everything past them sees domain types.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

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

type Text<'a> = Option<Cow<'a, str>>;

#[derive(Debug, Deserialize)]
pub struct NakesRecord<'a> {
    #[serde(borrow, default)]
    pub nik: Text<'a>,
    #[serde(borrow, default)]
    pub nama: Text<'a>,
    #[serde(borrow, default)]
    pub jenis_kelamin: Text<'a>,
    #[serde(borrow, default)]
    pub tempat_lahir: Text<'a>,
    #[serde(borrow, default)]
    pub tanggal_lahir: Text<'a>,
    #[serde(borrow, default)]
    pub rumpun: Option<Coded<'a>>,
    #[serde(borrow, default)]
    pub jenis: Option<Coded<'a>>,
    #[serde(borrow, default)]
    pub str: Option<StrDto<'a>>,
    #[serde(borrow, default)]
    pub sip: Option<Vec<SipDto<'a>>>,
    #[serde(borrow, default)]
    pub alamat: Option<AlamatDto<'a>>,
    #[serde(borrow, default)]
    pub updated_at: Text<'a>,
}

/// A coded reference (`rumpun`, `jenis`): only the code is read; the name (`nama`) is the reference
/// list's, not the record's to decide, so it is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct Coded<'a> {
    #[serde(borrow, default)]
    pub kode: Text<'a>,
}

#[derive(Debug, Deserialize)]
pub struct StrDto<'a> {
    #[serde(borrow, default)]
    pub nomor: Text<'a>,
    #[serde(borrow, default)]
    pub jenis: Text<'a>,
    #[serde(borrow, default)]
    pub konsil: Text<'a>,
    #[serde(borrow, default)]
    pub tanggal_terbit: Text<'a>,
    #[serde(borrow, default)]
    pub berlaku_sampai: Text<'a>,
    #[serde(borrow, default)]
    pub status: Text<'a>,
}

#[derive(Debug, Deserialize)]
pub struct SipDto<'a> {
    #[serde(borrow, default)]
    pub nomor: Text<'a>,
    #[serde(borrow, default)]
    pub kode_fasyankes: Text<'a>,
    #[serde(borrow, default)]
    pub berlaku_sampai: Text<'a>,
}

#[derive(Debug, Deserialize)]
pub struct AlamatDto<'a> {
    #[serde(borrow, default)]
    pub line: Text<'a>,
    #[serde(borrow, default)]
    pub kode_provinsi: Text<'a>,
    #[serde(borrow, default)]
    pub kode_kabkota: Text<'a>,
}
