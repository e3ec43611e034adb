//! A cursor over JSON text that reads what serde would read, without serde, where it can be sure of the
//! answer, and gives up (`Unsure`) everywhere else so serde decides. Three readers use it: the page's
//! check and split into records (`regnakes::page_scan`, which checks every value as serde would),
//! `rules::key_scan` (the two keys of every record a re-sync reads) and the wire structs' scan
//! (`wire_struct::Scanned`, the whole record a transform reads). A string's end is found eight bytes at
//! a time (`special_byte`); only text without escapes is read (unescaping is serde's).

/// The scan could not decide as serde would: ask serde.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsure;

/// Containers nested deeper than this are left to serde (which has its own recursion limit).
const MAX_DEPTH: usize = 64;

pub struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    pub fn new(text: &'a str) -> Scan<'a> {
        Scan { text, at: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    pub fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.whitespace();
        self.at == self.text.len()
    }

    /// Expects `byte` after whitespace.
    fn expect(&mut self, byte: u8) -> Result<(), Unsure> {
        self.whitespace();
        if self.peek() != Some(byte) {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(())
    }

    /// A string at the cursor: its text between the quotes, and whether it holds an escape. Checked as
    /// serde checks a string: `Unsure` for a control character or an escape serde refuses.
    fn string(&mut self) -> Result<(&'a str, bool), Unsure> {
        if self.peek() != Some(b'"') {
            return Err(Unsure);
        }
        let start = self.at + 1;
        let bytes = self.text.as_bytes();
        let mut at = start;
        let mut escaped = false;
        loop {
            at = special_byte(bytes, at).ok_or(Unsure)?;
            match bytes[at] {
                b'"' => {
                    self.at = at + 1;
                    // Quotes are ASCII: both ends are character boundaries.
                    return Ok((self.text.get(start..at).ok_or(Unsure)?, escaped));
                }
                b'\\' => {
                    at = escape_end(bytes, at + 1).ok_or(Unsure)?;
                    escaped = true;
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// A string without escapes (only serde unescapes: `Unsure` for one with escapes) or control
    /// characters (which serde refuses in a string).
    pub fn plain_string(&mut self) -> Result<&'a str, Unsure> {
        match self.string()? {
            (text, false) => Ok(text),
            (_, true) => Err(Unsure),
        }
    }

    /// `null` at the cursor, spelled out (in text not known to be valid JSON).
    pub fn null(&mut self) -> bool {
        self.literal(b"null").is_ok()
    }

    /// `word` at the cursor.
    fn literal(&mut self, word: &[u8]) -> Result<(), Unsure> {
        let found = self
            .text
            .as_bytes()
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(word));
        if !found {
            return Err(Unsure);
        }
        self.at += word.len();
        Ok(())
    }

    /// Where the cursor is, in bytes from the start of the text.
    pub fn position(&self) -> usize {
        self.at
    }

    /// A number as JSON spells it: serde checks no more of a number it passes over.
    fn number(&mut self) -> Result<(), Unsure> {
        let bytes = self.text.as_bytes();
        let digits_end = |from: usize| {
            from + bytes.get(from..).map_or(0, |rest| {
                rest.iter().take_while(|b| b.is_ascii_digit()).count()
            })
        };
        let mut at = self.at + usize::from(bytes.get(self.at) == Some(&b'-'));
        at = match bytes.get(at) {
            Some(b'0') => at + 1,
            Some(b'1'..=b'9') => digits_end(at),
            _ => return Err(Unsure),
        };
        if bytes.get(at) == Some(&b'.') {
            let end = digits_end(at + 1);
            if end == at + 1 {
                return Err(Unsure);
            }
            at = end;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1 + usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
            let end = digits_end(at);
            if end == at {
                return Err(Unsure);
            }
            at = end;
        }
        self.at = at;
        Ok(())
    }

    /// A whole number serde reads as a `u64`: digits only, no leading zero, in range.
    pub fn unsigned(&mut self) -> Result<u64, Unsure> {
        let start = self.at;
        self.number()?;
        let text = self.text.get(start..self.at).ok_or(Unsure)?;
        text.parse().map_err(|_| Unsure)
    }

    /// Passes over one value of text not known to be valid JSON, checking it as serde checks a value it
    /// ignores, so what passes is JSON serde accepts. `Unsure` for anything else, and for what this
    /// leaves to serde: an escape in a key, containers nested deeper than `MAX_DEPTH` (`depth`: the
    /// containers around the value).
    pub fn valid_value(&mut self, depth: usize) -> Result<(), Unsure> {
        match self.peek().ok_or(Unsure)? {
            b'"' => self.string().map(drop),
            b'{' if depth < MAX_DEPTH => self.object(|scan, _| scan.valid_value(depth + 1)),
            b'[' if depth < MAX_DEPTH => self.array(|scan| scan.valid_value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Unsure),
        }
    }

    /// The members of an object at the cursor, each key handed to `member` with the cursor on its value
    /// (which `member` must consume); the cursor ends after the closing brace.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Result<(), Unsure>,
    ) -> Result<(), Unsure> {
        self.expect(b'{')?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            let key = self.plain_string()?;
            self.expect(b':')?;
            self.whitespace();
            member(self, key)?;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// The elements of an array at the cursor, each handed to `element` with the cursor on it (which
    /// `element` must consume); the cursor ends after the closing bracket.
    pub fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), Unsure>,
    ) -> Result<(), Unsure> {
        self.expect(b'[')?;
        self.whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            element(self)?;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// Passes over one value of text known to be valid JSON (only its end is looked for).
    pub fn skip_value(&mut self, depth: usize) -> Result<(), Unsure> {
        match self.peek().ok_or(Unsure)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Unsure);
                }
                self.at += 1;
                loop {
                    match self.peek().ok_or(Unsure)? {
                        b'"' => {
                            self.string()?;
                        }
                        b'{' | b'[' => self.skip_value(depth + 1)?,
                        b'}' | b']' => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => self.at += 1,
                    }
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.at += 1;
                }
                Ok(())
            }
        }
    }
}

