//! Pure transformation of one upstream record: raw JSON → sanitised → validated `HealthWorker`, or a
//! `Rejection` with its reason code (CONTRACT §2). No I/O; whether an inactive STR is acceptable depends
//! on the store (a known worker must learn of a revocation), so activity is reported, not judged, here.

use crate::domain::health_worker::{Address, PracticeLicence, StrActivity};
use crate::domain::nik::{mask, NikError};
use crate::domain::sanitize::clean_text;
use crate::domain::{
    HealthWorker, Nik, PersonName, PlaceName, Profession, ProfessionCatalogue, RejectReason, Sex,
    StrCertificate, StrNumber, StrStatus,
};
use crate::regnakes::dto::{NakesRecord, StrDto, Text};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::borrow::Cow;

#[derive(Clone)]
pub struct TransformContext {
    /// The sync date: STR activity and "not in the future" are judged against it.
    pub today: NaiveDate,
    pub catalogue: &'static ProfessionCatalogue,
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub worker: HealthWorker,
    pub activity: StrActivity,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    pub message: String,
}

impl Rejection {
    fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Rejection {
            reason,
            message: message.into(),
        }
    }
}

/// The outcome of transforming one record. The STR number, when one could be read, travels with a
/// rejection too: matching counts numbers repeated in the page, and the error list shows it.
#[derive(Debug)]
pub enum Transformed {
    Valid(Box<Candidate>),
    Rejected {
        rejection: Rejection,
        str_number: Option<String>,
    },
}

impl Transformed {
    pub fn str_number(&self) -> Option<&str> {
        match self {
            Transformed::Valid(c) => Some(c.worker.str_certificate.number.as_str()),
            Transformed::Rejected { str_number, .. } => str_number.as_deref(),
        }
    }
}

#[cfg(test)]
pub fn transform(raw: &str, ctx: &TransformContext) -> Transformed {
    transform_noting(raw, ctx, &mut Vec::new())
}

/// `transform`, noting the record's paths the mapping does not know in `unknown` (`rules::unknown_fields`).
pub fn transform_noting(
    raw: &str,
    ctx: &TransformContext,
    unknown: &mut Vec<String>,
) -> Transformed {
    // Tracking the path costs on every field; only a record that fails needs it, for the message.
    let parsed = parse_noting(raw, unknown).or_else(|_| {
        let mut de = serde_json::Deserializer::from_str(raw);
        serde_path_to_error::deserialize::<_, NakesRecord>(&mut de)
    });
    let record: NakesRecord = match parsed {
        Ok(record) => record,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return Transformed::Rejected {
                rejection: Rejection::new(
                    RejectReason::InvalidFormat,
                    format!("field `{path}`: {}", describe_serde_error(&inner)),
                ),
                str_number: None,
            };
        }
    };
    match validate(&record, ctx) {
        Ok(candidate) => Transformed::Valid(Box::new(candidate)),
        Err(rejection) => Transformed::Rejected {
            rejection,
            str_number: record.str.as_ref().and_then(|s| optional(&s.nomor)),
        },
    }
}

/// Parses a record, noting each key the wire types do not know (`regnakes::wire_struct`). A record of
/// the usual shape is read by the scan, which has no unknown key to note; serde reads the rest.
fn parse_noting<'a>(
    raw: &'a str,
    unknown: &mut Vec<String>,
) -> Result<NakesRecord<'a>, serde_json::Error> {
    use crate::regnakes::wire_struct::{noting_unknown, scan_whole};
    match scan_whole(raw) {
        Ok(record) => Ok(record),
        Err(_) => noting_unknown(unknown, || serde_json::from_str(raw)),
    }
}

/// An upstream `updated_at` (RFC 3339, any offset), in UTC; `None` when it is not one.
pub fn upstream_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// serde's messages quote the offending value; for an identity field that could be a NIK, so keep only
/// the kind of mistake.
fn describe_serde_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    match text.find('`') {
        Some(start) if text[start + 1..].contains('`') => {
            let end = start + 1 + text[start + 1..].find('`').unwrap_or(0);
            let quoted = &text[start + 1..end];
            format!("{}`{}`{}", &text[..start], mask(quoted), &text[end + 1..])
        }
        _ => text.to_string(),
    }
}

