//! Reads a record's `str.nomor` and `updated_at` in one pass over its bytes, without serde. Every record
//! of every re-sync is read for these two keys (`unchanged`, `cursor`), and serde's derive made that a
//! second full JSON pass, walking every value it ignores (each name, address and licence) through its
//! visitor machinery; the scan took about a tenth off an unchanged re-sync's server CPU (issue 22). A
//! `RawRecord` is valid JSON (it was parsed when it was made), so a value passed over needs only its end
//! found: strings by `memchr`, containers by their brackets.
//!
//! The answer is always the derive's (`RecordKeys`): where it would fail (a repeated key, a value of
//! the wrong type) the scan reads nothing too, and whatever only serde can decide (an escape in a key or
//! in a value read, a struct given as an array, a record that is not an object, deep nesting) is handed
//! back to it (`Unsure`). A test compares the two over every shape the contract and its edge cases give.

/// The scan could not decide as serde's derive would: ask serde.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsure;

/// What the derive would read: `None` where it would fail.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    pub str_number: Option<&'a str>,
    pub updated_at: Option<&'a str>,
}

/// Containers nested deeper than this are left to serde (which has its own recursion limit).
const MAX_DEPTH: usize = 64;

/// Scans one JSON value known to be valid (`RawRecord::get`).
pub fn keys(text: &str) -> Result<Option<Keys<'_>>, Unsure> {
    let mut scan = Scan { text, at: 0 };
    scan.whitespace();
    if scan.peek() != Some(b'{') {
        return Err(Unsure);
    }
    let mut str_field: Option<Option<Option<&str>>> = None;
    let mut updated_at: Option<Option<&str>> = None;
    let mut failed = false;
    scan.object(|scan, key| {
        match key {
            "str" => take_once(&mut str_field, scan.str_only()?, &mut failed),
            "updated_at" => take_once(&mut updated_at, scan.text_or_null()?, &mut failed),
            _ => scan.skip_value(0)?,
        }
        Ok(())
    })?;
    if failed {
        return Ok(None);
    }
    Ok(Some(Keys {
        str_number: str_field.flatten().flatten(),
        updated_at: updated_at.flatten(),
    }))
}

/// Keeps a field's value as the derive does: a second occurrence of the field, or a value it refuses
/// (`read` is `None`), fails the whole read.
fn take_once<T>(field: &mut Option<T>, read: Option<T>, failed: &mut bool) {
    if field.is_some() {
        *failed = true;
    }
    match read {
        Some(value) => *field = Some(value),
        None => *failed = true,
    }
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
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

    /// A string at the cursor: its text between the quotes, and whether it holds an escape.
    fn string(&mut self) -> Result<(&'a str, bool), Unsure> {
        if self.peek() != Some(b'"') {
            return Err(Unsure);
        }
        let start = self.at + 1;
        let bytes = self.text.as_bytes();
        let mut at = start;
        let mut escaped = false;
        loop {
            let found =
                memchr::memchr2(b'"', b'\\', bytes.get(at..).ok_or(Unsure)?).ok_or(Unsure)?;
            at += found;
            if bytes[at] == b'"' {
                self.at = at + 1;
                // Quotes and backslashes are ASCII: both ends are character boundaries.
                return Ok((self.text.get(start..at).ok_or(Unsure)?, escaped));
            }
            escaped = true;
            at += 2;
        }
    }

    /// A string without escapes (only serde unescapes: `Unsure` for one with escapes).
    fn plain_string(&mut self) -> Result<&'a str, Unsure> {
        match self.string()? {
            (text, false) => Ok(text),
            (_, true) => Err(Unsure),
        }
    }

    /// The members of an object at the cursor, each key handed to `member` with the cursor on its value
    /// (which `member` must consume); the cursor ends after the closing brace.
    fn object(
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

    /// A text value or `null` (`Some(None)`); `None` for a value of another type, which the derive
    /// refuses.
    fn text_or_null(&mut self) -> Result<Option<Option<&'a str>>, Unsure> {
        match self.peek() {
            Some(b'"') => Ok(Some(Some(self.plain_string()?))),
            Some(b'n') => {
                self.skip_value(0)?;
                Ok(Some(None))
            }
            _ => {
                self.skip_value(0)?;
                Ok(None)
            }
        }
    }

    /// The `str` member: `null`, or an object read for `nomor` (`Some(number)`); `None` where the
    /// derive fails (another type, `nomor` repeated or not a text).
    fn str_only(&mut self) -> Result<Option<Option<Option<&'a str>>>, Unsure> {
        match self.peek() {
            Some(b'n') => {
                self.skip_value(0)?;
                Ok(Some(None))
            }
            Some(b'{') => {
                let mut nomor: Option<Option<&str>> = None;
                let mut failed = false;
                self.object(|scan, key| {
                    if key != "nomor" {
                        return scan.skip_value(0);
                    }
                    take_once(&mut nomor, scan.text_or_null()?, &mut failed);
                    Ok(())
                })?;
                Ok((!failed).then_some(Some(nomor.flatten())))
            }
            // A struct from an array (field by position) is serde's to read.
            Some(b'[') => Err(Unsure),
            _ => {
                self.skip_value(0)?;
                Ok(None)
            }
        }
    }

    /// Passes over one value (valid JSON: only its end is looked for).
    fn skip_value(&mut self, depth: usize) -> Result<(), Unsure> {
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
