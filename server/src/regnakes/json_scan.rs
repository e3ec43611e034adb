//! A cursor over a record's JSON text that reads what serde would read, without serde, where it can be
//! sure of the answer, and gives up (`Unsure`) everywhere else so serde decides. Two readers use it:
//! `rules::key_scan` (the two keys of every record a re-sync reads) and the wire structs' scan
//! (`wire_struct::Scanned`, the whole record a transform reads). Strings are found by `memchr`;
//! only text without escapes is read (unescaping is serde's).

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
    pub fn plain_string(&mut self) -> Result<&'a str, Unsure> {
        match self.string()? {
            (text, false) => Ok(text),
            (_, true) => Err(Unsure),
        }
    }

    /// A string serde would read as it is, in text not known to be valid JSON: no escapes and no
    /// control character (which serde refuses in a string).
    pub fn checked_string(&mut self) -> Result<&'a str, Unsure> {
        let text = self.plain_string()?;
        if text.bytes().any(|b| b < 0x20) {
            return Err(Unsure);
        }
        Ok(text)
    }

    /// `null` at the cursor, spelled out (in text not known to be valid JSON).
    pub fn null(&mut self) -> bool {
        let found = self
            .text
            .as_bytes()
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(b"null"));
        if found {
            self.at += 4;
        }
        found
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