/// The first `"`, `\\` or control character at or after `from`: where a string's plain run ends.
/// Sixteen bytes at a time where the processor has SSE2 (every x86-64 has): a third less time per
/// string than eight at a time, and every byte of every record goes through here twice in a first load
/// (the page's check and the record's read), once in a re-sync, where it was a tenth of the server's
/// CPU (issue 22). Eight bytes at a time for what is left, or elsewhere.
fn special_byte(bytes: &[u8], from: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let from = {
        let mut at = from;
        while let Some(chunk) = bytes.get(at..at + 16) {
            let found = sse2::special_lanes(chunk.try_into().ok()?);
            if found != 0 {
                return Some(at + found.trailing_zeros() as usize);
            }
            at += 16;
        }
        at
    };
    special_byte_by_words(bytes, from)
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// One bit per byte of `chunk`, set for a `"`, a `\\` or a control character.
    #[inline]
    pub fn special_lanes(chunk: &[u8; 16]) -> u32 {
        // SAFETY: the load reads the 16 bytes `chunk` borrows (unaligned loads are allowed); the other
        // intrinsics only compute on registers, with SSE2, which this module is compiled only with.
        unsafe {
            let bytes = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\\' as i8));
            // Below 0x20, unsigned: the byte is its own minimum with 0x1f.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1f)), bytes);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }
}

/// `special_byte` eight bytes at a time: in each word, the lowest byte flagged by the zero-byte test is
/// exact (a borrow only runs upward from a true match), so the first flagged byte is the first special
/// one.
fn special_byte_by_words(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word;
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let found = (zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word))
            & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    let found = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(at + found)
}

/// The end of an escape whose letter is at `at` (just after the backslash); `None` for one serde refuses.
/// A `\\u` escape needs four hex digits and no more: serde checks surrogates only when it unescapes.
fn escape_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => {
            let hex = bytes.get(at + 1..at + 5)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(at + 5)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_special_byte(bytes: &[u8], from: usize) -> Option<usize> {
        (from..bytes.len()).find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f))
    }

    #[test]
    fn a_strings_end_is_found_in_every_lane() {
        // 40 bytes: both widths' lanes, and the tail after them.
        for special in [b'"', b'\\', 0, 0x1f] {
            for at in 0..40 {
                let mut bytes = vec![b'a'; 40];
                // Neighbours a borrow could turn into a false match.
                bytes.iter_mut().skip(at + 1).for_each(|b| *b = 0x20);
                bytes[at] = special;
                for from in 0..=40 {
                    let naive = naive_special_byte(&bytes, from);
                    let what = format!("{special:#x} at {at} from {from}");
                    assert_eq!(special_byte(&bytes, from), naive, "{what}");
                    assert_eq!(special_byte_by_words(&bytes, from), naive, "{what}");
                }
            }
        }
        // Bytes at or above 0x20, the high ones included (a signed comparison would take them for
        // control characters).
        let plain = b"\x20\x21\x5b\x5d\x7f\x80\x9f\xa0\xff\xe2\x80\x9c\xc3\xa9\x7e\x41\x42";
        assert_eq!(special_byte(plain, 0), None);
        assert_eq!(special_byte_by_words(plain, 0), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_bytes_end_where_a_byte_by_byte_search_ends(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'"'), Just(b' ')], 0..80),
            from in 0..81usize,
        ) {
            let naive = naive_special_byte(&bytes, from);
            prop_assert_eq!(special_byte(&bytes, from), naive);
            prop_assert_eq!(special_byte_by_words(&bytes, from), naive);
        }
    }
}
