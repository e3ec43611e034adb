//! The listener's certificate, re-read when its files change: a certificate renewed by cert-manager,
//! certbot or a secret rotation is served on the next handshake after it lands, with no restart.

use super::{read_certificates, read_private_key};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often a handshake may look at the files (a `stat` of each): renewals are rare, handshakes not.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What tells a file apart from the one read before: a renewal writes new bytes (length or time
/// change) or replaces the file (a Kubernetes secret swaps a symlink: a new inode behind the name).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Vec<(Option<SystemTime>, u64, u64)>);

impl Stamp {
    fn of(paths: &[&PathBuf]) -> Stamp {
        Stamp(
            paths
                .iter()
                .map(|path| match std::fs::metadata(path) {
                    Ok(meta) => (meta.modified().ok(), meta.len(), inode(&meta)),
                    Err(_) => (None, 0, 0),
                })
                .collect(),
        )
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Stamp, Arc<CertifiedKey>)>,
    last_check: Mutex<Instant>,
}

impl ReloadingCert {
    /// Reads the files now: at start, a missing or broken certificate is an error.
    pub fn load(cert: PathBuf, key: PathBuf) -> anyhow::Result<ReloadingCert> {
        let stamp = Stamp::of(&[&cert, &key]);
        let certified = certified_key(&cert, &key)?;
        Ok(ReloadingCert {
            cert,
            key,
            current: RwLock::new((stamp, certified)),
            last_check: Mutex::new(Instant::now()),
        })
    }

    /// The certificate to serve: the files are looked at once a second at most, and read again when
    /// they changed. A pair that does not load (half written, key and certificate not matching) leaves
    /// the previous certificate in service until the files are whole.
    pub fn current(&self) -> Arc<CertifiedKey> {
        if self.due_for_check() {
            self.reload_if_changed();
        }
        self.current
            .read()
            .map(|c| c.1.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().1.clone())
    }

    fn due_for_check(&self) -> bool {
        let Ok(mut last) = self.last_check.try_lock() else {
            // Another handshake is checking right now.
            return false;
        };
        if last.elapsed() < CHECK_EVERY {
            return false;
        }
        *last = Instant::now();
        true
    }

    fn reload_if_changed(&self) {
        let stamp = Stamp::of(&[&self.cert, &self.key]);
        let unchanged = self.current.read().map(|c| c.0 == stamp).unwrap_or(false);
        if unchanged {
            return;
        }
        match certified_key(&self.cert, &self.key) {
            Ok(certified) => {
                if let Ok(mut current) = self.current.write() {
                    *current = (stamp, certified);
                }
                tracing::info!(cert = %self.cert.display(), "TLS certificate re-read: new handshakes use it");
            }
            Err(err) => {
                tracing::warn!(error = %err, "TLS certificate files changed but do not load; the previous certificate stays in service");
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The chain and key, checked to belong together (a key of another certificate fails every handshake).
fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = read_certificates(cert).map_err(|err| anyhow::anyhow!("TLS_CERT_FILE {err}"))?;
    let key = read_private_key(key).map_err(|err| anyhow::anyhow!("TLS_KEY_FILE {err}"))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|err| {
        anyhow::anyhow!("TLS_CERT_FILE {} and TLS_KEY_FILE: {err}", cert.display())
    })?;
    Ok(Arc::new(certified))
}
