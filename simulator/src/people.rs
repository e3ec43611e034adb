//! Generated health workers: realistic Indonesian names with professional titles, places of birth with
//! their province and regency codes, NIKs consistent with birth date and sex, professions in national
//! proportions, lifetime and dated STRs.

use crate::rng::Rng;

pub const PROFESSIONS_CSV: &str = include_str!("../../server/reference/professions.csv");

#[derive(Debug, Clone)]
pub struct ProfessionRow {
    pub group_code: &'static str,
    pub group_name: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    pub share: u32,
}

pub fn professions() -> Vec<ProfessionRow> {
    PROFESSIONS_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let c: Vec<&'static str> = line.split(',').collect();
            ProfessionRow {
                group_code: c[0],
                group_name: c[1],
                code: c[2],
                name: c[3],
                share: c[4].trim().parse().unwrap_or(1),
            }
        })
        .collect()
}

const MALE: &[&str] = &[
    "Budi", "Agus", "Andi", "Rizky", "Dedi", "Hendra", "Joko", "Ahmad", "Muhammad", "Fajar",
    "Yusuf", "Bambang", "Eko", "Taufik", "Arif", "Dimas", "Gede", "Made", "Wayan", "Irfan", "Rudi",
    "Slamet", "Teguh", "Hasan",
];
const FEMALE: &[&str] = &[
    "Siti",
    "Dewi",
    "Sri",
    "Ayu",
    "Nur",
    "Putri",
    "Rina",
    "Wulan",
    "Fitri",
    "Indah",
    "Lestari",
    "Kartika",
    "Ratna",
    "Yuni",
    "Nurul",
    "Rahmawati",
    "Ani",
    "Dian",
    "Maya",
    "Novi",
    "Ketut",
    "Intan",
    "Annisa",
    "Eka",
];
const FAMILY: &[&str] = &[
    "Aminah",
    "Santoso",
    "Wijaya",
    "Saputra",
    "Hidayat",
    "Lubis",
    "Siregar",
    "Nasution",
    "Harahap",
    "Simanjuntak",
    "Pratama",
    "Kurniawan",
    "Setiawan",
    "Rahman",
    "Hakim",
    "Susanti",
    "Wahyuni",
    "Handayani",
    "Purnamasari",
    "Sembiring",
    "Tanjung",
    "Manurung",
    "Sihombing",
    "Putra",
    "Utami",
    "Nugroho",
    "Wibowo",
    "Halim",
    "Mahendra",
];
/// (place of birth, regency code): the province is its first two digits.
const PLACES: &[(&str, &str)] = &[
    ("Garut", "3205"),
    ("Bandung", "3273"),
    ("Bogor", "3201"),
    ("Jakarta Selatan", "3174"),
    ("Surabaya", "3578"),
    ("Semarang", "3374"),
    ("Yogyakarta", "3471"),
    ("Medan", "1275"),
    ("Padang", "1371"),
    ("Palembang", "1671"),
    ("Makassar", "7371"),
    ("Denpasar", "5171"),
    ("Mataram", "5271"),
    ("Kupang", "5371"),
    ("Pontianak", "6171"),
    ("Banjarmasin", "6371"),
    ("Samarinda", "6472"),
    ("Manado", "7171"),
    ("Ambon", "8171"),
    ("Jayapura", "9171"),
    ("Banda Aceh", "1171"),
    ("Pekanbaru", "1471"),
    ("Jambi", "1571"),
    ("Bengkulu", "1771"),
    ("Bandar Lampung", "1871"),
    ("Pangkal Pinang", "1971"),
    ("Batam", "2171"),
    ("Serang", "3604"),
    ("Malang", "3573"),
    ("Solo", "3372"),
    ("Kendari", "7471"),
    ("Palu", "7271"),
    ("Gorontalo", "7571"),
    ("Mamuju", "7602"),
    ("Ternate", "8271"),
    ("Sorong", "9271"),
    ("Merauke", "9101"),
    ("Tasikmalaya", "3278"),
    ("Cirebon", "3274"),
    ("Kediri", "3571"),
];
const STREETS: &[&str] = &[
    "Merdeka",
    "Sudirman",
    "Diponegoro",
    "Gatot Subroto",
    "Ahmad Yani",
    "Pahlawan",
    "Kesehatan",
    "Veteran",
];

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub female: bool,
    pub place: &'static str,
    pub regency: &'static str,
    pub birth: (i32, u32, u32),
    pub nik: String,
    pub profession: usize,
    pub lifetime_str: bool,
    pub str_issued_year: i32,
    pub str_valid_year: i32,
    pub facility: u64,
}

