//! The simulated registry: every version of every record, so that a client pinning `updated_until`
//! sees a stable window while records change (CONTRACT §1.2), plus the bad records of §1 and the ground
//! truth tests check against.

use crate::people::{person, str_number, street, ProfessionPicker};
use crate::rng::Rng;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Kinds of bad record (the end of CONTRACT §1), each with the reason a correct client rejects it for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum BadKind {
    NikShort,
    NikProvince,
    NikMasked,
    NameMasked,
    StrInvalid,
    StrMissing,
    StrInactive,
    StrExpired,
    BirthDateImpossible,
    BirthDateFuture,
    UnknownProfession,
    WrongType,
    NameMissing,
    DuplicateStr,
}

impl BadKind {
    pub const ALL: [BadKind; 14] = [
        BadKind::NikShort,
        BadKind::NikProvince,
        BadKind::NikMasked,
        BadKind::NameMasked,
        BadKind::StrInvalid,
        BadKind::StrMissing,
        BadKind::StrInactive,
        BadKind::StrExpired,
        BadKind::BirthDateImpossible,
        BadKind::BirthDateFuture,
        BadKind::UnknownProfession,
        BadKind::WrongType,
        BadKind::NameMissing,
        BadKind::DuplicateStr,
    ];

    /// The reason code; a duplicate split from its original by a page boundary is seen as an
    /// `identity_conflict` instead (the original is then a stored worker).
    pub fn reason(self) -> &'static str {
        match self {
            BadKind::NikShort | BadKind::NikProvince => "invalid_nik",
            BadKind::NikMasked | BadKind::NameMasked => "masked_value",
            BadKind::StrInvalid => "invalid_str",
            BadKind::StrMissing | BadKind::NameMissing => "missing_field",
            BadKind::StrInactive => "str_inactive",
            BadKind::StrExpired => "str_expired",
            BadKind::BirthDateImpossible | BadKind::BirthDateFuture => "invalid_birth_date",
            BadKind::UnknownProfession => "unknown_profession",
            BadKind::WrongType => "invalid_format",
            BadKind::DuplicateStr => "duplicate_str",
        }
    }
}

/// Records share timestamps in groups of this size by default, so ties cross page boundaries.
pub const TIE_GROUP: u64 = 7;
const BASE_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const STEP_MS: i64 = 37_000;

#[derive(Debug, Clone, Copy)]
pub struct Version {
    pub idx: u32,
    pub updated_ms: i64,
    /// When a newer version replaced this one; `i64::MAX` while current.
    pub superseded_ms: i64,
    pub changes: u16,
    pub renewals: u16,
    pub revoked: bool,
    pub nik_conflict: bool,
    str_key: u64,
}

