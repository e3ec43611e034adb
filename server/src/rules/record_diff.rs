//! A worker's fields as people compare them (NIK masked), and where two versions differ: the review
//! case's side-by-side view and a batch's change report (`batch.changes`) read the same fields.

use entity::health_worker;

/// The fields compared, as text.
pub fn comparable(w: &health_worker::Model) -> [(&'static str, Option<String>); 13] {
    [
        ("nik_masked", Some(w.nik_masked.clone())),
        ("name", Some(w.name.clone())),
        ("sex", w.sex.clone()),
        ("birth_place", Some(w.birth_place.clone())),
        ("birth_date", Some(w.birth_date.to_string())),
        ("profession", Some(w.profession_code.clone())),
        ("str_status", Some(w.str_status.clone())),
        ("str_valid_until", w.str_valid_until.map(|d| d.to_string())),
        ("str_kind", w.str_kind.clone()),
        ("str_council", w.str_council.clone()),
        ("address_line", w.address_line.clone()),
        ("province_code", w.province_code.clone()),
        ("regency_code", w.regency_code.clone()),
    ]
}

/// One differing field: name, stored value, incoming value.
pub type FieldChange = (&'static str, Option<String>, Option<String>);

/// The fields where `incoming` differs from `stored` (every field with a value, for a new worker).
pub fn differences(
    stored: Option<&health_worker::Model>,
    incoming: &health_worker::Model,
) -> Vec<FieldChange> {
    let incoming = comparable(incoming);
    match stored {
        Some(stored) => comparable(stored)
            .into_iter()
            .zip(incoming)
            .filter(|((_, a), (_, b))| a != b)
            .map(|((field, a), (_, b))| (field, a, b))
            .collect(),
        None => incoming
            .into_iter()
            .filter(|(_, b)| b.is_some())
            .map(|(field, b)| (field, None, b))
            .collect(),
    }
}

/// As `[{field, stored, incoming}]`.
pub fn to_json(changes: &[FieldChange]) -> serde_json::Value {
    changes
        .iter()
        .map(|(field, stored, incoming)| {
            serde_json::json!({"field": field, "stored": stored, "incoming": incoming})
        })
        .collect()
}