/// A cumulative table for picking a profession by national share.
pub struct ProfessionPicker {
    pub rows: Vec<ProfessionRow>,
    cumulative: Vec<u32>,
}

impl ProfessionPicker {
    pub fn new() -> Self {
        let rows = professions();
        let mut total = 0;
        let cumulative = rows
            .iter()
            .map(|r| {
                total += r.share;
                total
            })
            .collect();
        ProfessionPicker { rows, cumulative }
    }

    pub fn pick(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = rng.below(u64::from(total)) as u32;
        self.cumulative.partition_point(|&c| c <= x)
    }
}

impl Default for ProfessionPicker {
    fn default() -> Self {
        Self::new()
    }
}

fn titled(rng: &mut Rng, code: &str, given: &str, family: &str) -> String {
    let base = format!("{given} {family}");
    match code {
        "dokter" => format!("dr. {base}"),
        "dokter_spesialis" | "dokter_subspesialis" => {
            format!(
                "dr. {base}, {}",
                rng.pick(&["Sp.PD", "Sp.A", "Sp.OG", "Sp.B", "Sp.JP"])
            )
        }
        "dokter_gigi" => format!("drg. {base}"),
        "dokter_gigi_spesialis" => format!("drg. {base}, Sp.KG"),
        "perawat" => format!(
            "{base}, {}",
            rng.pick(&["S.Kep., Ners", "A.Md.Kep", "S.Kep."])
        ),
        "bidan" => format!(
            "{base}, {}",
            rng.pick(&["A.Md.Keb", "S.Tr.Keb", "S.Keb., Bd."])
        ),
        "apoteker" => format!("apt. {base}, S.Farm."),
        _ if rng.chance(0.5) => format!("{base}, S.Kes."),
        _ => base,
    }
}

pub fn person(seed: u64, idx: u64, picker: &ProfessionPicker) -> Person {
    let mut rng = Rng::for_item(seed, 1, idx);
    let profession = picker.pick(&mut rng);
    let code = picker.rows[profession].code;
    let female = match code {
        "bidan" => true,
        "perawat" => rng.chance(0.7),
        _ => rng.chance(0.5),
    };
    let given = *rng.pick(if female { FEMALE } else { MALE });
    let family = *rng.pick(FAMILY);
    let name = titled(&mut rng, code, given, family);
    let &(place, regency) = rng.pick(PLACES);
    let year = 1960 + rng.below(43) as i32;
    let month = 1 + rng.below(12) as u32;
    let day = 1 + rng.below(28) as u32;
    let district = 1 + rng.below(30);
    let serial = 1 + rng.below(9999);
    let nik = format!(
        "{regency}{district:02}{:02}{month:02}{:02}{serial:04}",
        day + if female { 40 } else { 0 },
        year % 100
    );
    let lifetime_str = rng.chance(0.7);
    let str_issued_year = 2015 + rng.below(10) as i32;
    let str_valid_year = 2027 + rng.below(5) as i32;
    Person {
        name,
        female,
        place,
        regency,
        birth: (year, month, day),
        nik,
        profession,
        lifetime_str,
        str_issued_year,
        str_valid_year,
        facility: 1_000_000_000 + rng.below(9_000_000),
    }
}

pub fn street(rng: &mut Rng) -> String {
    format!("Jl. {} No. {}", rng.pick(STREETS), 1 + rng.below(200))
}

/// A 16-digit STR number, unique per (worker, renewal): an affine bijection keeps numbers distinct.
pub fn str_number(idx: u64, renewals: u32) -> String {
    const SPACE: u64 = 100_000_000_000_000; // 10^14
    let scrambled = (idx.wrapping_mul(48_271_u64 * 2 + 1) + 7_919) % SPACE;
    format!("{:02}{scrambled:014}", 10 + renewals % 90)
}