impl Version {
    /// A worker's first version, current until a change supersedes it.
    fn first(idx: u32, updated_ms: i64) -> Version {
        Version {
            idx,
            updated_ms,
            superseded_ms: i64::MAX,
            changes: 0,
            renewals: 0,
            revoked: false,
            nik_conflict: false,
            str_key: 0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdvanceSpec {
    pub changed: u32,
    pub renewed: u32,
    pub revoked: u32,
    pub new_workers: u32,
    pub nik_conflicts: u32,
    /// STR numbers of workers to change (as `changed` does, to chosen workers): a test changes a record
    /// it knows.
    pub change_str: Vec<String>,
    /// Stamp the changes this many milliseconds before the moment they become visible, as a registry
    /// read from a lagging replica does (or one that stamps a row when its transaction starts).
    pub stamp_lag_ms: i64,
    /// Workers taken out of the registry (no record lists them any more); a later `change_str` of one
    /// brings it back.
    pub removed: u32,
    /// STR numbers of workers to take out, as `removed` does.
    pub remove_str: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AdvanceReport {
    pub at: String,
    pub changed: Vec<String>,
    pub renewed: Vec<(String, String)>,
    pub revoked: Vec<String>,
    pub new_workers: Vec<String>,
    pub nik_conflicts: Vec<String>,
    /// STR numbers of the workers taken out of the registry.
    pub removed: Vec<String>,
}

impl AdvanceReport {
    /// Records the next window contains.
    pub fn total(&self) -> usize {
        self.changed.len()
            + self.renewed.len()
            + self.revoked.len()
            + self.new_workers.len()
            + self.nik_conflicts.len()
    }
}

pub struct Dataset {
    seed: u64,
    bad_share: f64,
    base_count: u32,
    total_count: u32,
    versions: Vec<Version>,
    current: Vec<u32>,
    generation: u64,
    picker: ProfessionPicker,
    /// Records generated with one `updated_at`, in a row.
    tie_group: u64,
    /// Every record's licences carry their issue date (`sip[].tanggal_terbit`): a field RegNakes may
    /// add one day, which the mapping does not know.
    pub sip_issue_dates: bool,
    /// `visible[i]`: how many of `versions[..i]` are current (the registry shows no other), so a page of
    /// any window is found without walking it.
    visible: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowKey {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub rumpun: Option<String>,
    pub jenis: Option<String>,
}

impl Dataset {
    pub fn generate(records: u32, seed: u64, bad_share: f64) -> Dataset {
        Dataset::generate_with_ties(records, seed, bad_share, TIE_GROUP)
    }

    /// `generate`, with `tie_group` records in a row sharing one `updated_at`.
    pub fn generate_with_ties(records: u32, seed: u64, bad_share: f64, tie_group: u64) -> Dataset {
        let tie_group = tie_group.max(1);
        let picker = ProfessionPicker::new();
        let mut versions: Vec<Version> = (0..records)
            .map(|idx| Version::first(idx, BASE_MS + (u64::from(idx) / tie_group) as i64 * STEP_MS))
            .collect();
        let mut data = Dataset {
            seed,
            bad_share,
            base_count: records,
            total_count: records,
            versions: Vec::new(),
            current: Vec::new(),
            generation: 0,
            picker,
            tie_group,
            visible: Vec::new(),
            sip_issue_dates: false,
        };
        for v in &mut versions {
            v.str_key = data.str_key(v);
        }
        versions.sort_by_key(|v| (v.updated_ms, v.str_key, v.idx));
        data.current = vec![0; records as usize];
        for (pos, v) in versions.iter().enumerate() {
            data.current[v.idx as usize] = pos as u32;
        }
        data.versions = versions;
        data.count_visible();
        data
    }

    /// Recounts `visible` after the versions changed.
    fn count_visible(&mut self) {
        self.visible.clear();
        self.visible.reserve(self.versions.len() + 1);
        let mut n = 0u32;
        self.visible.push(0);
        for v in &self.versions {
            n += u32::from(v.superseded_ms == i64::MAX);
            self.visible.push(n);
        }
    }

    /// One page of an unfiltered window as the live registry answers it now: the total, and the
    /// positions of the page's records. `None` for a filtered window (see `window`).
    pub fn page(&self, key: &WindowKey, page: u64, limit: u64) -> Option<(u64, Vec<u32>)> {
        if key.rumpun.is_some() || key.jenis.is_some() {
            return None;
        }
        let start = key
            .since_ms
            .map_or(0, |s| self.versions.partition_point(|v| v.updated_ms < s));
        let end = key.until_ms.map_or(self.versions.len(), |u| {
            self.versions.partition_point(|v| v.updated_ms < u)
        });
        let end = end.max(start);
        let before = self.visible[start];
        let total = u64::from(self.visible[end] - before);
        let skip = (page - 1).saturating_mul(limit);
        if skip >= total {
            return Some((total, Vec::new()));
        }
        // The first position with `skip` current versions between `start` and it.
        let first = start
            + self.visible[start..=end].partition_point(|&n| u64::from(n - before) <= skip)
            - 1;
        let rows = (first..end)
            .filter(|&pos| self.versions[pos].superseded_ms == i64::MAX)
            .take(limit as usize)
            .map(|pos| pos as u32)
            .collect();
        Some((total, rows))
    }

    fn str_key(&self, v: &Version) -> u64 {
        let number = match self.bad_kind(v.idx) {
            Some(BadKind::DuplicateStr) => str_number(u64::from(v.idx) - 1, 0),
            _ => str_number(u64::from(v.idx), u32::from(v.renewals)),
        };
        number.parse().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.total_count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.total_count == 0
    }

    /// Which bad kind, if any, record `idx` was generated as (only original records can be bad).
    pub fn bad_kind(&self, idx: u32) -> Option<BadKind> {
        if idx >= self.base_count {
            return None;
        }
        let mut rng = Rng::for_item(self.seed, 2, u64::from(idx));
        if !rng.chance(self.bad_share) {
            return None;
        }
        let kind = *rng.pick(&BadKind::ALL);
        // A duplicate copies the STR of the good record just before it, in the same timestamp group, so
        // the two sit side by side in the upstream order.
        let dup_ok = kind != BadKind::DuplicateStr
            || (u64::from(idx) % self.tie_group != 0 && self.bad_kind(idx - 1).is_none());
        Some(if dup_ok { kind } else { BadKind::NikShort })
    }

    /// The versions a query sees: in the window and current (CONTRACT §1: a live registry; a record
    /// changed while a client pages leaves its place, and everything after it moves one earlier).
    pub fn window(&self, key: &WindowKey) -> Vec<u32> {
        let start = key
            .since_ms
            .map_or(0, |s| self.versions.partition_point(|v| v.updated_ms < s));
        let end = key.until_ms.map_or(self.versions.len(), |u| {
            self.versions.partition_point(|v| v.updated_ms < u)
        });
        let rows = &self.picker.rows;
        (start..end.max(start))
            .filter(|&pos| {
                let v = &self.versions[pos];
                if v.superseded_ms != i64::MAX {
                    return false;
                }
                if key.rumpun.is_none() && key.jenis.is_none() {
                    return true;
                }
                let p = &rows[person(self.seed, u64::from(v.idx), &self.picker).profession];
                key.rumpun.as_deref().is_none_or(|r| r == p.group_code)
                    && key.jenis.as_deref().is_none_or(|j| j == p.code)
            })
            .map(|pos| pos as u32)
            .collect()
    }

    /// The record as JSON text, appended to `out` (the fast path of page serving).
    pub fn render_into(&self, pos: u32, out: &mut Vec<u8>) {
        let v = &self.versions[pos as usize];
        let record = self.record(v);
        let written = match self.bad_kind(v.idx) {
            None => serde_json::to_writer(&mut *out, &record),
            Some(kind) => {
                let mut value = serde_json::to_value(&record).expect("plain data");
                spoil(&mut value, kind, v.idx);
                serde_json::to_writer(&mut *out, &value)
            }
        };
        written.expect("writing JSON to a Vec cannot fail");
    }

    /// The records at `rows`, comma-separated, appended to `out`: the items of a page's `data`.
    pub fn render_items(&self, rows: &[u32], out: &mut Vec<u8>) {
        for (i, &pos) in rows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.render_into(pos, out);
        }
    }

    pub fn render(&self, pos: u32) -> Value {
        let mut out = Vec::new();
        self.render_into(pos, &mut out);
        serde_json::from_slice(&out).expect("rendered JSON parses")
    }

    fn record(&self, v: &Version) -> RecordOut {
        let idx = u64::from(v.idx);
        let p = person(self.seed, idx, &self.picker);
        let row = &self.picker.rows[p.profession];
        let mut rng = Rng::for_item(self.seed, 3 + u64::from(v.changes) * 7, idx);
        let (y, m, d) = p.birth;
        let mut nik = p.nik.clone();
        if v.nik_conflict {
            // Another person's NIK under the same STR: same region and birth date, other serial.
            let serial: u32 = p.nik[12..].parse().unwrap_or(1);
            nik = format!("{}{:04}", &p.nik[..12], serial % 9999 + 1);
        }
        let mut record = RecordOut {
            nik,
            nama: p.name,
            jenis_kelamin: if p.female { "female" } else { "male" },
            tempat_lahir: p.place.to_string(),
            tanggal_lahir: format!("{y}-{m:02}-{d:02}"),
            rumpun: Coded {
                kode: row.group_code,
                nama: row.group_name,
            },
            jenis: Coded {
                kode: row.code,
                nama: row.name,
            },
            str: StrOut {
                nomor: str_number(idx, u32::from(v.renewals)),
                jenis: if p.lifetime_str {
                    "seumur_hidup"
                } else {
                    "berjangka"
                },
                konsil: if row.group_code == "medis" {
                    "KKI"
                } else {
                    "KTKI"
                },
                tanggal_terbit: format!(
                    "{}-{m:02}-{d:02}",
                    p.str_issued_year + i32::from(v.renewals)
                ),
                berlaku_sampai: (!p.lifetime_str)
                    .then(|| format!("{}-{m:02}-{d:02}", p.str_valid_year)),
                status: if v.revoked { "dicabut" } else { "aktif" },
            },
            sip: [SipOut {
                nomor: format!(
                    "446/{}/SIP/{}",
                    100 + idx % 900,
                    p.str_issued_year + i32::from(v.changes)
                ),
                kode_fasyankes: (p.facility + u64::from(v.changes)).to_string(),
                berlaku_sampai: format!("{}-{m:02}-{d:02}", p.str_valid_year + 1),
                tanggal_terbit: self
                    .sip_issue_dates
                    .then(|| format!("{}-{m:02}-{d:02}", p.str_valid_year - 4)),
            }],
            alamat: Some(AlamatOut {
                line: street(&mut rng),
                kode_provinsi: p.regency[..2].to_string(),
                kode_kabkota: p.regency,
            }),
            updated_at: Utc
                .timestamp_millis_opt(v.updated_ms)
                .single()
                .unwrap_or_default()
                .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7"))
                .to_rfc3339_opts(SecondsFormat::Millis, false),
        };
        if self.bad_kind(v.idx).is_none() {
            mess_up(&mut record, &mut Rng::for_item(self.seed, 4, idx));
        }
        record
    }

    /// What a correct client reports for a full sync of the generated data with `page_size`: how many
    /// records are stored, and how many are rejected for each reason.
    pub fn expected_full_sync(&self, page_size: usize) -> Expected {
        let window = self.window(&WindowKey {
            since_ms: None,
            until_ms: None,
            rumpun: None,
            jenis: None,
        });
        let mut page_of = vec![0usize; self.total_count as usize];
        for (i, &pos) in window.iter().enumerate() {
            page_of[self.versions[pos as usize].idx as usize] = i / page_size;
        }
        let mut expected = Expected::default();
        for &pos in &window {
            let idx = self.versions[pos as usize].idx;
            match self.bad_kind(idx) {
                None => expected.stored += 1,
                Some(BadKind::DuplicateStr)
                    if page_of[idx as usize] != page_of[idx as usize - 1] =>
                {
                    *expected.rejected.entry("identity_conflict").or_default() += 1
                }
                Some(kind) => *expected.rejected.entry(kind.reason()).or_default() += 1,
            }
        }
        expected.received = window.len() as u64;
        expected
    }

    /// STR numbers of the valid records currently published (what the store must hold after a full sync).
    pub fn valid_str_numbers(&self) -> HashSet<String> {
        (0..self.total_count)
            .filter(|&idx| self.bad_kind(idx).is_none())
            .map(|idx| {
                let v = &self.versions[self.current[idx as usize] as usize];
                str_number(u64::from(idx), u32::from(v.renewals))
            })
            .collect()
    }

    /// Changes records at `now` (a new version each; the old one stays visible to windows pinned earlier).
    /// Worker `idx`'s next version, changed as `kind` says (see `apply_change`), stamped `stamp_ms` (or
    /// just after its current one); the current one is superseded from then.
    fn next_version(
        &mut self,
        idx: u32,
        kind: u8,
        stamp_ms: i64,
        report: &mut AdvanceReport,
    ) -> Version {
        let old = self.versions[self.current[idx as usize] as usize];
        let mut v = Version {
            updated_ms: stamp_ms.max(old.updated_ms + 1),
            superseded_ms: i64::MAX,
            ..old
        };
        apply_change(kind, idx, &mut v, report);
        v.str_key = self.str_key(&v);
        self.versions[self.current[idx as usize] as usize].superseded_ms = v.updated_ms;
        v
    }

    pub fn advance(&mut self, spec: &AdvanceSpec, now: DateTime<Utc>) -> AdvanceReport {
        self.generation += 1;
        let now_ms = now
            .timestamp_millis()
            .max(self.versions.last().map_or(0, |v| v.updated_ms));
        let mut rng = Rng::for_item(self.seed, 5, self.generation);
        let mut report = AdvanceReport {
            at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            ..Default::default()
        };
        let mut taken = HashSet::new();
        let mut new_versions = Vec::new();
        let wanted = [
            (0, spec.changed),
            (1, spec.renewed),
            (2, spec.revoked),
            (3, spec.nik_conflicts),
        ];
        for (kind, count) in wanted {
            let mut attempts = 0;
            let mut done = 0;
            while done < count && attempts < count * 50 + 100 {
                attempts += 1;
                let idx = rng.below(u64::from(self.base_count.max(1))) as u32;
                if idx >= self.total_count || !self.eligible(idx) || !taken.insert(idx) {
                    continue;
                }
                new_versions.push(self.next_version(
                    idx,
                    kind,
                    now_ms - spec.stamp_lag_ms,
                    &mut report,
                ));
                done += 1;
            }
        }
        for number in &spec.change_str {
            let Some(idx) = self.find_str(number) else {
                continue;
            };
            if !taken.insert(idx) {
                continue;
            }
            new_versions.push(self.next_version(idx, 0, now_ms - spec.stamp_lag_ms, &mut report));
        }
        self.remove(spec, &mut rng, now_ms, &mut taken, &mut report);
        for _ in 0..spec.new_workers {
            let idx = self.total_count;
            self.total_count += 1;
            self.current.push(0);
            let mut v = Version::first(idx, now_ms - spec.stamp_lag_ms.max(0));
            v.str_key = self.str_key(&v);
            report.new_workers.push(str_number(u64::from(idx), 0));
            new_versions.push(v);
        }
        new_versions.sort_by_key(|v| (v.updated_ms, v.str_key, v.idx));
        let in_order = new_versions.first().is_none_or(|first| {
            self.versions.last().is_none_or(|last| {
                (last.updated_ms, last.str_key) <= (first.updated_ms, first.str_key)
            })
        });
        for v in new_versions {
            self.current[v.idx as usize] = self.versions.len() as u32;
            self.versions.push(v);
        }
        if !in_order {
            self.restore_order();
        }
        self.count_visible();
        report
    }

    /// Back-dated changes land before versions already published: re-sort by `(updated_at, STR)`, as
    /// the API lists them, and re-point each worker at its current version.
    fn restore_order(&mut self) {
        self.versions
            .sort_by_key(|v| (v.updated_ms, v.str_key, v.idx));
        for (pos, v) in self.versions.iter().enumerate() {
            if v.superseded_ms == i64::MAX {
                self.current[v.idx as usize] = pos as u32;
            }
        }
    }

    /// Takes workers out of the registry: their current record is superseded by none.
    fn remove(
        &mut self,
        spec: &AdvanceSpec,
        rng: &mut Rng,
        now_ms: i64,
        taken: &mut HashSet<u32>,
        report: &mut AdvanceReport,
    ) {
        let mut chosen = Vec::new();
        let mut attempts = 0;
        while (chosen.len() as u32) < spec.removed && attempts < spec.removed * 50 + 100 {
            attempts += 1;
            let idx = rng.below(u64::from(self.base_count.max(1))) as u32;
            if idx < self.total_count && self.eligible(idx) && taken.insert(idx) {
                chosen.push(idx);
            }
        }
        for number in &spec.remove_str {
            if let Some(idx) = self.find_str(number) {
                if taken.insert(idx) {
                    chosen.push(idx);
                }
            }
        }
        for idx in chosen {
            let v = &mut self.versions[self.current[idx as usize] as usize];
            v.superseded_ms = now_ms;
            report
                .removed
                .push(str_number(u64::from(idx), u32::from(v.renewals)));
        }
    }

    /// The worker whose current record carries STR `number`.
    fn find_str(&self, number: &str) -> Option<u32> {
        (0..self.total_count).find(|&idx| {
            let v = &self.versions[self.current[idx as usize] as usize];
            str_number(u64::from(idx), u32::from(v.renewals)) == number
        })
    }

    /// Good, current, not revoked, not the original of a duplicate: safe to change in one known way.
    fn eligible(&self, idx: u32) -> bool {
        let v = &self.versions[self.current[idx as usize] as usize];
        v.superseded_ms == i64::MAX
            && self.bad_kind(idx).is_none()
            && self.bad_kind(idx + 1) != Some(BadKind::DuplicateStr)
            && !v.revoked
            && !v.nik_conflict
    }
}

#[derive(Serialize)]
struct Coded {
    kode: &'static str,
    nama: &'static str,
}

#[derive(Serialize)]
struct StrOut {
    nomor: String,
    jenis: &'static str,
    konsil: &'static str,
    tanggal_terbit: String,
    berlaku_sampai: Option<String>,
    status: &'static str,
}

#[derive(Serialize)]
struct SipOut {
    nomor: String,
    kode_fasyankes: String,
    berlaku_sampai: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tanggal_terbit: Option<String>,
}

#[derive(Serialize)]
struct AlamatOut {
    line: String,
    kode_provinsi: String,
    kode_kabkota: &'static str,
}

/// One record as RegNakes sends it (CONTRACT §1.2).
#[derive(Serialize)]
struct RecordOut {
    nik: String,
    nama: String,
    jenis_kelamin: &'static str,
    tempat_lahir: String,
    tanggal_lahir: String,
    rumpun: Coded,
    jenis: Coded,
    str: StrOut,
    sip: [SipOut; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    alamat: Option<AlamatOut>,
    updated_at: String,
}

/// Harmless mess on good records: stray whitespace, control characters, day-first dates, no address.
fn mess_up(r: &mut RecordOut, rng: &mut Rng) {
    if rng.chance(0.1) {
        r.nama = format!(" {}\u{0007} ", r.nama.replace(' ', "  \t"));
        r.tempat_lahir.push('\n');
    }
    if rng.chance(0.05) {
        let iso = r.tanggal_lahir.clone();
        r.tanggal_lahir = format!("{}-{}-{}", &iso[8..10], &iso[5..7], &iso[..4]);
    }
    if rng.chance(0.05) {
        r.alamat = None;
    }
}

/// Turns a good record into a bad one of the given kind.
fn spoil(r: &mut Value, kind: BadKind, idx: u32) {
    let nik = r["nik"].as_str().unwrap_or_default().to_string();
    match kind {
        BadKind::NikShort => r["nik"] = json!(nik[..15].to_string()),
        BadKind::NikProvince => r["nik"] = json!(format!("99{}", &nik[2..])),
        BadKind::NikMasked => r["nik"] = json!(format!("{}**********{}", &nik[..4], &nik[14..])),
        BadKind::NameMasked => r["nama"] = json!("d** Yo** S**"),
        BadKind::StrInvalid => r["str"]["nomor"] = json!("STR#??"),
        BadKind::StrMissing => {
            r.as_object_mut().map(|o| o.remove("str"));
        }
        BadKind::StrInactive => r["str"]["status"] = json!("nonaktif"),
        BadKind::StrExpired => r["str"]["berlaku_sampai"] = json!("2019-12-31"),
        BadKind::BirthDateImpossible => r["tanggal_lahir"] = json!("1990-02-31"),
        BadKind::BirthDateFuture => r["tanggal_lahir"] = json!("2099-01-01"),
        BadKind::UnknownProfession => {
            r["jenis"] = json!({"kode": "tukang_pijat", "nama": "Tukang Pijat"})
        }
        BadKind::WrongType => r["nik"] = json!(nik.parse::<u64>().unwrap_or(0)),
        BadKind::NameMissing => {
            r.as_object_mut().map(|o| o.remove("nama"));
        }
        BadKind::DuplicateStr => r["str"]["nomor"] = json!(str_number(u64::from(idx) - 1, 0)),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub received: u64,
    pub stored: u64,
    pub rejected: BTreeMap<&'static str, u64>,
}

impl Expected {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// One kind of upstream change to a worker's new version (0 changed, 1 renewed, 2 revoked, 3 NIK
/// conflict), reported by the STR number it had.
fn apply_change(kind: u8, idx: u32, v: &mut Version, report: &mut AdvanceReport) {
    let old_str = str_number(u64::from(idx), u32::from(v.renewals));
    match kind {
        0 => {
            v.changes += 1;
            report.changed.push(old_str);
        }
        1 => {
            v.renewals += 1;
            report
                .renewed
                .push((old_str, str_number(u64::from(idx), u32::from(v.renewals))));
        }
        2 => {
            v.revoked = true;
            report.revoked.push(old_str);
        }
        _ => {
            v.nik_conflict = true;
            report.nik_conflicts.push(old_str);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_every_bad_kind_present() {
        let a = Dataset::generate(3000, 42, 0.2);
        let b = Dataset::generate(3000, 42, 0.2);
        assert_eq!(a.render(17), b.render(17));
        let kinds: HashSet<BadKind> = (0..3000).filter_map(|i| a.bad_kind(i)).collect();
        assert_eq!(kinds.len(), BadKind::ALL.len(), "{kinds:?}");
        let e = a.expected_full_sync(1000);
        assert_eq!(e.received, 3000);
        assert_eq!(e.stored + e.rejected_total(), 3000);
    }

    #[test]
    fn a_pinned_window_loses_changed_records_and_later_ones_move_up() {
        // CONTRACT §1: the registry is live. Pinning `updated_until` keeps changed records out of the
        // window; it does not keep them in it.
        let mut data = Dataset::generate(500, 7, 0.0);
        let until = Utc::now();
        let key = WindowKey {
            since_ms: None,
            until_ms: Some(until.timestamp_millis()),
            rumpun: None,
            jenis: None,
        };
        let before = data.window(&key);
        let second_page_before: Vec<Value> = data
            .page(&key, 2, 100)
            .unwrap()
            .1
            .iter()
            .map(|&p| data.render(p))
            .collect();
        let report = data.advance(
            &AdvanceSpec {
                changed: 20,
                renewed: 5,
                revoked: 3,
                new_workers: 4,
                nik_conflicts: 2,
                ..AdvanceSpec::default()
            },
            until + chrono::Duration::seconds(1),
        );
        assert_eq!(report.total(), 34);
        let after = data.window(&key);
        assert_eq!(
            after.len(),
            before.len() - 30,
            "changed records left the window"
        );
        let (total, second_page) = data.page(&key, 2, 100).unwrap();
        assert_eq!(total as usize, after.len());
        let second_page: Vec<Value> = second_page.iter().map(|&p| data.render(p)).collect();
        assert_ne!(second_page, second_page_before, "later records moved up");
        assert_eq!(second_page.len(), 100);
        let next = WindowKey {
            since_ms: Some(until.timestamp_millis()),
            until_ms: None,
            rumpun: None,
            jenis: None,
        };
        assert_eq!(data.window(&next).len(), 34);
        assert_eq!(data.page(&next, 1, 1000).unwrap().0, 34);
    }

    #[test]
    fn a_page_is_the_slice_of_the_window() {
        let mut data = Dataset::generate(700, 3, 0.1);
        data.advance(
            &AdvanceSpec {
                changed: 40,
                ..AdvanceSpec::default()
            },
            Utc::now(),
        );
        let key = WindowKey {
            since_ms: Some(BASE_MS + 20 * STEP_MS),
            until_ms: None,
            rumpun: None,
            jenis: None,
        };
        let window = data.window(&key);
        for page in 1..=8u64 {
            let (total, rows) = data.page(&key, page, 100).unwrap();
            assert_eq!(total as usize, window.len());
            let start = ((page - 1) * 100) as usize;
            let expected: Vec<u32> = window.iter().skip(start).take(100).copied().collect();
            assert_eq!(rows, expected, "page {page}");
        }
    }

    #[test]
    fn late_stamped_changes_land_before_a_window_already_read() {
        let mut data = Dataset::generate(500, 7, 0.0);
        let read_until = Utc::now();
        let after_read = WindowKey {
            since_ms: Some(read_until.timestamp_millis()),
            until_ms: None,
            rumpun: None,
            jenis: None,
        };
        // Visible 30 s after a client read up to `read_until`, stamped a minute before that.
        let report = data.advance(
            &AdvanceSpec {
                changed: 10,
                new_workers: 3,
                stamp_lag_ms: 90_000,
                ..AdvanceSpec::default()
            },
            read_until + chrono::Duration::seconds(30),
        );
        assert_eq!(report.total(), 13);
        assert!(
            data.window(&after_read).is_empty(),
            "a cursor at `read_until` never sees them"
        );
        let looking_back = WindowKey {
            since_ms: Some(read_until.timestamp_millis() - 600_000),
            ..after_read
        };
        assert_eq!(data.window(&looking_back).len(), 13, "a lookback does");
        // Still listed in order, and each worker's current version is the new one.
        let all = WindowKey {
            since_ms: None,
            until_ms: None,
            rumpun: None,
            jenis: None,
        };
        let listed = data.window(&all);
        assert_eq!(listed.len(), 503);
        assert!(listed
            .windows(2)
            .all(|w| data.versions[w[0] as usize].updated_ms
                <= data.versions[w[1] as usize].updated_ms));
        let changed: HashSet<String> = report.changed.iter().cloned().collect();
        let stamps: Vec<DateTime<Utc>> = listed
            .iter()
            .map(|&p| data.render(p))
            .filter(|r| changed.contains(r["str"]["nomor"].as_str().unwrap()))
            .map(|r| {
                DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap())
                    .unwrap()
                    .into()
            })
            .collect();
        assert_eq!(
            stamps.len(),
            10,
            "each changed worker is listed once, at its new version"
        );
        assert!(stamps.iter().all(|t| *t < read_until), "{stamps:?}");
    }
}
