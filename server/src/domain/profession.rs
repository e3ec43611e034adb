//! The reference list of profession groups (`rumpun`) and professions (`jenis`): the product's own data,
//! shipped in the binary from `reference/professions.csv`.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profession {
    pub group_code: &'static str,
    pub group_name: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    /// Approximate national share, per mille.
    pub share_permille: u32,
}

pub struct ProfessionCatalogue {
    professions: Vec<Profession>,
    by_code: HashMap<&'static str, usize>,
}

pub const PROFESSIONS_CSV: &str = include_str!("../../reference/professions.csv");

impl ProfessionCatalogue {
    /// The catalogue shipped with the product, parsed once.
    pub fn national() -> &'static ProfessionCatalogue {
        static CATALOGUE: OnceLock<ProfessionCatalogue> = OnceLock::new();
        CATALOGUE
            .get_or_init(|| Self::parse(PROFESSIONS_CSV).expect("shipped professions.csv is valid"))
    }

    pub fn parse(csv: &'static str) -> Result<ProfessionCatalogue, String> {
        let mut professions = Vec::new();
        for (line_no, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&'static str> = line.split(',').map(str::trim).collect();
            let [group_code, group_name, code, name, share] = cols[..] else {
                return Err(format!("line {}: expected 5 columns", line_no + 1));
            };
            let share_permille = share
                .parse()
                .map_err(|_| format!("line {}: share {share:?} is not a number", line_no + 1))?;
            professions.push(Profession {
                group_code,
                group_name,
                code,
                name,
                share_permille,
            });
        }
        let by_code = professions
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code, i))
            .collect();
        Ok(ProfessionCatalogue {
            professions,
            by_code,
        })
    }

    pub fn professions(&self) -> &[Profession] {
        &self.professions
    }

    pub fn get(&self, code: &str) -> Option<&Profession> {
        self.by_code.get(code).map(|&i| &self.professions[i])
    }

    pub fn all(&self) -> &[Profession] {
        &self.professions
    }

    pub fn is_group(&self, code: &str) -> bool {
        self.professions.iter().any(|p| p.group_code == code)
    }
}

/// A profession code of the national reference list (`jenis.kode`, e.g. `perawat`): parsed once at the
/// edge (RPC, CLI), so the service and the run never see an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfessionCode(&'static str);

/// A code that is not in the reference list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a profession code of the reference list")]
pub struct UnknownProfession(pub String);

impl ProfessionCode {
    pub fn parse(code: &str) -> Result<ProfessionCode, UnknownProfession> {
        ProfessionCatalogue::national()
            .get(code.trim())
            .map(|p| ProfessionCode(p.code))
            .ok_or_else(|| UnknownProfession(code.to_string()))
    }

    /// A list of codes, each once, in the order first named (a profession named twice is fetched once:
    /// the registry's load and the batch's counts stay those of the professions asked for).
    pub fn parse_list<S: AsRef<str>>(
        codes: &[S],
    ) -> Result<Vec<ProfessionCode>, UnknownProfession> {
        let mut parsed: Vec<ProfessionCode> = Vec::with_capacity(codes.len());
        for code in codes {
            let code = ProfessionCode::parse(code.as_ref())?;
            if !parsed.contains(&code) {
                parsed.push(code);
            }
        }
        Ok(parsed)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalogue_is_complete() {
        let catalogue = ProfessionCatalogue::national();
        assert_eq!(catalogue.all().len(), 40);
        assert_eq!(catalogue.get("perawat").unwrap().group_code, "keperawatan");
        assert!(catalogue.get("tukang_pijat").is_none());
        assert!(catalogue.is_group("medis"));
        let total: u32 = catalogue.all().iter().map(|p| p.share_permille).sum();
        assert!((990..=1010).contains(&total), "shares add up to {total}");
    }

    #[test]
    fn profession_codes_are_known_and_named_once() {
        let parsed = ProfessionCode::parse_list(&["bidan", " perawat", "bidan"]).unwrap();
        let codes: Vec<&str> = parsed.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes, ["bidan", "perawat"]);
        assert_eq!(
            ProfessionCode::parse_list(&["bidan", "dukun"]).unwrap_err(),
            UnknownProfession("dukun".into())
        );
        assert!(ProfessionCode::parse_list::<&str>(&[]).unwrap().is_empty());
    }
}
