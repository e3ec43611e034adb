//! A validated health worker as SDMK stores it.

use super::{content_json, Nik, PersonName, PlaceName, Profession, StrNumber};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StrStatus {
    Aktif,
    Nonaktif,
    Dicabut,
}

impl StrStatus {
    pub fn parse(raw: &str) -> Option<StrStatus> {
        let raw = raw.trim();
        [StrStatus::Aktif, StrStatus::Nonaktif, StrStatus::Dicabut]
            .into_iter()
            .find(|status| status.code().eq_ignore_ascii_case(raw))
    }

    pub fn code(self) -> &'static str {
        match self {
            StrStatus::Aktif => "aktif",
            StrStatus::Nonaktif => "nonaktif",
            StrStatus::Dicabut => "dicabut",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrCertificate {
    #[serde(serialize_with = "serialize_str_number")]
    pub number: StrNumber,
    pub kind: Option<String>,
    pub council: Option<String>,
    #[serde(serialize_with = "crate::domain::time::serialize_opt_date")]
    pub issued_on: Option<NaiveDate>,
    /// `None` for a lifetime STR (UU 17/2023).
    #[serde(serialize_with = "crate::domain::time::serialize_opt_date")]
    pub valid_until: Option<NaiveDate>,
    pub status: StrStatus,
}

fn serialize_str_number<S: serde::Serializer>(n: &StrNumber, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(n.as_str())
}

/// Whether an STR allows practice on a given day (CONTRACT §2: active means `aktif` and not expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrActivity {
    Active,
    Inactive,
    Expired,
}

impl StrCertificate {
    pub fn activity_on(&self, day: NaiveDate) -> StrActivity {
        if self.status != StrStatus::Aktif {
            StrActivity::Inactive
        } else if self.valid_until.is_some_and(|until| until < day) {
            StrActivity::Expired
        } else {
            StrActivity::Active
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PracticeLicence {
    pub number: String,
    pub facility_code: Option<String>,
    #[serde(serialize_with = "crate::domain::time::serialize_opt_date")]
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Address {
    pub line: Option<String>,
    pub province_code: Option<String>,
    pub regency_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HealthWorker {
    pub nik: Nik,
    pub name: PersonName,
    pub sex: Option<Sex>,
    pub birth_place: PlaceName,
    pub birth_date: NaiveDate,
    pub profession: &'static Profession,
    pub str_certificate: StrCertificate,
    pub licences: Vec<PracticeLicence>,
    pub address: Address,
    pub upstream_updated_at: Option<DateTime<Utc>>,
}

impl HealthWorker {
    /// The stored content as bytes: what the content hash is taken over (`rules::identity` keys it).
    /// Everything SDMK keeps except the upstream timestamp, so a record whose only change is
    /// `updated_at` is `unchanged` and costs no write.
    pub fn content_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(512);
        self.write_content_with(&mut bytes, &self.licences_json());
        bytes
    }

    /// The licences as stored (`health_worker.licences_json`) and as the content holds them.
    pub fn licences_json(&self) -> String {
        let mut text = Vec::with_capacity(96 * self.licences.len() + 2);
        content_json::licences(&mut text, &self.licences);
        String::from_utf8(text).expect("JSON text of UTF-8 strings")
    }

    /// Appends `content_bytes` to `out`, with the licences already serialised (`licences_json`): a
    /// sync makes them once per record, for the content hash and the stored row.
    pub fn write_content_with(&self, out: &mut Vec<u8>, licences_json: &str) {
        content_json::content(out, self, licences_json);
    }

    /// The content hash releases before 0.2 stored: unkeyed SHA-256, so a store may still hold it until
    /// its hashes are re-keyed (`store::rehash`). Read only to recognise those rows; never written.
    pub fn legacy_content_hash(&self) -> String {
        hex::encode(&Sha256::digest(self.content_bytes())[..16])
    }
}
