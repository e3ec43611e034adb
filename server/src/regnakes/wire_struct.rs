//! The record's wire structs, deserialised by hand (`wire_struct!` writes each impl). serde's derive
//! skips a key it does not know without a word; `serde_ignored`, which heard of each, made a `String` of
//! every key of every record to do so (a third of a record's parse). Here a key is matched where it lies
//! in the page's text, and only a key the mapping does not know is written down, with its path, and only
//! while a parse is `noting_unknown` (`rules::unknown_fields`). Text is borrowed from the page's body
//! wherever it needs no unescaping (`WireText`).
//!
//! What a record is accepted as, and the errors it meets, are the derive's: the same field names, a
//! struct from an object or from an array in field order, every field optional, a repeated field an
//! error ("duplicate field"), and "struct <Name>" expected.
//!
//! A record of the usual shape is read without serde (`Scanned`, `scan_record`): every key known,
//! each text without escapes, each struct an object. Anything else (an escape, an unknown or repeated
//! key, a value of another type, a struct sent as an array) is serde's to read, so its answer, its
//! errors and the unknown keys it notes stay the derive's. serde's parse of a record was a quarter of a
//! first load's CPU besides SHA-256 (issue 22).

use super::json_scan::{Scan, Unsure};
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// A text value of a record: borrowed from the page where it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireText<'a>(pub Cow<'a, str>);

impl std::ops::Deref for WireText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> de::Deserialize<'de> for WireText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = WireText<'de>;

            // As `String`'s, so a value of the wrong type is reported in the same words.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(WireText(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WireText(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(WireText(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_string(Text)
    }
}

/// A wire value read by the scan, exactly as serde reads it where the scan answers (`Unsure`
/// otherwise). The text need not be valid JSON: what the scan accepts, it checks.
pub trait Scanned<'a>: Sized {
    fn scan(scan: &mut Scan<'a>) -> Result<Self, Unsure>;
}

/// A text: a string without escapes or control characters, borrowed.
impl<'a> Scanned<'a> for WireText<'a> {
    fn scan(scan: &mut Scan<'a>) -> Result<Self, Unsure> {
        Ok(WireText(Cow::Borrowed(scan.plain_string()?)))
    }
}

/// A field: `null` (or absent, which the struct's default gives) for `None`.
impl<'a, T: Scanned<'a>> Scanned<'a> for Option<T> {
    fn scan(scan: &mut Scan<'a>) -> Result<Self, Unsure> {
        if scan.null() {
            return Ok(None);
        }
        T::scan(scan).map(Some)
    }
}

/// A list: an array of its items.
impl<'a, T: Scanned<'a>> Scanned<'a> for Vec<T> {
    fn scan(scan: &mut Scan<'a>) -> Result<Self, Unsure> {
        let mut items = Vec::new();
        scan.array(|scan| {
            items.push(T::scan(scan)?);
            Ok(())
        })?;
        Ok(items)
    }
}

/// A whole value of `text` (a record), as serde's `from_str` reads it where the scan answers.
pub fn scan_whole<'a, T: Scanned<'a>>(text: &'a str) -> Result<T, Unsure> {
    let mut scan = Scan::new(text);
    scan.whitespace();
    let value = T::scan(&mut scan)?;
    if !scan.at_end() {
        return Err(Unsure);
    }
    Ok(value)
}

/// A value of an `unread` key (skipped on purpose): serde ignores any value there; the scan passes
/// over a text or `null` only, the values it can check.
pub fn skip_unread(scan: &mut Scan<'_>) -> Result<(), Unsure> {
    if !scan.null() {
        scan.plain_string()?;
    }
    Ok(())
}

/// The paths noted by the parse running on this thread, if it is noting.
#[derive(Default)]
struct Noting {
    paths: Vec<String>,
    /// The known fields being parsed, outermost first (`sip[]` for the items of `sip`).
    within: Vec<&'static str>,
}

thread_local! {
    static NOTING: RefCell<Option<Noting>> = const { RefCell::new(None) };
}

/// Runs `parse`, adding to `unknown` the path of each key it met that the mapping does not know.
pub fn noting_unknown<T>(unknown: &mut Vec<String>, parse: impl FnOnce() -> T) -> T {
    NOTING.with(|n| *n.borrow_mut() = Some(Noting::default()));
    let parsed = parse();
    if let Some(noted) = NOTING.with(|n| n.borrow_mut().take()) {
        unknown.extend(noted.paths);
    }
    parsed
}

fn note_unknown(key: &str) {
    NOTING.with(|n| {
        if let Some(noting) = n.borrow_mut().as_mut() {
            let mut path = String::new();
            for field in &noting.within {
                path.push_str(field);
                path.push('.');
            }
            path.push_str(key);
            noting.paths.push(path);
        }
    });
}