fn required<'v>(value: &'v Text<'_>, field: &str) -> Result<Cow<'v, str>, Rejection> {
    let cleaned = value.as_deref().map(clean_text).unwrap_or_default();
    if cleaned.is_empty() {
        return Err(Rejection::new(
            RejectReason::MissingField,
            format!("field `{field}` is missing or empty"),
        ));
    }
    Ok(cleaned)
}

/// A field that may be missing or empty, cleaned; borrowed where it is only parsed or compared.
fn present<'v>(value: &'v Text<'_>) -> Option<Cow<'v, str>> {
    value.as_deref().map(clean_text).filter(|s| !s.is_empty())
}

/// A field that may be missing or empty, cleaned, as stored.
fn optional(value: &Text<'_>) -> Option<String> {
    present(value).map(Cow::into_owned)
}

fn validate(record: &NakesRecord, ctx: &TransformContext) -> Result<Candidate, Rejection> {
    let str_dto = record
        .str
        .as_ref()
        .ok_or_else(|| Rejection::new(RejectReason::MissingField, "field `str` is missing"))?;
    let str_certificate = parse_str(str_dto)?;
    let nik = parse_nik(record, ctx)?;
    let name = parse_name(record)?;
    let birth_date = parse_birth_date(record, ctx)?;
    let profession = parse_profession(record, ctx)?;
    let sex = record.jenis_kelamin.as_deref().and_then(parse_sex);
    let warnings = cross_checks(record, &nik, sex, birth_date, profession, ctx);
    let activity = str_certificate.activity_on(ctx.today);
    Ok(Candidate {
        worker: HealthWorker {
            nik,
            name,
            sex,
            birth_place: PlaceName::parse(record.tempat_lahir.as_deref().unwrap_or_default()),
            birth_date,
            profession,
            str_certificate,
            licences: licences(record),
            address: address(record),
            upstream_updated_at: record.updated_at.as_deref().and_then(upstream_time),
        },
        activity,
        warnings,
    })
}

fn parse_nik(record: &NakesRecord, ctx: &TransformContext) -> Result<Nik, Rejection> {
    let nik_text = required(&record.nik, "nik")?;
    Nik::parse(&nik_text, ctx.today).map_err(|err| {
        let reason = match err {
            NikError::Masked => RejectReason::MaskedValue,
            _ => RejectReason::InvalidNik,
        };
        Rejection::new(
            reason,
            format!("field `nik` value {}: {err}", mask(&nik_text)),
        )
    })
}

fn parse_name(record: &NakesRecord) -> Result<PersonName, Rejection> {
    let name_text = required(&record.nama, "nama")?;
    PersonName::parse(&name_text).map_err(|err| {
        let reason = if name_text.contains('*') {
            RejectReason::MaskedValue
        } else {
            RejectReason::MissingField
        };
        Rejection::new(reason, format!("field `nama` value {name_text:?} {err}"))
    })
}

fn parse_birth_date(record: &NakesRecord, ctx: &TransformContext) -> Result<NaiveDate, Rejection> {
    let birth_text = required(&record.tanggal_lahir, "tanggal_lahir")?;
    parse_date(&birth_text)
        .filter(|d| *d <= ctx.today && d.year() >= 1900)
        .ok_or_else(|| {
            Rejection::new(
                RejectReason::InvalidBirthDate,
                format!(
                    "field `tanggal_lahir` value {birth_text:?} is not a real date in the past"
                ),
            )
        })
}

fn parse_profession(
    record: &NakesRecord,
    ctx: &TransformContext,
) -> Result<&'static Profession, Rejection> {
    let jenis = record
        .jenis
        .as_ref()
        .ok_or_else(|| Rejection::new(RejectReason::MissingField, "field `jenis` is missing"))?;
    let jenis_code = required(&jenis.kode, "jenis.kode")?;
    ctx.catalogue.get(&jenis_code).ok_or_else(|| {
        Rejection::new(
            RejectReason::UnknownProfession,
            format!("field `jenis.kode` value {jenis_code:?} is not in the profession reference"),
        )
    })
}

