//! NIK (Nomor Induk Kependudukan): the 16-digit national ID. The value is private so that an invalid or
//! unmasked NIK cannot leak by accident: `Debug`/`Display` print the masked form only.

use chrono::{Datelike, NaiveDate};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nik(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NikError {
    #[error("is masked")]
    Masked,
    #[error("must have 16 digits, found {0}")]
    Length(usize),
    #[error("contains a character other than a digit")]
    NotDigits,
    #[error("province code {0} does not exist")]
    Province(String),
    #[error("digits 7-12 are not a real birth date")]
    BirthDate,
    #[error("serial number 0000 is not issued")]
    Serial,
}

/// Province codes in use (Kemendagri), including the 2022 Papua provinces.
fn is_province(code: u32) -> bool {
    matches!(code, 11..=19 | 21 | 31..=36 | 51..=53 | 61..=65 | 71..=76 | 81 | 82 | 91..=96)
}

impl Nik {
    /// Parses a NIK after removing the spaces and dots people type into it. `today` decides the century
    /// of the two-digit birth year.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Nik, NikError> {
        if raw.contains('*') {
            return Err(NikError::Masked);
        }
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '.')).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(NikError::NotDigits);
        }
        if digits.len() != 16 {
            return Err(NikError::Length(digits.len()));
        }
        let num = |range: std::ops::Range<usize>| digits[range].parse::<u32>().unwrap_or(0);
        if !is_province(num(0..2)) {
            return Err(NikError::Province(digits[0..2].to_string()));
        }
        if birth_date_of(&digits, today).is_none() {
            return Err(NikError::BirthDate);
        }
        if &digits[12..16] == "0000" {
            return Err(NikError::Serial);
        }
        Ok(Nik(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first four digits (province and regency) and the last two; enough for a human to tell two apart.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// Whether digits 7-8 carry the +40 that marks a woman.
    pub fn is_female(&self) -> bool {
        self.0[6..8].parse::<u32>().unwrap_or(0) > 40
    }

    pub fn birth_date(&self, today: NaiveDate) -> NaiveDate {
        birth_date_of(&self.0, today).expect("checked by parse")
    }
}

/// Masks any identifier-like text the same way as a valid NIK (used for invalid input in messages).
pub fn mask(text: &str) -> String {
    // By character boundaries, one allocation: every worker row written carries a masked NIK.
    let chars = text.chars().count();
    if chars <= 6 {
        return "*".repeat(chars);
    }
    let head_end = text.char_indices().nth(4).map_or(text.len(), |(at, _)| at);
    let tail_start = text
        .char_indices()
        .nth_back(1)
        .map_or(text.len(), |(at, _)| at);
    let mut out = String::with_capacity(head_end + (chars - 6) + (text.len() - tail_start));
    out.push_str(&text[..head_end]);
    out.extend(std::iter::repeat_n('*', chars - 6));
    out.push_str(&text[tail_start..]);
    out
}

/// The fewest digits a run needs to be taken for a NIK wherever it stands.
const NIK_LIKE_DIGITS: usize = 16;

/// Masks every run of 16 or more digits in `text` (digits may be grouped by single spaces, dots or
/// dashes, as people type a NIK), as `mask` masks a NIK; other text is kept. A raw record may carry a
/// NIK under any key, at any depth, or as its whole value: none is kept in clear.
pub fn mask_nik_like(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits, each separator single and followed by a digit.
        let start = i;
        let mut end = i;
        let mut digits = String::new();
        while end < bytes.len() {
            if bytes[end].is_ascii_digit() {
                digits.push(bytes[end] as char);
                end += 1;
            } else if matches!(bytes[end], b' ' | b'.' | b'-')
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
            {
                end += 1;
            } else {
                break;
            }
        }
        if digits.len() >= NIK_LIKE_DIGITS {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..start]);
            out.push_str(&mask(&digits));
            copied = end;
        }
        i = end;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            std::borrow::Cow::Owned(out)
        }
    }
}

fn birth_date_of(digits: &str, today: NaiveDate) -> Option<NaiveDate> {
    let mut day: u32 = digits[6..8].parse().ok()?;
    let month: u32 = digits[8..10].parse().ok()?;
    let yy: i32 = digits[10..12].parse().ok()?;
    if day > 40 {
        day -= 40;
    }
    let century = if yy > today.year() % 100 { 1900 } else { 2000 };
    NaiveDate::from_ymd_opt(century + yy, month, day)
}

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nik({})", self.masked())
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn parse_table() {
        use NikError::*;
        let cases: &[(&str, Result<(), NikError>)] = &[
            ("3205191211900003", Ok(())),         // man, 12-11-1990
            ("3205195211900003", Ok(())),         // woman: day 52 = 12 + 40
            ("3205 1952 1190 0003", Ok(())),      // typed with spaces
            ("3205.1952.1190.0003", Ok(())),      // and dots
            ("9601010101000001", Ok(())),         // Papua Selatan (2022)
            ("320519521190003", Err(Length(15))), // 15 digits
            ("32051952119000031", Err(Length(17))),
            ("3205**********03", Err(Masked)),
            ("32051952119O0003", Err(NotDigits)),
            ("2005195211900003", Err(Province("20".into()))),
            ("9905195211900003", Err(Province("99".into()))),
            ("3205193102900003", Err(BirthDate)), // 31 February
            ("3205197211900003", Err(BirthDate)), // day 72 - 40 = 32
            ("3205191213900003", Err(BirthDate)), // month 13
            ("3205190011900003", Err(BirthDate)), // day 00
            ("3205191211900000", Err(Serial)),
        ];
        for (input, expected) in cases {
            let got = Nik::parse(input, today()).map(|_| ());
            assert_eq!(&got, expected, "input {input}");
        }
    }

    #[test]
    fn sex_and_birth_date() {
        let woman = Nik::parse("3205195211900003", today()).unwrap();
        assert!(woman.is_female());
        assert_eq!(
            woman.birth_date(today()),
            NaiveDate::from_ymd_opt(1990, 11, 12).unwrap()
        );
        let man = Nik::parse("3205191211050003", today()).unwrap();
        assert!(!man.is_female());
        assert_eq!(man.birth_date(today()).year(), 2005);
    }

    #[test]
    fn any_text_keeps_four_characters_ahead_and_two_behind() {
        let cases = [
            ("", ""),
            ("123456", "******"),
            ("1234567", "1234*67"),
            ("3205195211900003", "3205**********03"),
            ("32O5-1952", "32O5***52"),
            ("ÄÖÜßéèçà", "ÄÖÜß**çà"),
            ("añoé", "****"),
        ];
        for (text, masked) in cases {
            assert_eq!(mask(text), masked, "{text:?}");
        }
    }

    #[test]
    fn nik_like_runs_are_masked_wherever_they_stand() {
        let cases = [
            ("3205195211900003", "3205**********03"),
            (
                "NIK 3205195211900003, STR 12",
                "NIK 3205**********03, STR 12",
            ),
            ("3205 1952 1190 0003", "3205**********03"),
            ("3205.1952.1190.0003/x", "3205**********03/x"),
            ("32051952119000031234", "3205**************34"),
            ("320519521190003", "320519521190003"),
            ("12 34", "12 34"),
            ("a3205195211900003b", "a3205**********03b"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_nik_like(input), expected, "{input}");
        }
    }

    #[test]
    fn never_prints_the_whole_nik() {
        let nik = Nik::parse("3205195211900003", today()).unwrap();
        assert_eq!(nik.masked(), "3205**********03");
        assert!(!format!("{nik:?} {nik}").contains("5211900"));
    }
}
