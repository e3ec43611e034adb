//! Which parts of a health worker an update changed, so a batch can report drift per field ("12 names,
//! 3 STR renewals, 40 validity dates") without keeping old values.
//!
//! Each stored worker carries a fingerprint: one short hash per field group, in `WorkerField::ALL` order.
//! Comparing the stored fingerprint with the incoming one tells which groups differ. The hashes only feed
//! this report (matching compares the full content hash), so 32 bits per group are plenty.

use super::time::IsoDate;
use super::HealthWorker;
use serde::Serialize;

/// The field groups a batch reports changes for. The order is the fingerprint's layout: append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerField {
    /// The name as written (titles included).
    Name,
    /// Sex, place and date of birth.
    Birth,
    Profession,
    /// The STR number (a renewal changes it).
    StrNumber,
    /// STR kind, council and issue date.
    StrDetails,
    /// STR `berlaku_sampai`.
    StrValidity,
    /// STR `status` (aktif, nonaktif, dicabut).
    StrStatus,
    /// Practice licences (SIP).
    Licences,
    Address,
}

impl WorkerField {
    pub const ALL: [WorkerField; 9] = [
        WorkerField::Name,
        WorkerField::Birth,
        WorkerField::Profession,
        WorkerField::StrNumber,
        WorkerField::StrDetails,
        WorkerField::StrValidity,
        WorkerField::StrStatus,
        WorkerField::Licences,
        WorkerField::Address,
    ];

    pub fn code(self) -> &'static str {
        match self {
            WorkerField::Name => "name",
            WorkerField::Birth => "birth",
            WorkerField::Profession => "profession",
            WorkerField::StrNumber => "str_number",
            WorkerField::StrDetails => "str_details",
            WorkerField::StrValidity => "str_validity",
            WorkerField::StrStatus => "str_status",
            WorkerField::Licences => "licences",
            WorkerField::Address => "address",
        }
    }
}

/// Hex digits per field group in a fingerprint.
const WIDTH: usize = 8;

/// FNV-1a, 32 bits: stable across releases and platforms (the fingerprints are stored), and cheap.
struct Fnv(u32);

impl Fnv {
    fn new() -> Self {
        Fnv(0x811c_9dc5)
    }

    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 = (self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0100_0193);
        self
    }

    fn opt(&mut self, value: Option<impl AsRef<[u8]>>) -> &mut Self {
        match value {
            Some(v) => self.bytes(b"1").bytes(v.as_ref()),
            None => self.bytes(b"0"),
        }
    }
}

impl HealthWorker {
    /// The worker's fingerprint: `WorkerField::ALL.len()` hashes of `WIDTH` hex digits each.
    pub fn field_fingerprint(&self) -> String {
        let cert = &self.str_certificate;
        let date = |d: Option<chrono::NaiveDate>| d.map(IsoDate::of);
        let mut out = String::with_capacity(WorkerField::ALL.len() * WIDTH);
        for field in WorkerField::ALL {
            let mut h = Fnv::new();
            match field {
                WorkerField::Name => h.bytes(self.name.as_str().as_bytes()),
                WorkerField::Birth => h
                    .opt(self.sex.map(|s| s.code()))
                    .bytes(self.birth_place.as_str().as_bytes())
                    .bytes(IsoDate::of(self.birth_date).as_str().as_bytes()),
                WorkerField::Profession => h.bytes(self.profession.code.as_bytes()),
                WorkerField::StrNumber => h.bytes(cert.number.as_str().as_bytes()),
                WorkerField::StrDetails => h
                    .opt(cert.kind.as_deref())
                    .opt(cert.council.as_deref())
                    .opt(date(cert.issued_on)),
                WorkerField::StrValidity => h.opt(date(cert.valid_until)),
                WorkerField::StrStatus => h.bytes(cert.status.code().as_bytes()),
                WorkerField::Licences => {
                    for licence in &self.licences {
                        h.bytes(licence.number.as_bytes())
                            .opt(licence.facility_code.as_deref())
                            .opt(date(licence.valid_until));
                    }
                    h.bytes(self.licences.len().to_string().as_bytes())
                }
                WorkerField::Address => h
                    .opt(self.address.line.as_deref())
                    .opt(self.address.province_code.as_deref())
                    .opt(self.address.regency_code.as_deref()),
            };
            // Into the one string, without the formatting machinery: this runs for every record a
            // sync writes.
            let mut digits = [0u8; WIDTH];
            hex::encode_to_slice(h.0.to_be_bytes(), &mut digits).expect("8 digits for 4 bytes");
            out.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
        }
        out
    }
}

/// What an update changed: a set of field groups, or unknown (the stored row has no fingerprint: it
/// was written before fingerprints existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangedFields {
    bits: u16,
    unknown: bool,
}

impl ChangedFields {
    /// Compares a stored fingerprint (if any) with the incoming one.
    pub fn between(stored: Option<&str>, incoming: &str) -> ChangedFields {
        let expected = WorkerField::ALL.len() * WIDTH;
        let Some(stored) = stored.filter(|s| s.len() == expected && incoming.len() == expected)
        else {
            return ChangedFields {
                bits: 0,
                unknown: true,
            };
        };
        let mut bits = 0u16;
        for (i, _) in WorkerField::ALL.iter().enumerate() {
            let range = i * WIDTH..(i + 1) * WIDTH;
            if stored.get(range.clone()) != incoming.get(range) {
                bits |= 1 << i;
            }
        }
        ChangedFields {
            bits,
            unknown: false,
        }
    }

    pub fn contains(self, field: WorkerField) -> bool {
        let i = WorkerField::ALL
            .iter()
            .position(|f| *f == field)
            .expect("every field is listed in ALL");
        self.bits & (1 << i) != 0
    }

    pub fn is_unknown(self) -> bool {
        self.unknown
    }
}

/// How many updates of a batch changed each field group (`unknown`: rows without a fingerprint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldCounts {
    counts: [i64; WorkerField::ALL.len()],
    unknown: i64,
}

impl FieldCounts {
    pub fn add(&mut self, changed: ChangedFields) {
        if changed.is_unknown() {
            self.unknown += 1;
            return;
        }
        for (i, field) in WorkerField::ALL.iter().enumerate() {
            if changed.contains(*field) {
                self.counts[i] += 1;
            }
        }
    }

    pub fn merge(&mut self, other: &FieldCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.unknown += other.unknown;
    }

    pub fn get(&self, field: WorkerField) -> i64 {
        let i = WorkerField::ALL
            .iter()
            .position(|f| *f == field)
            .expect("every field is listed in ALL");
        self.counts[i]
    }

    pub fn unknown(&self) -> i64 {
        self.unknown
    }

    /// `{"name": 3, …, "unknown": 0}`: every field group, so a report has the same shape every time.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for field in WorkerField::ALL {
            map.insert(field.code().into(), self.get(field).into());
        }
        map.insert("unknown".into(), self.unknown.into());
        serde_json::Value::Object(map)
    }

    /// Reads what `to_json` wrote (missing or unreadable → all zero: an older batch reported nothing).
    pub fn from_json(text: Option<&str>) -> FieldCounts {
        let value: serde_json::Value = text
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let read = |key: &str| {
            value
                .get(key)
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0)
        };
        let mut counts = FieldCounts::default();
        for (i, field) in WorkerField::ALL.iter().enumerate() {
            counts.counts[i] = read(field.code());
        }
        counts.unknown = read("unknown");
        counts
    }
}
