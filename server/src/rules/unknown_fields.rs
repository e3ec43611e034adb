//! Record paths the mapping does not know (CONTRACT §3, `Batch.unknown_fields`): when RegNakes adds or
//! renames a field, the batch that first meets it says so. Paths are written `a.b` for an object's key
//! and `a[]` for an array's items (`sip[].tanggal_terbit`), and counted per record that carries them.
//!
//! The transform finds them while it parses a record (`regnakes::wire_struct` notes each key the wire
//! types do not know; `rumpun.nama` and `jenis.nama` are skipped on purpose), so a record with none
//! costs no more than a plain parse. Records found unchanged on the fast path are
//! not parsed: their bytes are those of a record already written, whose paths its batch reported.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// At most this many paths are kept per batch (CONTRACT §3); further new paths are not counted, so a
/// registry answering random keys cannot grow the server.
pub const MAX_PATHS: usize = 50;

/// Unknown paths with the number of records carrying each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UnknownFields(BTreeMap<String, u64>);

impl UnknownFields {
    /// Counts the paths one record carries (each once, however often it occurs in the record).
    pub fn add_record(&mut self, mut paths: Vec<String>) {
        paths.sort_unstable();
        paths.dedup();
        for path in paths {
            self.add(path, 1);
        }
    }

    fn add(&mut self, path: String, count: u64) {
        if let Some(n) = self.0.get_mut(&path) {
            *n += count;
        } else if self.0.len() < MAX_PATHS {
            self.0.insert(path, count);
        }
    }

    pub fn merge(&mut self, other: &UnknownFields) {
        for (path, count) in &other.0 {
            self.add(path.clone(), *count);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(path, count)| (path.clone(), Value::from(*count)))
                .collect::<Map<_, _>>(),
        )
    }

    /// The stored form back (an absent or unreadable column reads as none).
    pub fn from_json(text: Option<&str>) -> UnknownFields {
        let Some(Value::Object(map)) = text.and_then(|t| serde_json::from_str(t).ok()) else {
            return UnknownFields::default();
        };
        let mut fields = UnknownFields::default();
        for (path, count) in map {
            if let Some(count) = count.as_u64() {
                fields.add(path, count);
            }
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_counted_once_per_record_and_bounded() {
        let mut fields = UnknownFields::default();
        fields.add_record(vec!["gelar".into(), "gelar".into(), "sip[].x".into()]);
        fields.add_record(vec!["gelar".into()]);
        assert_eq!(
            fields.to_json(),
            serde_json::json!({"gelar": 2, "sip[].x": 1})
        );
        for n in 0..100 {
            fields.add_record(vec![format!("k{n}")]);
        }
        assert_eq!(fields.paths().count(), MAX_PATHS);
        assert_eq!(fields.to_json()["gelar"], 2, "known paths still count");
        let back = UnknownFields::from_json(Some(&fields.to_json().to_string()));
        assert_eq!(back, fields);
        assert!(UnknownFields::from_json(Some("not json")).is_empty());
    }

    #[test]
    fn the_paths_a_record_reports() {
        let ctx = crate::rules::samples::transform_context();
        let cases = [
            (
                r#"{"rumpun": {"kode": "1", "nama": "x"}, "jenis": {"nama": "y"}}"#,
                vec![],
            ),
            (r#"{"gelar": "S.Kep"}"#, vec!["gelar"]),
            (r#"{"alamat": {"nama": "x"}}"#, vec!["alamat.nama"]),
            (r#"{"rumpun": {"nama": {"nama": 1}}}"#, vec![]),
            (
                r#"{"str": {"x": 1}, "sip": [{"y": 2}, {"y": 3}]}"#,
                vec!["str.x", "sip[].y", "sip[].y"],
            ),
            (r#"{"nama": {"x": 1}}"#, vec![]),
        ];
        for (record, expected) in cases {
            let mut unknown = Vec::new();
            crate::rules::transform::transform_noting(record, &ctx, &mut unknown);
            assert_eq!(unknown, expected, "record {record}");
        }
    }
}
