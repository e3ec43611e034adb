//! Person and place names: kept as written (titles included) for display, with a normalised form for
//! fallback matching that ignores titles, punctuation, case and spacing.

use super::sanitize::{clean_text, fold_for_matching};

/// Folded text (`fold_for_matching`: words between single spaces) without its leading words that are
/// `prefixes`, keeping its last word whatever it is.
fn without_leading(mut folded: String, prefixes: &[&str]) -> String {
    let mut start = 0;
    while let Some(space) = folded[start..].find(' ') {
        if !prefixes.contains(&&folded[start..start + space]) {
            break;
        }
        start += space + 1;
    }
    folded.drain(..start);
    folded
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    display: String,
    normalized: String,
}

/// Titles written before a name (dr., Prof., H., Hj., …); degrees after the first comma are dropped whole.
const PREFIX_TITLES: &[&str] = &[
    "dr", "drg", "prof", "h", "hj", "ir", "ns", "apt", "bd", "drs", "dra",
];

impl PersonName {
    pub fn parse(raw: &str) -> Result<PersonName, String> {
        let display = clean_text(raw).into_owned();
        if display.is_empty() {
            return Err("is empty".into());
        }
        if display.contains('*') {
            return Err("is masked".into());
        }
        let without_degrees = display.split(',').next().unwrap_or_default();
        let normalized = without_leading(fold_for_matching(without_degrees), PREFIX_TITLES);
        if normalized.is_empty() {
            return Err("has no letters".into());
        }
        Ok(PersonName {
            display,
            normalized,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The display form and the normalised one, as stored.
    pub fn into_parts(self) -> (String, String) {
        (self.display, self.normalized)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlaceName {
    display: String,
    normalized: String,
}

const PLACE_PREFIXES: &[&str] = &["kota", "kabupaten", "kab", "kec"];

impl PlaceName {
    pub fn parse(raw: &str) -> PlaceName {
        let display = clean_text(raw).into_owned();
        PlaceName {
            normalized: without_leading(fold_for_matching(&display), PLACE_PREFIXES),
            display,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The display form and the normalised one, as stored.
    pub fn into_parts(self) -> (String, String) {
        (self.display, self.normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_name_table() {
        let cases = [
            (
                "Siti Aminah, S.Kep., Ners",
                Ok(("Siti Aminah, S.Kep., Ners", "siti aminah")),
            ),
            ("  siti   AMINAH ", Ok(("siti AMINAH", "siti aminah"))),
            (
                "dr. Budi Santoso, Sp.PD",
                Ok(("dr. Budi Santoso, Sp.PD", "budi santoso")),
            ),
            ("Prof. Dr. dr. Ani", Ok(("Prof. Dr. dr. Ani", "ani"))),
            ("Hj. Nur\u{0007}aini", Ok(("Hj. Nuraini", "nuraini"))),
            ("d** Yo** S**", Err("is masked")),
            ("   ", Err("is empty")),
            (", S.Kep", Err("has no letters")),
            ("dr. H.", Ok(("dr. H.", "h"))),
            ("Ns. Ir. Éva Dra", Ok(("Ns. Ir. Éva Dra", "éva dra"))),
            ("drg drg Putu", Ok(("drg drg Putu", "putu"))),
        ];
        for (input, expected) in cases {
            let got = PersonName::parse(input);
            match expected {
                Ok((display, normalized)) => {
                    let name = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                    assert_eq!((name.as_str(), name.normalized()), (display, normalized));
                }
                Err(msg) => assert_eq!(got.unwrap_err(), msg, "input {input:?}"),
            }
        }
    }

    #[test]
    fn place_name_table() {
        let cases = [
            ("Garut", "garut"),
            ("Kab. Garut", "garut"),
            ("KOTA  Bandung", "bandung"),
            ("Kota", "kota"),
            ("Kab. Kota Kec. Ciamis", "ciamis"),
            ("kec kota", "kota"),
            ("Kota Baru Kota", "baru kota"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(
                PlaceName::parse(input).normalized(),
                expected,
                "input {input:?}"
            );
        }
    }
}