/// While a known field that holds a struct is parsed, its keys are noted under its name.
pub struct Within(bool);

impl Within {
    pub fn enter(field: Option<&'static str>) -> Within {
        let Some(field) = field else {
            return Within(false);
        };
        NOTING.with(|n| match n.borrow_mut().as_mut() {
            Some(noting) => {
                noting.within.push(field);
                Within(true)
            }
            None => Within(false),
        })
    }
}

impl Drop for Within {
    fn drop(&mut self) {
        if self.0 {
            NOTING.with(|n| {
                if let Some(noting) = n.borrow_mut().as_mut() {
                    noting.within.pop();
                }
            });
        }
    }
}

/// A key of a struct: the index of the field it names, or `None` for a key the struct does not read
/// (noted unless it is one of `unread`, the keys skipped on purpose).
pub struct FieldKey {
    pub fields: &'static [&'static str],
    pub unread: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for FieldKey {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for FieldKey {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let index = self.fields.iter().position(|f| *f == key);
        if index.is_none() && !self.unread.contains(&key) {
            note_unknown(key);
        }
        Ok(index)
    }
}

/// Declares a wire struct (every field optional, `Default`) and its `Deserialize`. A field marked
/// `=> "name"` holds a struct (or a list of them) whose unknown keys are noted under `name`.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$field_meta:meta])* $field:ident : $ty:ty $(=> $within:literal)?),* $(,)?
        }
        $(unread: [$($unread:literal),*])?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default, PartialEq)]
        pub struct $name<'a> {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name<'_> {
            /// Its keys, in field order.
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
            /// The keys skipped on purpose.
            const UNREAD: &'static [&'static str] = &[$($($unread),*)?];
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const FIELDS: &[&str] = $name::FIELDS;
                const UNREAD: &[&str] = $name::UNREAD;
                struct Fields<'a>(std::marker::PhantomData<&'a ()>);
                impl<'de: 'a, 'a> serde::de::Visitor<'de> for Fields<'a> {
                    type Value = $name<'a>;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($name)))
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        let mut seen = [false; FIELDS.len()];
                        let key = || $crate::regnakes::wire_struct::FieldKey {
                            fields: FIELDS,
                            unread: UNREAD,
                        };
                        while let Some(found) = map.next_key_seed(key())? {
                            let Some(index) = found else {
                                map.next_value::<serde::de::IgnoredAny>()?;
                                continue;
                            };
                            if std::mem::replace(&mut seen[index], true) {
                                return Err(serde::de::Error::duplicate_field(FIELDS[index]));
                            }
                            let mut at = 0;
                            $(
                                if index == at {
                                    let _within = wire_struct!(@within $($within)?);
                                    out.$field = map.next_value()?;
                                }
                                at += 1;
                            )*
                            let _ = at;
                        }
                        Ok(out)
                    }

                    fn visit_seq<A: serde::de::SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        $(
                            let _within = wire_struct!(@within $($within)?);
                            if let Some(value) = seq.next_element()? {
                                out.$field = value;
                            }
                        )*
                        Ok(out)
                    }
                }
                deserializer.deserialize_struct(
                    stringify!($name),
                    FIELDS,
                    Fields(std::marker::PhantomData),
                )
            }
        }

        /// An object whose keys are all known, each once (anything else is serde's).
        impl<'a> $crate::regnakes::wire_struct::Scanned<'a> for $name<'a> {
            fn scan(
                scan: &mut $crate::regnakes::json_scan::Scan<'a>,
            ) -> Result<Self, $crate::regnakes::json_scan::Unsure> {
                use $crate::regnakes::json_scan::Unsure;
                const FIELDS: &[&str] = $name::FIELDS;
                const UNREAD: &[&str] = $name::UNREAD;
                let mut out = $name::default();
                let mut seen = [false; FIELDS.len()];
                scan.object(|scan, key| {
                    let Some(index) = FIELDS.iter().position(|f| *f == key) else {
                        return match UNREAD.contains(&key) {
                            true => $crate::regnakes::wire_struct::skip_unread(scan),
                            false => Err(Unsure),
                        };
                    };
                    if std::mem::replace(&mut seen[index], true) {
                        return Err(Unsure);
                    }
                    let mut at = 0;
                    $(
                        if index == at {
                            out.$field = $crate::regnakes::wire_struct::Scanned::scan(scan)?;
                        }
                        at += 1;
                    )*
                    let _ = at;
                    Ok(())
                })?;
                Ok(out)
            }
        }
    };
    (@within $within:literal) => {
        $crate::regnakes::wire_struct::Within::enter(Some($within))
    };
    (@within) => {
        $crate::regnakes::wire_struct::Within::enter(None)
    };
}
pub(crate) use wire_struct;
