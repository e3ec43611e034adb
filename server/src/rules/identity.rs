//! The one place that reads and writes NIK columns: the blind index used for matching (HMAC-SHA256 under
//! `NIK_INDEX_KEY`, so equal NIKs match without comparing them in clear), the masked form for display,
//! and the stored value, encrypted at rest with AES-256-GCM under `NIK_ENCRYPTION_KEY`: a fresh random
//! nonce per value, and the key's id beside it, so keys can be rotated (`nik_keys`).
//!
//! Stored form: `enc:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
//!
//! It also keys the hashes a worker row keeps of its content and of the record it came from: both are
//! taken over data holding the NIK, and a NIK has few enough candidates (12 of its 16 digits follow
//! from the masked form, the birth date and sex) that an unkeyed hash gives it away. Their key is
//! derived from `NIK_INDEX_KEY`. Stored forms: `k:<hex>` (keyed); `w:<hex>` (an earlier release's
//! unkeyed hash, keyed over: `store::rehash` turns those into this form at start); bare hex (an
//! earlier release's, not yet re-keyed).

use crate::config::{NikKey, NikKeys, Secret};
use crate::domain::{HealthWorker, Nik};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::Sha256;
use std::cell::RefCell;
use std::sync::Arc;

const PREFIX: &str = "enc:";
const NONCE_LEN: usize = 12;

thread_local! {
    /// The nonces' source: a CSPRNG per thread, seeded from the OS when the thread first encrypts
    /// (a system call per NIK cost 2 % of a full sync's CPU). ChaCha20 is a cryptographic generator:
    /// its output is as unpredictable as the OS's, and 96-bit random nonces stay unique well past the
    /// 2^32 values NIST allows per key.
    static NONCES: RefCell<ChaCha20Rng> =
        RefCell::new(ChaCha20Rng::from_rng(OsRng).expect("the OS random source is available"));
    static CONTENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[derive(Clone)]
pub struct NikIndexer {
    keys: Arc<Ciphers>,
    hashes: Arc<HashKeys>,
}

/// The keyed hashes' keys, ready to clone per value (HMAC's key schedule done once).
struct HashKeys {
    /// The blind index's (the index key itself, not a derived one: stored indexes stay valid).
    index: Hmac<Sha256>,
    content: Hmac<Sha256>,
    source: Hmac<Sha256>,
    legacy: Hmac<Sha256>,
}

/// A key of its own for each purpose, derived from the index key.
fn derived(index_key: &Secret, purpose: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(index_key.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"regnakes-sync derived key: ");
    mac.update(purpose.as_bytes());
    <Hmac<Sha256> as Mac>::new_from_slice(&mac.finalize().into_bytes())
        .expect("HMAC takes keys of any length")
}

/// The prefix of a keyed hash, and of an earlier release's hash keyed over.
pub const KEYED: &str = "k:";
pub const WRAPPED: &str = "w:";

/// What a stored content or source hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    Keyed,
    /// An earlier release's unkeyed hash, keyed over by `wrap_legacy`.
    Wrapped,
    /// An earlier release's unkeyed hash, not yet re-keyed.
    Legacy,
}

impl StoredHash {
    pub fn of(stored: &str) -> StoredHash {
        if stored.starts_with(KEYED) {
            StoredHash::Keyed
        } else if stored.starts_with(WRAPPED) {
            StoredHash::Wrapped
        } else {
            StoredHash::Legacy
        }
    }
}

/// `prefix`, then the first `bytes` bytes of the MAC in hex.
fn finish(prefix: &str, bytes: usize, mac: Hmac<Sha256>) -> String {
    let mut digits = [0u8; 64];
    let digits = &mut digits[..bytes * 2];
    hex::encode_to_slice(&mac.finalize().into_bytes()[..bytes], &mut *digits)
        .expect("two digits per byte");
    let mut out = String::with_capacity(prefix.len() + digits.len());
    out.push_str(prefix);
    out.push_str(std::str::from_utf8(digits).expect("hex digits are ASCII"));
    out
}

/// The current key's cipher, and every key that may still be found on stored values (for rotation).
struct Ciphers {
    current: (String, Aes256Gcm),
    all: Vec<(String, Aes256Gcm)>,
}

