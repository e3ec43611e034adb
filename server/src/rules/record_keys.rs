//! A record read only for its place in the upstream order: its STR number as sent and its `updated_at`.
//! Both the fast path (`unchanged`) and reading by key (`cursor`) need these, for every record or for a
//! few; neither transforms the record.

use crate::regnakes::wire_struct::WireText;
use crate::rules::transform::upstream_time;
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct RecordKeys<'a> {
    #[serde(borrow, default)]
    str: Option<StrOnly<'a>>,
    #[serde(borrow, default)]
    updated_at: Option<WireText<'a>>,
}

#[derive(Deserialize)]
struct StrOnly<'a> {
    #[serde(borrow, default)]
    nomor: Option<WireText<'a>>,
}

impl<'a> RecordKeys<'a> {
    /// The keys of a record's JSON; `None` when it is not an object of the expected shape.
    pub fn of(raw: &'a str) -> Option<RecordKeys<'a>> {
        serde_json::from_str(raw).ok()
    }

    /// `str.nomor` as sent (not cleaned).
    pub fn str_number(&self) -> Option<&str> {
        self.str.as_ref()?.nomor.as_deref()
    }

    /// `updated_at`, when it reads as a time.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at.as_deref().and_then(upstream_time)
    }
}
