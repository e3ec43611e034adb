//! Sanitising of upstream text: trim, collapse inner whitespace, drop control characters.

use std::borrow::Cow;

/// Returns the text with control characters removed, runs of whitespace collapsed to one space, and the
/// ends trimmed. Borrow-friendly: callers keep the original for the raw audit copy; text already clean
/// (nearly all of it) comes back borrowed, so a field only parsed or compared costs no copy.
pub fn clean_text(raw: &str) -> Cow<'_, str> {
    if is_clean_ascii(raw) {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(clean_text_char_by_char(raw))
}

/// Printable ASCII with single inner spaces and none at either end is already clean: most upstream text
/// is, and checking bytes costs far less than rebuilding it character by character.
fn is_clean_ascii(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
        && bytes.iter().all(|b| (b' '..=b'~').contains(b))
        && !bytes.windows(2).any(|pair| pair == b"  ")
}

fn clean_text_char_by_char(raw: &str) -> String {
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
    // Nearly every name and place is ASCII, and each record folds two: ASCII text is copied word by word
    // and lower-cased in place (for ASCII, Unicode's lower case is ASCII's), not char by char.
    let ascii = text.is_ascii();
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        if ascii {
            out.push_str(word);
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    if ascii {
        out.make_ascii_lowercase();
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
            (" Garut", "Garut"),
            ("Garut ", "Garut"),
            ("Siti  Aminah", "Siti Aminah"),
            ("Siti\u{7f}Aminah", "SitiAminah"),
            (
                "Jl. Veteran No. 178 (RT 01/RW 02)",
                "Jl. Veteran No. 178 (RT 01/RW 02)",
            ),
            ("Sukaraja ~ Cibeureum", "Sukaraja ~ Cibeureum"),
        ];
        for (input, expected) in cases {
            assert_eq!(clean_text(input), expected, "input {input:?}");
            // The ASCII shortcut, where it applies, agrees with the general rule.
            assert_eq!(clean_text_char_by_char(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn fold_cases() {
        let cases = [
            ("Siti Aminah", "siti aminah"),
            ("SITI  AMINAH", "siti aminah"),
            ("O'Neil-Putri", "o neil putri"),
            ("Kota Bandung", "kota bandung"),
            ("  dr. H.  Ahmad_Zaki  ", "dr h ahmad zaki"),
            ("ÉLISE Ömer-Şahin", "élise ömer şahin"),
            ("Nur'AINI, S.Kep", "nur aini s kep"),
            ("İstanbul", "i\u{307}stanbul"),
            ("", ""),
            ("--", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(fold_for_matching(input), expected, "input {input:?}");
        }
    }
}
