//! Sample upstream records for the rules' tests (and the store's), one person each, valid as given.

use serde_json::{json, Value};

/// Siti, a nurse with an active lifetime STR and one practice licence.
pub fn siti() -> Value {
    json!({
        "nik":"3205195211900003","nama":"Siti Aminah, S.Kep., Ners","jenis_kelamin":"female",
        "tempat_lahir":"Garut","tanggal_lahir":"1990-11-12",
        "rumpun":{"kode":"keperawatan","nama":"Keperawatan"},"jenis":{"kode":"perawat","nama":"Perawat"},
        "str":{"nomor":"1234567887654321","jenis":"seumur_hidup","konsil":"KKI",
               "tanggal_terbit":"2024-07-10","berlaku_sampai":null,"status":"aktif"},
        "sip":[{"nomor":"446/SIP/2024","kode_fasyankes":"1000156689","berlaku_sampai":"2029-07-09"}],
        "alamat":{"line":"Komplek Kesehatan","kode_provinsi":"32","kode_kabkota":"3205"},
        "updated_at":"2025-03-01T10:11:12+07:00"})
}

/// Budi, another person (his own NIK, name, birth date and STR).
pub fn budi() -> Value {
    let mut record = siti();
    record["nik"] = json!("3205191508850001");
    record["nama"] = json!("Budi Santoso");
    record["jenis_kelamin"] = json!("male");
    record["tanggal_lahir"] = json!("1985-08-15");
    record["str"]["nomor"] = json!("9876543212345678");
    record
}

/// `record` with the field at `path` set to `value`, or removed when `value` is `"<remove>"`.
pub fn with(mut record: Value, path: &[&str], value: Value) -> Value {
    let (last, parents) = path.split_last().expect("a path");
    let target = parents.iter().fold(&mut record, |t, key| &mut t[*key]);
    if value == json!("<remove>") {
        if let Some(object) = target.as_object_mut() {
            object.remove(*last);
        }
    } else {
        target[*last] = value;
    }
    record
}

/// The NIK columns and keyed hashes as the rules' tests compute them (fixed keys).
pub fn indexer() -> crate::rules::identity::NikIndexer {
    let keys = crate::config::NikKeys {
        current: crate::config::NikKey::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .expect("a valid key"),
        previous: Vec::new(),
    };
    crate::rules::identity::NikIndexer::new(
        crate::config::Secret::new("samples-index-key-samples-index-key"),
        &keys,
    )
}

/// The transform's context on the samples' sync date.
pub fn transform_context() -> crate::rules::transform::TransformContext {
    crate::rules::transform::TransformContext {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        catalogue: crate::domain::ProfessionCatalogue::national(),
    }
}

/// Any JSON whose keys are often the ones read, nested anywhere (string keys and values may hold
/// quotes, backslashes, brackets and escapes).
pub fn any_record() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let text = prop_oneof![
        Just("1234567887654321".to_string()),
        Just("2025-03-01T10:11:12+07:00".to_string()),
        r#"[a-z0-9"\\{}\[\],: ]{0,12}"#,
        ".{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        text.prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("str".to_string()),
        Just("nomor".to_string()),
        Just("updated_at".to_string()),
        ".{0,6}",
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
