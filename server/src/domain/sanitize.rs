//! Sanitising of upstream text: trim, collapse inner whitespace, drop control characters.

/// Returns the text with control characters removed, runs of whitespace collapsed to one space, and the
/// ends trimmed. Borrow-friendly: callers keep the original for the raw audit copy.
pub fn clean_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for ch in raw.chars() {
        if ch.is_whitespace() {
            pending_space = !out.is_empty();
        } else if ch.is_control() || is_invisible_format(ch) {
            continue;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// Zero-width and byte-order characters that survive copy-paste from spreadsheets.
fn is_invisible_format(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Lower-case ASCII-folded letters and digits with single spaces: the basis of every normalised form.
pub fn fold_for_matching(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_cases() {
        let cases = [
            ("  Siti   Aminah  ", "Siti Aminah"),
            ("Siti\tAminah\n", "Siti Aminah"),
            ("Siti\u{0007}Aminah", "SitiAminah"),
            ("Siti \u{0000} Aminah", "Siti Aminah"),
            ("\u{FEFF}Garut", "Garut"),
            ("", ""),
            ("   ", ""),
            ("Siti Aminah, S.Kep., Ners", "Siti Aminah, S.Kep., Ners"),
        ];
        for (input, expected) in cases {
            assert_eq!(clean_text(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn fold_cases() {
        let cases = [
            ("Siti Aminah", "siti aminah"),
            ("SITI  AMINAH", "siti aminah"),
            ("O'Neil-Putri", "o neil putri"),
            ("Kota Bandung", "kota bandung"),
        ];
        for (input, expected) in cases {
            assert_eq!(fold_for_matching(input), expected, "input {input:?}");
        }
    }
}