/// What the record says twice and disagrees on: stored, with a warning for review.
fn cross_checks(
    record: &NakesRecord,
    nik: &Nik,
    sex: Option<Sex>,
    birth_date: NaiveDate,
    profession: &Profession,
    ctx: &TransformContext,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let nik_birth = nik.birth_date(ctx.today);
    if nik_birth != birth_date {
        warnings.push(Warning {
            code: "nik_birth_date_mismatch",
            message: format!(
                "NIK {} encodes birth date {nik_birth}, record says {birth_date}",
                nik.masked()
            ),
        });
    }
    if let Some(sex) = sex {
        if (sex == Sex::Female) != nik.is_female() {
            warnings.push(Warning {
                code: "nik_sex_mismatch",
                message: format!(
                    "NIK {} encodes the other sex than {}",
                    nik.masked(),
                    sex.code()
                ),
            });
        }
    }
    if let Some(group) = record.rumpun.as_ref().and_then(|r| present(&r.kode)) {
        if group != profession.group_code {
            warnings.push(Warning {
                code: "rumpun_mismatch",
                message: format!(
                    "rumpun {group:?} does not contain jenis {:?}; stored under {:?}",
                    profession.code, profession.group_code
                ),
            });
        }
    }
    warnings
}

fn licences(record: &NakesRecord) -> Vec<PracticeLicence> {
    record
        .sip
        .iter()
        .flatten()
        .filter_map(|sip| {
            Some(PracticeLicence {
                number: optional(&sip.nomor)?,
                facility_code: optional(&sip.kode_fasyankes),
                valid_until: present(&sip.berlaku_sampai).as_deref().and_then(parse_date),
            })
        })
        .collect()
}

fn address(record: &NakesRecord) -> Address {
    record
        .alamat
        .as_ref()
        .map(|a| Address {
            line: optional(&a.line),
            province_code: optional(&a.kode_provinsi),
            regency_code: optional(&a.kode_kabkota),
        })
        .unwrap_or_default()
}

fn parse_str(dto: &StrDto) -> Result<StrCertificate, Rejection> {
    let number_text = required(&dto.nomor, "str.nomor")?;
    let number = StrNumber::parse(&number_text).map_err(|err| {
        Rejection::new(
            RejectReason::InvalidStr,
            format!("field `str.nomor` value {number_text:?} {err}"),
        )
    })?;
    let status_text = required(&dto.status, "str.status")?;
    let status = StrStatus::parse(&status_text).ok_or_else(|| {
        Rejection::new(
            RejectReason::InvalidStr,
            format!("field `str.status` value {status_text:?} is not aktif, nonaktif or dicabut"),
        )
    })?;
    let valid_until = match present(&dto.berlaku_sampai) {
        None => None,
        Some(text) => Some(parse_date(&text).ok_or_else(|| {
            Rejection::new(
                RejectReason::InvalidStr,
                format!("field `str.berlaku_sampai` value {text:?} is not a date"),
            )
        })?),
    };
    Ok(StrCertificate {
        number,
        kind: optional(&dto.jenis),
        council: optional(&dto.konsil),
        issued_on: present(&dto.tanggal_terbit).as_deref().and_then(parse_date),
        valid_until,
        status,
    })
}

fn parse_sex(raw: &str) -> Option<Sex> {
    const WORDS: [(&str, Sex); 8] = [
        ("male", Sex::Male),
        ("l", Sex::Male),
        ("laki-laki", Sex::Male),
        ("pria", Sex::Male),
        ("female", Sex::Female),
        ("p", Sex::Female),
        ("perempuan", Sex::Female),
        ("wanita", Sex::Female),
    ];
    let cleaned = clean_text(raw);
    WORDS
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(&cleaned))
        .map(|&(_, sex)| sex)
}

/// ISO dates (optionally with a time part), and the day-first forms Indonesian offices write.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let text = raw.trim();
    let date_part = if text.len() > 10 && text.as_bytes().get(10) == Some(&b'T') {
        &text[..10]
    } else {
        text
    };
    iso_date(date_part).or_else(|| {
        ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d"]
            .iter()
            .find_map(|fmt| NaiveDate::parse_from_str(date_part, fmt).ok())
    })
}

