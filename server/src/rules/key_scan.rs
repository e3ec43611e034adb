//! Reads a record's `str.nomor` and `updated_at` in one pass over its bytes, without serde. Every record
//! of every re-sync is read for these two keys (`unchanged`, `cursor`), and serde's derive made that a
//! second full JSON pass, walking every value it ignores (each name, address and licence) through its
//! visitor machinery; the scan took about a tenth off an unchanged re-sync's server CPU (issue 22). A
//! `RawRecord` is valid JSON (it was checked when it was made), so a value passed over needs only its end
//! found: strings eight bytes at a time, containers by their brackets. A record of a page the page's scan
//! read (`regnakes::page_scan`) comes with the places of its two keys, and only their values are read
//! (`placed`).
//!
//! The answer is always the derive's (`RecordKeys`): where it would fail (a repeated key, a value of
//! the wrong type) the scan reads nothing too, and whatever only serde can decide (an escape in a key or
//! in a value read, a struct given as an array, a record that is not an object, deep nesting) is handed
//! back to it (`Unsure`). A test compares the two over every shape the contract and its edge cases give.

use crate::regnakes::json_scan::Scan;
pub use crate::regnakes::json_scan::Unsure;
use crate::regnakes::page_scan::{KeyPlaces, Place};

/// What the derive would read: `None` where it would fail.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    pub str_number: Option<&'a str>,
    pub updated_at: Option<&'a str>,
}

/// Scans one JSON value known to be valid (`RawRecord::get`).
pub fn keys(text: &str) -> Result<Option<Keys<'_>>, Unsure> {
    let mut scan = Scan::new(text);
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

/// Reads the keys where the page's scan found them (`RawRecord::key_places`): the record was checked and
/// its keys found there, so only the two values are read, not the whole record.
pub fn placed<'a>(text: &'a str, places: &KeyPlaces) -> Result<Option<Keys<'a>>, Unsure> {
    let value_at = |at: u32| text.get(at as usize..).map(Scan::new).ok_or(Unsure);
    let str_field = match places.str {
        Place::Absent => Some(None),
        Place::At(at) => value_at(at)?.str_only()?,
        Place::Repeated => None,
    };
    let updated_at = match places.updated_at {
        Place::Absent => Some(None),
        Place::At(at) => value_at(at)?.text_or_null()?,
        Place::Repeated => None,
    };
    Ok(str_field
        .zip(updated_at)
        .map(|(str_field, updated_at)| Keys {
            str_number: str_field.flatten(),
            updated_at,
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

impl<'a> Scan<'a> {
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
}