fn cipher(key: &NikKey) -> (String, Aes256Gcm) {
    (
        key.id.clone(),
        Aes256Gcm::new_from_slice(key.bytes()).expect("NIK keys are 32 bytes (checked at load)"),
    )
}

/// The NIK columns of one worker row.
#[derive(Clone)]
pub struct NikColumns {
    pub stored: String,
    pub index: String,
    pub masked: String,
}

/// Why a stored value could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredNikError {
    #[error("encrypted under key {0:?}, which is not configured (NIK_ENCRYPTION_PREVIOUS_KEYS)")]
    UnknownKey(String),
    #[error("the stored value is damaged or was not encrypted by this system")]
    Damaged,
}

impl NikIndexer {
    pub fn new(index_key: Secret, keys: &NikKeys) -> Self {
        let current = cipher(&keys.current);
        let all = std::iter::once(&keys.current)
            .chain(&keys.previous)
            .map(cipher)
            .collect();
        let hashes = HashKeys {
            index: <Hmac<Sha256> as Mac>::new_from_slice(index_key.expose().as_bytes())
                .expect("HMAC takes keys of any length"),
            content: derived(&index_key, "content hash v1"),
            source: derived(&index_key, "source hash v1"),
            legacy: derived(&index_key, "legacy hash v1"),
        };
        NikIndexer {
            keys: Arc::new(Ciphers { current, all }),
            hashes: Arc::new(hashes),
        }
    }

    /// The keyed hash of a worker's stored content (what matching compares).
    pub fn content_hash(&self, worker: &HealthWorker) -> String {
        self.content_hash_with(worker, &worker.licences_json())
    }

