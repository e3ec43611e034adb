//! STR number (Surat Tanda Registrasi): the registration certificate number.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrNumber(String);

impl StrNumber {
    /// After trimming, 6 to 40 characters of `[0-9A-Za-z./ -]` (CONTRACT §2).
    pub fn parse(raw: &str) -> Result<StrNumber, String> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if !(6..=40).contains(&len) {
            return Err(format!("must have 6 to 40 characters, found {len}"));
        }
        if let Some(bad) = trimmed
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | ' ' | '-')))
        {
            return Err(format!("contains the character {bad:?}"));
        }
        Ok(StrNumber(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for StrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StrNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases = [
            ("1234567887654321", Some("1234567887654321")),
            ("  1234567887654321 ", Some("1234567887654321")),
            ("KKI/31/2024/0001-A", Some("KKI/31/2024/0001-A")),
            ("AB 12.34", Some("AB 12.34")),
            ("12345", None),
            ("", None),
            ("1234#5678", None),
            ("12345678901234567890123456789012345678901", None),
            ("1234567_8", None),
            ("١٢٣٤٥٦٧", None),
        ];
        for (input, expected) in cases {
            let got = StrNumber::parse(input).ok().map(StrNumber::into_string);
            assert_eq!(got.as_deref(), expected, "input {input:?}");
        }
    }
}
