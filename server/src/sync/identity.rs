//! The one place that reads and writes NIK columns: the blind index used for matching (HMAC-SHA256 under
//! `NIK_INDEX_KEY`, so equal NIKs match without comparing them in clear), the masked form for display,
//! and the stored value. Encryption at rest, when it comes, changes only this module.

use crate::config::Secret;
use crate::domain::Nik;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct NikIndexer {
    key: Secret,
}

/// The NIK columns of one worker row.
pub struct NikColumns {
    pub stored: String,
    pub index: String,
    pub masked: String,
}

impl NikIndexer {
    pub fn new(key: Secret) -> Self {
        NikIndexer { key }
    }

    pub fn index(&self, nik: &Nik) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(nik.as_str().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..20])
    }

    pub fn columns(&self, nik: &Nik) -> NikColumns {
        NikColumns {
            stored: nik.as_str().to_string(),
            index: self.index(nik),
            masked: nik.masked(),
        }
    }
}