    /// `content_hash` with the worker's licences already serialised (`HealthWorker::licences_json`).
    pub fn content_hash_with(&self, worker: &HealthWorker, licences_json: &str) -> String {
        let mut mac = self.hashes.content.clone();
        // One buffer per thread, reused: the content is serialised for every record.
        CONTENT.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            worker.write_content_with(&mut buffer, licences_json);
            mac.update(&buffer);
        });
        finish(KEYED, 16, mac)
    }

    /// The keyed hash of one upstream record's bytes under this release's transform (`version`).
    pub fn source_hash(&self, version: &str, raw: &str) -> String {
        let mut mac = self.hashes.source.clone();
        mac.update(version.as_bytes());
        mac.update(&[0u8]);
        mac.update(raw.as_bytes());
        finish(KEYED, 16, mac)
    }

    /// An earlier release's unkeyed content hash, keyed over: what `store::rehash` stores in its place.
    pub fn wrap_legacy(&self, legacy: &str) -> String {
        let mut mac = self.hashes.legacy.clone();
        mac.update(legacy.as_bytes());
        finish(WRAPPED, 16, mac)
    }

    /// Whether a stored content hash, of any form, is the content of `worker`.
    pub fn same_content(&self, stored: &str, keyed: &str, worker: &HealthWorker) -> bool {
        match StoredHash::of(stored) {
            StoredHash::Keyed => stored == keyed,
            StoredHash::Wrapped => stored == self.wrap_legacy(&worker.legacy_content_hash()),
            StoredHash::Legacy => stored == worker.legacy_content_hash(),
        }
    }

    pub fn index(&self, nik: &Nik) -> String {
        let mut mac = self.hashes.index.clone();
        mac.update(nik.as_str().as_bytes());
        finish("", 20, mac)
    }

    pub fn columns(&self, nik: &Nik) -> NikColumns {
        NikColumns {
            stored: self.encrypt(nik.as_str()),
            index: self.index(nik),
            masked: nik.masked(),
        }
    }

    /// The id of the key new values are encrypted with.
    pub fn current_key_id(&self) -> &str {
        &self.keys.current.0
    }

    /// Encrypts under the current key with a fresh random nonce.
    pub fn encrypt(&self, clear: &str) -> String {
        let (id, cipher) = &self.keys.current;
        let nonce = NONCES.with(|rng| Aes256Gcm::generate_nonce(&mut *rng.borrow_mut()));
        let mut bytes = Vec::with_capacity(NONCE_LEN + clear.len() + 16);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(
            &cipher
                .encrypt(&nonce, clear.as_bytes())
                .expect("AES-GCM encryption of a short value cannot fail"),
        );
        let mut stored =
            String::with_capacity(PREFIX.len() + id.len() + 1 + bytes.len() * 4 / 3 + 4);
        stored.push_str(PREFIX);
        stored.push_str(id);
        stored.push(':');
        URL_SAFE_NO_PAD.encode_string(&bytes, &mut stored);
        stored
    }

    /// The key id of a stored value, or `None` for a value stored in clear (before encryption).
    pub fn key_id_of(stored: &str) -> Option<&str> {
        stored
            .strip_prefix(PREFIX)?
            .split_once(':')
            .map(|(id, _)| id)
    }

    /// Reads a stored value back: decrypts it, or takes a value stored in clear as it is.
    pub fn reveal(&self, stored: &str) -> Result<String, StoredNikError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, payload) = rest.split_once(':').ok_or(StoredNikError::Damaged)?;
        let (_, cipher) = self
            .keys
            .all
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| StoredNikError::UnknownKey(id.to_string()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| StoredNikError::Damaged)?;
        if bytes.len() <= NONCE_LEN {
            return Err(StoredNikError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| StoredNikError::Damaged)?;
        let clear = cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| StoredNikError::Damaged)?;
        String::from_utf8(clear).map_err(|_| StoredNikError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, previous: &[&str]) -> NikKeys {
        let key = |spec: &str| NikKey::parse(spec).unwrap();
        NikKeys {
            current: key(current),
            previous: previous.iter().map(|s| key(s)).collect(),
        }
    }

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn a_nik_is_stored_encrypted_and_read_back() {
        let indexer = NikIndexer::new(Secret::new("index"), &keys(K1, &[]));
        let nik = "3205195211900003";
        let a = indexer.encrypt(nik);
        let b = indexer.encrypt(nik);
        assert!(a.starts_with("enc:k1:"), "{a}");
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains(nik));
        assert_eq!(indexer.reveal(&a).unwrap(), nik);
        assert_eq!(NikIndexer::key_id_of(&a), Some("k1"));
        assert_eq!(NikIndexer::key_id_of(nik), None);
        assert_eq!(
            indexer.reveal(nik).unwrap(),
            nik,
            "a clear value reads as it is"
        );
    }

    #[test]
    fn rotation_reads_old_keys_and_writes_the_new_one() {
        let old = NikIndexer::new(Secret::new("index"), &keys(K1, &[]));
        let stored = old.encrypt("3205195211900003");
        let rotated = NikIndexer::new(Secret::new("index"), &keys(K2, &[K1]));
        assert_eq!(rotated.reveal(&stored).unwrap(), "3205195211900003");
        assert!(rotated.encrypt("3205195211900003").starts_with("enc:k2:"));
        let forgot = NikIndexer::new(Secret::new("index"), &keys(K2, &[]));
        assert_eq!(
            forgot.reveal(&stored),
            Err(StoredNikError::UnknownKey("k1".into()))
        );
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(rotated.reveal(&tampered), Err(StoredNikError::Damaged));
    }

    /// The stored forms (content and its hash, fingerprint, licences, source hash, blind index) of
    /// three sample records, as the release before issue 22's speed work wrote them: a change to how
    /// they are made must not change a byte of them (every stored row would read as changed).
    #[test]
    fn stored_forms_are_byte_for_byte_those_of_the_earlier_release() {
        use crate::rules::samples::{budi, siti, with};
        use crate::rules::transform::{transform, Transformed};
        use serde_json::json;
        let indexer = crate::rules::samples::indexer();
        let ctx = crate::rules::samples::transform_context();
        let records = [
            siti(),
            budi(),
            with(
                with(siti(), &["str", "berlaku_sampai"], json!("2031-01-02")),
                &["sip"],
                json!([{"nomor":"A/1","kode_fasyankes":null,"berlaku_sampai":null},
                       {"nomor":"B\"2\u{e9}","kode_fasyankes":"9","berlaku_sampai":"2027-12-31"}]),
            ),
        ];
        let expected = [
            ("{\"nik\":\"3205195211900003\",\"name\":\"Siti Aminah, S.Kep., Ners\",\"sex\":\"female\",\"birth_place\":\"Garut\",\"birth_date\":\"1990-11-12\",\"profession\":\"perawat\",\"str_certificate\":{\"number\":\"1234567887654321\",\"kind\":\"seumur_hidup\",\"council\":\"KKI\",\"issued_on\":\"2024-07-10\",\"valid_until\":null,\"status\":\"aktif\"},\"licences\":[{\"number\":\"446/SIP/2024\",\"facility_code\":\"1000156689\",\"valid_until\":\"2029-07-09\"}],\"address\":{\"line\":\"Komplek Kesehatan\",\"province_code\":\"32\",\"regency_code\":\"3205\"}}", "k:b1c2ed993ca281327f9cbefc1ba0983d", "6a9d9378839f6e0bfe8db466d190969638de2d4fd2ecf5f007bb6e15f87092f5b9771340", "[{\"number\":\"446/SIP/2024\",\"facility_code\":\"1000156689\",\"valid_until\":\"2029-07-09\"}]", "k:fd5873f338c6df5ecb56f08a8e00b749", "b103ec55f561fcf15bdcad668bbb17082255dbee"),
            ("{\"nik\":\"3205191508850001\",\"name\":\"Budi Santoso\",\"sex\":\"male\",\"birth_place\":\"Garut\",\"birth_date\":\"1985-08-15\",\"profession\":\"perawat\",\"str_certificate\":{\"number\":\"9876543212345678\",\"kind\":\"seumur_hidup\",\"council\":\"KKI\",\"issued_on\":\"2024-07-10\",\"valid_until\":null,\"status\":\"aktif\"},\"licences\":[{\"number\":\"446/SIP/2024\",\"facility_code\":\"1000156689\",\"valid_until\":\"2029-07-09\"}],\"address\":{\"line\":\"Komplek Kesehatan\",\"province_code\":\"32\",\"regency_code\":\"3205\"}}", "k:913248272e71575b57c99478821bd380", "685ab7ebf214210dfe8db466ec5559e638de2d4fd2ecf5f007bb6e15f87092f5b9771340", "[{\"number\":\"446/SIP/2024\",\"facility_code\":\"1000156689\",\"valid_until\":\"2029-07-09\"}]", "k:f7b4d5b9fae6e53f66b3e3e1bdc3cabd", "7989b50912eee788131ef927ba822f5234e56211"),
            ("{\"nik\":\"3205195211900003\",\"name\":\"Siti Aminah, S.Kep., Ners\",\"sex\":\"female\",\"birth_place\":\"Garut\",\"birth_date\":\"1990-11-12\",\"profession\":\"perawat\",\"str_certificate\":{\"number\":\"1234567887654321\",\"kind\":\"seumur_hidup\",\"council\":\"KKI\",\"issued_on\":\"2024-07-10\",\"valid_until\":\"2031-01-02\",\"status\":\"aktif\"},\"licences\":[{\"number\":\"A/1\",\"facility_code\":null,\"valid_until\":null},{\"number\":\"B\\\"2é\",\"facility_code\":\"9\",\"valid_until\":\"2027-12-31\"}],\"address\":{\"line\":\"Komplek Kesehatan\",\"province_code\":\"32\",\"regency_code\":\"3205\"}}", "k:2d474a1082daa9babc48df39f3ea889a", "6a9d9378839f6e0bfe8db466d190969638de2d4f8492125b07bb6e1550e1e96ab9771340", "[{\"number\":\"A/1\",\"facility_code\":null,\"valid_until\":null},{\"number\":\"B\\\"2é\",\"facility_code\":\"9\",\"valid_until\":\"2027-12-31\"}]", "k:7213c0e5d0d4b956a58ba275a4d04da6", "b103ec55f561fcf15bdcad668bbb17082255dbee")
        ];
        for (record, expected) in records.into_iter().zip(expected) {
            let raw = record.to_string();
            let Transformed::Valid(candidate) = transform(&raw, &ctx) else {
                panic!("a valid sample");
            };
            let w = &candidate.worker;
            let got = (
                String::from_utf8(w.content_bytes()).unwrap(),
                indexer.content_hash(w),
                w.field_fingerprint(),
                serde_json::to_string(&w.licences).unwrap(),
                indexer.source_hash("v", &raw),
                indexer.index(&w.nik),
            );
            let expected = (
                expected.0.to_string(),
                expected.1.to_string(),
                expected.2.to_string(),
                expected.3.to_string(),
                expected.4.to_string(),
                expected.5.to_string(),
            );
            assert_eq!(got, expected);
        }
    }
}