/// `YYYY-MM-DD` exactly, the form almost every record uses, without interpreting a format string.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn ctx() -> TransformContext {
        crate::rules::samples::transform_context()
    }

    fn good() -> Value {
        crate::rules::samples::siti()
    }

    fn with(path: &[&str], value: Value) -> String {
        crate::rules::samples::with(good(), path, value).to_string()
    }

    #[test]
    fn sex_and_str_status_are_read_in_any_case_and_spacing() {
        let sexes = [
            ("male", Some(Sex::Male)),
            (" L ", Some(Sex::Male)),
            ("Laki-Laki", Some(Sex::Male)),
            ("PRIA", Some(Sex::Male)),
            ("Female", Some(Sex::Female)),
            ("p", Some(Sex::Female)),
            ("PEREMPUAN\t", Some(Sex::Female)),
            ("wanita", Some(Sex::Female)),
            ("laki laki", None),
            ("", None),
            ("x", None),
        ];
        for (raw, sex) in sexes {
            assert_eq!(parse_sex(raw), sex, "{raw:?}");
        }
        let statuses = [
            ("aktif", Some(StrStatus::Aktif)),
            (" AKTIF ", Some(StrStatus::Aktif)),
            ("NonAktif", Some(StrStatus::Nonaktif)),
            ("dicabut", Some(StrStatus::Dicabut)),
            ("non aktif", None),
            ("", None),
        ];
        for (raw, status) in statuses {
            assert_eq!(StrStatus::parse(raw), status, "{raw:?}");
        }
    }

    fn outcome(raw: &str) -> Result<(StrActivity, usize), RejectReason> {
        match transform(raw, &ctx()) {
            Transformed::Valid(c) => Ok((c.activity, c.warnings.len())),
            Transformed::Rejected { rejection, .. } => Err(rejection.reason),
        }
    }

    #[test]
    fn dates_in_every_accepted_form() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        for (raw, expected) in [
            ("1990-11-12", d(1990, 11, 12)),
            (" 1990-11-12 ", d(1990, 11, 12)),
            ("1990-11-12T08:00:00+07:00", d(1990, 11, 12)),
            ("2024-02-29", d(2024, 2, 29)),
            ("2023-02-29", None),
            ("1990-13-01", None),
            ("1990-1-12", d(1990, 1, 12)),
            ("12-11-1990", d(1990, 11, 12)),
            ("12/11/1990", d(1990, 11, 12)),
            ("1990/11/12", d(1990, 11, 12)),
            ("1990-1a-12", None),
            ("", None),
            ("tanggal", None),
        ] {
            assert_eq!(parse_date(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn rejection_table() {
        use RejectReason::*;
        use StrActivity::*;
        type Case = (
            &'static str,
            String,
            Result<(StrActivity, usize), RejectReason>,
        );
        let cases: Vec<Case> = vec![
            ("good", good().to_string(), Ok((Active, 0))),
            (
                "messy name",
                with(&["nama"], json!("  Siti\t Aminah\u{0007} ")),
                Ok((Active, 0)),
            ),
            (
                "day-first date",
                with(&["tanggal_lahir"], json!("12-11-1990")),
                Ok((Active, 0)),
            ),
            (
                "no address",
                with(&["alamat"], json!("<remove>")),
                Ok((Active, 0)),
            ),
            (
                "birth date differs from NIK",
                with(&["tanggal_lahir"], json!("1990-11-13")),
                Ok((Active, 1)),
            ),
            (
                "sex differs from NIK",
                with(&["jenis_kelamin"], json!("male")),
                Ok((Active, 1)),
            ),
            (
                "revoked",
                with(&["str", "status"], json!("dicabut")),
                Ok((Inactive, 0)),
            ),
            (
                "inactive",
                with(&["str", "status"], json!("nonaktif")),
                Ok((Inactive, 0)),
            ),
            (
                "expired",
                with(&["str", "berlaku_sampai"], json!("2020-01-01")),
                Ok((Expired, 0)),
            ),
            (
                "valid until today",
                with(&["str", "berlaku_sampai"], json!("2026-11-26")),
                Ok((Active, 0)),
            ),
            (
                "nik as number",
                with(&["nik"], json!(3205195211900003u64)),
                Err(InvalidFormat),
            ),
            (
                "str as string",
                with(&["str"], json!("1234567887654321")),
                Err(InvalidFormat),
            ),
            ("not an object", "[1,2]".to_string(), Err(InvalidFormat)),
            (
                "15-digit nik",
                with(&["nik"], json!("320519521190003")),
                Err(InvalidNik),
            ),
            (
                "bad province",
                with(&["nik"], json!("9905195211900003")),
                Err(InvalidNik),
            ),
            (
                "masked nik",
                with(&["nik"], json!("3205**********03")),
                Err(MaskedValue),
            ),
            (
                "masked name",
                with(&["nama"], json!("d** Yo** S**")),
                Err(MaskedValue),
            ),
            (
                "no nik",
                with(&["nik"], json!("<remove>")),
                Err(MissingField),
            ),
            (
                "blank name",
                with(&["nama"], json!("   ")),
                Err(MissingField),
            ),
            (
                "no str",
                with(&["str"], json!("<remove>")),
                Err(MissingField),
            ),
            (
                "no jenis",
                with(&["jenis"], json!("<remove>")),
                Err(MissingField),
            ),
            (
                "bad str",
                with(&["str", "nomor"], json!("12#45678")),
                Err(InvalidStr),
            ),
            (
                "short str",
                with(&["str", "nomor"], json!("12345")),
                Err(InvalidStr),
            ),
            (
                "unknown str status",
                with(&["str", "status"], json!("hilang")),
                Err(InvalidStr),
            ),
            (
                "impossible birth date",
                with(&["tanggal_lahir"], json!("1990-02-31")),
                Err(InvalidBirthDate),
            ),
            (
                "future birth date",
                with(&["tanggal_lahir"], json!("2030-01-01")),
                Err(InvalidBirthDate),
            ),
            (
                "unknown profession",
                with(&["jenis", "kode"], json!("tukang_pijat")),
                Err(UnknownProfession),
            ),
        ];
        for (name, raw, expected) in cases {
            assert_eq!(outcome(&raw), expected, "case {name}");
        }
    }

    #[test]
    fn messages_name_the_field_and_mask_the_nik() {
        let Transformed::Rejected {
            rejection,
            str_number,
        } = transform(&with(&["nik"], json!("320519521190003")), &ctx())
        else {
            panic!("expected a rejection")
        };
        assert!(rejection.message.contains("`nik`"), "{}", rejection.message);
        assert!(
            !rejection.message.contains("320519521190003"),
            "{}",
            rejection.message
        );
        assert_eq!(str_number.as_deref(), Some("1234567887654321"));

        let Transformed::Rejected { rejection, .. } =
            transform(&with(&["nik"], json!(3205195211900003u64)), &ctx())
        else {
            panic!("expected a rejection")
        };
        assert!(rejection.message.contains("nik"), "{}", rejection.message);
        assert!(
            !rejection.message.contains("3205195211900003"),
            "{}",
            rejection.message
        );
    }

    #[test]
    fn sanitised_fields_and_stable_hash() {
        let Transformed::Valid(a) = transform(&good().to_string(), &ctx()) else {
            panic!()
        };
        let Transformed::Valid(b) = transform(
            &with(&["nama"], json!(" Siti  Aminah, S.Kep., Ners\u{0000}")),
            &ctx(),
        ) else {
            panic!()
        };
        assert_eq!(b.worker.name.as_str(), "Siti Aminah, S.Kep., Ners");
        let indexer = crate::rules::samples::indexer();
        assert_eq!(
            indexer.content_hash(&a.worker),
            indexer.content_hash(&b.worker)
        );
        let Transformed::Valid(c) = transform(
            &with(&["updated_at"], json!("2026-01-01T00:00:00Z")),
            &ctx(),
        ) else {
            panic!()
        };
        assert_eq!(
            indexer.content_hash(&a.worker),
            indexer.content_hash(&c.worker),
            "updated_at alone is no change"
        );
        let Transformed::Valid(d) =
            transform(&with(&["alamat", "line"], json!("Jl. Baru")), &ctx())
        else {
            panic!()
        };
        assert_ne!(
            indexer.content_hash(&a.worker),
            indexer.content_hash(&d.worker)
        );
    }

    /// One edit of the upstream record per row, and the one field group it must be reported under.
    #[test]
    fn each_edit_changes_exactly_its_field_group() {
        use crate::domain::worker_fields::{ChangedFields, WorkerField as F};
        let fingerprint = |raw: &str| match transform(raw, &ctx()) {
            Transformed::Valid(c) => c.worker.field_fingerprint(),
            Transformed::Rejected { rejection, .. } => panic!("{}", rejection.message),
        };
        let base = fingerprint(&good().to_string());
        let cases: &[(&[&str], Value, Option<F>)] = &[
            (&["nama"], json!("Siti Aminah, A.Md.Kep."), Some(F::Name)),
            (&["tempat_lahir"], json!("Bandung"), Some(F::Birth)),
            (
                &["str", "nomor"],
                json!("9999999988887777"),
                Some(F::StrNumber),
            ),
            (&["str", "konsil"], json!("KTKI"), Some(F::StrDetails)),
            (
                &["str", "tanggal_terbit"],
                json!("2025-01-02"),
                Some(F::StrDetails),
            ),
            (
                &["str", "berlaku_sampai"],
                json!("2031-01-01"),
                Some(F::StrValidity),
            ),
            (&["str", "status"], json!("nonaktif"), Some(F::StrStatus)),
            (&["sip"], json!([]), Some(F::Licences)),
            (&["alamat", "line"], json!("Jl. Baru"), Some(F::Address)),
            (&["jenis", "kode"], json!("bidan"), Some(F::Profession)),
            (&["updated_at"], json!("2026-01-01T00:00:00Z"), None),
            (&["nama"], json!("  Siti   Aminah, S.Kep., Ners "), None),
        ];
        for (path, value, expected) in cases {
            let edited = fingerprint(&with(path, value.clone()));
            let changed = ChangedFields::between(Some(&base), &edited);
            let reported: Vec<F> = F::ALL
                .into_iter()
                .filter(|f| changed.contains(*f))
                .collect();
            assert_eq!(
                reported,
                expected.iter().copied().collect::<Vec<_>>(),
                "{path:?} = {value}"
            );
        }
        assert!(ChangedFields::between(None, &base).is_unknown());
        assert!(ChangedFields::between(Some("short"), &base).is_unknown());
    }

    #[test]
    fn field_counts_survive_the_batch_row() {
        use crate::domain::worker_fields::{ChangedFields, FieldCounts, WorkerField as F};
        let base = "0".repeat(72);
        let mut renewed = base.clone();
        renewed.replace_range(24..32, "00000001");
        let mut counts = FieldCounts::default();
        counts.add(ChangedFields::between(Some(&base), &renewed));
        counts.add(ChangedFields::between(None, &renewed));
        let again = FieldCounts::from_json(Some(&counts.to_json().to_string()));
        assert_eq!(again, counts);
        assert_eq!(
            (again.get(F::StrNumber), again.get(F::Name), again.unknown()),
            (1, 0, 1)
        );
        assert_eq!(FieldCounts::from_json(None), FieldCounts::default());
    }

    /// Any JSON value, nested a few levels.
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,40}".prop_map(Value::from),
            "[0-9*. ]{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever the registry sends as a record, the transform answers (valid or a rejection).
        #[test]
        fn any_json_value_is_answered_without_panicking(value in any_json()) {
            let _ = transform(&value.to_string(), &ctx());
        }

        /// A good record with one field replaced by anything: still no panic, and a rejection names
        /// a reason.
        #[test]
        fn any_value_in_any_field_is_answered_without_panicking(
            field in proptest::sample::select(vec![
                "nik", "nama", "jenis_kelamin", "tempat_lahir", "tanggal_lahir", "rumpun", "jenis",
                "str", "sip", "alamat", "updated_at",
            ]),
            value in any_json(),
        ) {
            match transform(&with(&[field], value), &ctx()) {
                Transformed::Valid(_) => {}
                Transformed::Rejected { rejection, .. } => {
                    proptest::prop_assert!(!rejection.message.is_empty());
                }
            }
        }

        /// Any bytes at all, even not JSON.
        #[test]
        fn any_bytes_are_answered_without_panicking(text in ".{0,200}") {
            let _ = transform(&text, &ctx());
        }
    }

    /// Malformed and unusual records are accepted, rejected (with the same message) and their unknown
    /// paths noted exactly as the release before the hand-written wire structs did (derive and
    /// `serde_ignored`): the rejection text is stored with each batch's issues.
    #[test]
    fn records_read_as_the_earlier_release_read_them() {
        let siti = crate::rules::samples::siti().to_string();
        let cases: Vec<String> = vec![
            r#"{"nik": 5}"#.into(),
            r#"{"str": {"nomor": 5}}"#.into(),
            r#"{"str": []}"#.into(),
            r#"{"str": ["1234567887654321"]}"#.into(),
            r#"{"nama": "a", "nama": "b"}"#.into(),
            r#"{"str": {"nomor": "x", "nomor": "y"}}"#.into(),
            r#""just a string""#.into(),
            r#"[1, 2]"#.into(),
            r#"{"sip": {"nomor": "1"}}"#.into(),
            r#"{"sip": [5]}"#.into(),
            r#"{"rumpun": "keperawatan"}"#.into(),
            siti.replacen("{", r#"{"gelar": {"a": 1}, "x": [1], "#, 1).replacen(r#""konsil""#, r#""baru": 1, "konsil""#, 1),
            siti.replacen(r#""nama":"Siti"#, r#""n\u0061ma":"Siti"#, 1),
            siti.replacen("1234567887654321", r#"123456788765432\u0031"#, 1),
            siti.replacen(r#""alamat":{"line":"Komplek Kesehatan","kode_provinsi":"32","kode_kabkota":"3205"}"#, r#""alamat":["Komplek", "32", "3205", "extra"]"#, 1),
            siti.replacen(r#""sip":[{"#, r#""sip":[{"z": 1, "#, 1),
            siti.replacen("\"1990-11-12\"", "null", 1),
            siti.replacen("{", r#"{"nik": null, "#, 1),
            r#"{"nik":"1"} x"#.into(),
            r#"{"rumpun": {"nama": {"deep": 1}, "kode": 7}}"#.into(),
            r#"{"alamat": {"line": "a", "line": "b"}}"#.into(),
            r#"{"str": null, "sip": null, "alamat": null, "rumpun": null}"#.into(),
            r#"{"str": {"nomor": "1234567887654321"}} "#.into(),
            r#"{"updated_at": 1}"#.into(),
        ];
        let ctx = crate::rules::samples::transform_context();
        let expected = [
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `nik`: invalid type: integer `*`, expected a string\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `str.nomor`: invalid type: integer `*`, expected a string\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: MissingField, message: \"field `str.nomor` is missing or empty\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: MissingField, message: \"field `str.status` is missing or empty\" }, str_number: Some(\"1234567887654321\") } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `.`: duplicate field `****`\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `str`: duplicate field `*****`\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `.`: invalid type: string \\\"just a string\\\", expected struct NakesRecord\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `[0]`: invalid type: integer `*`, expected a string\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `sip`: invalid type: map, expected a sequence\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `sip[0]`: invalid type: integer `*`, expected struct SipDto\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `rumpun`: invalid type: string \\\"keperawatan\\\", expected struct Coded\" }, str_number: None } []",
            "Valid(Candidate { worker: HealthWorker { nik: Nik(3205**********03), name: PersonName { display: \"Siti Aminah, S.Kep., Ners\", normalized: \"siti aminah\" }, sex: Some(Female), birth_place: PlaceName { display: \"Garut\", normalized: \"garut\" }, birth_date: 1990-11-12, profession: Profession { group_code: \"keperawatan\", group_name: \"Keperawatan\", code: \"perawat\", name: \"Perawat\", share_permille: 352 }, str_certificate: StrCertificate { number: StrNumber(1234567887654321), kind: Some(\"seumur_hidup\"), council: Some(\"KKI\"), issued_on: Some(2024-07-10), valid_until: None, status: Aktif }, licences: [PracticeLicence { number: \"446/SIP/2024\", facility_code: Some(\"1000156689\"), valid_until: Some(2029-07-09) }], address: Address { line: Some(\"Komplek Kesehatan\"), province_code: Some(\"32\"), regency_code: Some(\"3205\") }, upstream_updated_at: Some(2025-03-01T03:11:12Z) }, activity: Active, warnings: [] }) [\"gelar\", \"x\", \"str.baru\"]",
            "Valid(Candidate { worker: HealthWorker { nik: Nik(3205**********03), name: PersonName { display: \"Siti Aminah, S.Kep., Ners\", normalized: \"siti aminah\" }, sex: Some(Female), birth_place: PlaceName { display: \"Garut\", normalized: \"garut\" }, birth_date: 1990-11-12, profession: Profession { group_code: \"keperawatan\", group_name: \"Keperawatan\", code: \"perawat\", name: \"Perawat\", share_permille: 352 }, str_certificate: StrCertificate { number: StrNumber(1234567887654321), kind: Some(\"seumur_hidup\"), council: Some(\"KKI\"), issued_on: Some(2024-07-10), valid_until: None, status: Aktif }, licences: [PracticeLicence { number: \"446/SIP/2024\", facility_code: Some(\"1000156689\"), valid_until: Some(2029-07-09) }], address: Address { line: Some(\"Komplek Kesehatan\"), province_code: Some(\"32\"), regency_code: Some(\"3205\") }, upstream_updated_at: Some(2025-03-01T03:11:12Z) }, activity: Active, warnings: [] }) []",
            "Valid(Candidate { worker: HealthWorker { nik: Nik(3205**********03), name: PersonName { display: \"Siti Aminah, S.Kep., Ners\", normalized: \"siti aminah\" }, sex: Some(Female), birth_place: PlaceName { display: \"Garut\", normalized: \"garut\" }, birth_date: 1990-11-12, profession: Profession { group_code: \"keperawatan\", group_name: \"Keperawatan\", code: \"perawat\", name: \"Perawat\", share_permille: 352 }, str_certificate: StrCertificate { number: StrNumber(1234567887654321), kind: Some(\"seumur_hidup\"), council: Some(\"KKI\"), issued_on: Some(2024-07-10), valid_until: None, status: Aktif }, licences: [PracticeLicence { number: \"446/SIP/2024\", facility_code: Some(\"1000156689\"), valid_until: Some(2029-07-09) }], address: Address { line: Some(\"Komplek Kesehatan\"), province_code: Some(\"32\"), regency_code: Some(\"3205\") }, upstream_updated_at: Some(2025-03-01T03:11:12Z) }, activity: Active, warnings: [] }) []",
            "Valid(Candidate { worker: HealthWorker { nik: Nik(3205**********03), name: PersonName { display: \"Siti Aminah, S.Kep., Ners\", normalized: \"siti aminah\" }, sex: Some(Female), birth_place: PlaceName { display: \"Garut\", normalized: \"garut\" }, birth_date: 1990-11-12, profession: Profession { group_code: \"keperawatan\", group_name: \"Keperawatan\", code: \"perawat\", name: \"Perawat\", share_permille: 352 }, str_certificate: StrCertificate { number: StrNumber(1234567887654321), kind: Some(\"seumur_hidup\"), council: Some(\"KKI\"), issued_on: Some(2024-07-10), valid_until: None, status: Aktif }, licences: [PracticeLicence { number: \"446/SIP/2024\", facility_code: Some(\"1000156689\"), valid_until: Some(2029-07-09) }], address: Address { line: Some(\"Komplek Kesehatan\"), province_code: Some(\"32\"), regency_code: Some(\"3205\") }, upstream_updated_at: Some(2025-03-01T03:11:12Z) }, activity: Active, warnings: [] }) []",
            "Valid(Candidate { worker: HealthWorker { nik: Nik(3205**********03), name: PersonName { display: \"Siti Aminah, S.Kep., Ners\", normalized: \"siti aminah\" }, sex: Some(Female), birth_place: PlaceName { display: \"Garut\", normalized: \"garut\" }, birth_date: 1990-11-12, profession: Profession { group_code: \"keperawatan\", group_name: \"Keperawatan\", code: \"perawat\", name: \"Perawat\", share_permille: 352 }, str_certificate: StrCertificate { number: StrNumber(1234567887654321), kind: Some(\"seumur_hidup\"), council: Some(\"KKI\"), issued_on: Some(2024-07-10), valid_until: None, status: Aktif }, licences: [PracticeLicence { number: \"446/SIP/2024\", facility_code: Some(\"1000156689\"), valid_until: Some(2029-07-09) }], address: Address { line: Some(\"Komplek Kesehatan\"), province_code: Some(\"32\"), regency_code: Some(\"3205\") }, upstream_updated_at: Some(2025-03-01T03:11:12Z) }, activity: Active, warnings: [] }) [\"sip[].z\"]",
            "Rejected { rejection: Rejection { reason: MissingField, message: \"field `tanggal_lahir` is missing or empty\" }, str_number: Some(\"1234567887654321\") } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `.`: duplicate field `***`\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: MissingField, message: \"field `str` is missing\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `rumpun.kode`: invalid type: integer `*`, expected a string\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `alamat`: duplicate field `****`\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: MissingField, message: \"field `str` is missing\" }, str_number: None } []",
            "Rejected { rejection: Rejection { reason: MissingField, message: \"field `str.status` is missing or empty\" }, str_number: Some(\"1234567887654321\") } []",
            "Rejected { rejection: Rejection { reason: InvalidFormat, message: \"field `updated_at`: invalid type: integer `*`, expected a string\" }, str_number: None } []"
        ];
        assert_eq!(cases.len(), expected.len());
        for (raw, expected) in cases.iter().zip(expected) {
            let mut unknown = Vec::new();
            let t = crate::rules::transform::transform_noting(raw, &ctx, &mut unknown);
            assert_eq!(format!("{t:?} {unknown:?}"), expected, "record {raw}");
        }
    }
}
