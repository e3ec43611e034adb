//! Layered settings: defaults → config file (`KEY=VALUE` lines, the same names as the environment) →
//! environment. Secrets are typed so that they cannot be printed by accident, and may come from the
//! environment, a `*_FILE`, or Vault KV v2.

pub mod schedule;

use crate::domain::profession::ProfessionCatalogue;
use crate::tls::TlsFiles;
pub use schedule::Schedule;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value that must never reach a log, an error, an RPC result or a metric.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// The least key material any signing or index key may have (CONTRACT §5): a shorter key can be guessed
/// offline from one token, notification or stored blind index.
pub const MIN_KEY_BYTES: usize = 32;

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret, if it holds at least `MIN_KEY_BYTES` bytes; else an error naming `key`.
    fn strong(self, key: &'static str) -> Result<Secret, ConfigError> {
        if self.0.len() < MIN_KEY_BYTES {
            return Err(ConfigError::Invalid {
                key,
                problem: format!(
                    "has {} bytes; a key needs at least {MIN_KEY_BYTES} (e.g. openssl rand -hex 32)",
                    self.0.len()
                ),
            });
        }
        Ok(self)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {key}: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("config file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("reading secrets from Vault: {0}")]
    Vault(String),
}

/// The profession catalogue a server judges `jenis.kode` against.
#[derive(Clone, Copy)]
pub struct Professions(pub &'static ProfessionCatalogue);

impl std::fmt::Debug for Professions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Professions({} codes)", self.0.professions().len())
    }
}

impl Professions {
    fn load(layers: &Layers) -> Result<Professions, ConfigError> {
        let Some(path) = layers.get("PROFESSIONS_FILE") else {
            return Ok(Professions(ProfessionCatalogue::national()));
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::File {
            path: path.clone(),
            source,
        })?;
        // Read once per process, kept for its life (the catalogue borrows its names).
        let text: &'static str = Box::leak(text.into_boxed_str());
        let catalogue =
            ProfessionCatalogue::parse(text).map_err(|problem| ConfigError::Invalid {
                key: "PROFESSIONS_FILE",
                problem,
            })?;
        Ok(Professions(Box::leak(Box::new(catalogue))))
    }
}

#[derive(Debug, Clone)]
pub struct RegnakesSettings {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub page_size: u32,
    pub retry_base_delay: Duration,
    /// Retries after the first attempt (CONTRACT: at most 3).
    pub max_retries: u32,
    /// Pages requested at once (they are still stored in order).
    pub concurrency: usize,
    pub request_timeout: Duration,
}

/// One AES-256 key of the NIKs at rest, with the id stored beside each value it encrypts.
#[derive(Clone)]
pub struct NikKey {
    pub id: String,
    bytes: [u8; 32],
}

impl fmt::Debug for NikKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NikKey({:?}, [REDACTED])", self.id)
    }
}

impl NikKey {
    /// `<id>:<32 bytes as base64 or 64 hex digits>`; the id is 1-16 letters, digits, `-` or `_`.
    pub fn parse(spec: &str) -> Result<NikKey, String> {
        use base64::Engine;
        let (id, material) = spec
            .trim()
            .split_once(':')
            .ok_or("must be <key id>:<key>, e.g. 2026a:<32 bytes in base64>")?;
        if id.is_empty()
            || id.len() > 16
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("the key id must be 1-16 letters, digits, - or _".into());
        }
        let decoded = if material.len() == 64 && material.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(material).ok()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(material)
                .ok()
        };
        let bytes: [u8; 32] = decoded.and_then(|d| d.try_into().ok()).ok_or(
            "the key must be 32 bytes, as base64 or 64 hex digits (openssl rand -base64 32)",
        )?;
        Ok(NikKey {
            id: id.to_string(),
            bytes,
        })
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// A fresh random key (the demo's and the tests').
    pub fn generate(id: &str) -> NikKey {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        NikKey {
            id: id.to_string(),
            bytes,
        }
    }

    /// The form `parse` reads.
    pub fn to_spec(&self) -> Secret {
        use base64::Engine;
        Secret::new(format!(
            "{}:{}",
            self.id,
            base64::engine::general_purpose::STANDARD.encode(self.bytes)
        ))
    }
}

#[derive(Debug, Clone)]
pub struct NikKeys {
    pub current: NikKey,
    pub previous: Vec<NikKey>,
}

impl NikKeys {
    /// `NIK_ENCRYPTION_KEY` (or `_FILE`) and `NIK_ENCRYPTION_PREVIOUS_KEYS` (comma-separated, or `_FILE`).
    fn load(layers: &Layers) -> Result<Option<NikKeys>, ConfigError> {
        let parse = |key: &'static str, spec: &str| {
            NikKey::parse(spec).map_err(|problem| ConfigError::Invalid { key, problem })
        };
        let Some(current) = layers.secret("NIK_ENCRYPTION_KEY")? else {
            return Ok(None);
        };
        let current = parse("NIK_ENCRYPTION_KEY", current.expose())?;
        let previous = match layers.secret("NIK_ENCRYPTION_PREVIOUS_KEYS")? {
            None => Vec::new(),
            Some(list) => list
                .expose()
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|spec| parse("NIK_ENCRYPTION_PREVIOUS_KEYS", spec))
                .collect::<Result<_, _>>()?,
        };
        Ok(Some(NikKeys { current, previous }))
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The reference list of professions: the shipped one, or `PROFESSIONS_FILE` (same columns), so a
    /// ministry adds a profession without a release.
    pub professions: Professions,
    pub database_url: String,
    pub listen_addr: String,
    /// HTTPS on the listener (`None`: plain HTTP, the default for loopback and the demo).
    pub tls: Option<TlsFiles>,
    /// CAs trusted for outbound HTTPS beside Mozilla's roots (`TLS_OUTBOUND_CA_FILE`).
    pub outbound_ca_file: Option<PathBuf>,
    pub regnakes: RegnakesSettings,
    /// What Odoo's RPC tokens are verified with (EdDSA public key, HS256 secret, or both).
    pub rpc_token_keys: TokenKeys,
    /// Signs the Odoo notification; its own key, never a token key (required with `ODOO_NOTIFY_URL`).
    pub odoo_notify_secret: Option<Secret>,
    /// `None` when `SYNC_SCHEDULE=off`.
    pub sync_schedule: Option<String>,
    /// The full sync that corrects drift no lookback can catch; `None` when `SYNC_FULL_SCHEDULE=off`.
    pub sync_full_schedule: Option<String>,
    /// How far before the watermark an incremental run starts reading (`SYNC_LOOKBACK`): changes that
    /// become visible upstream after the time they carry are read on the next run.
    pub sync_lookback: Duration,
    pub failure_threshold: f64,
    /// Whether records whose bytes the store already holds skip the transform and matching
    /// (`rules::unchanged`); off makes every record take the full path.
    pub unchanged_fast_path: bool,
    pub slack_webhook_url: Option<Secret>,
    pub odoo_notify_url: Option<String>,
    /// Key of the NIK blind index (HMAC-SHA256): changing it requires re-indexing stored workers.
    /// Required by anything that stores workers (`NikSecrets::require`).
    pub nik_index_key: Option<Secret>,
    /// AES-256-GCM keys of the NIKs at rest: the current one, and older ones still to be rotated away.
    pub nik_keys: Option<NikKeys>,
    pub lease_ttl: Duration,
    /// Calls per second and burst per caller (`sub`), and failed authentications per peer address.
    pub rpc_limits: LimitSettings,
    /// How long batches and their rejected rows are kept (`RETENTION_DAYS`); `None` keeps them forever.
    pub retention: Option<chrono::Duration>,
    /// The longest token lifetime accepted (`exp` − `iat`).
    pub rpc_max_token_lifetime: Duration,
    pub instance_id: String,
}

pub const DEFAULT_SCHEDULE: &str = "0 2 * * *";
/// Sundays at 03:00 Asia/Jakarta, an hour after the daily incremental run.
pub const DEFAULT_FULL_SCHEDULE: &str = "0 3 * * 0";
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(600);
pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Where values come from, most important first.
pub struct Layers {
    env: HashMap<String, String>,
    file: HashMap<String, String>,
}

impl Layers {
    pub fn from_process(file: Option<&Path>) -> Result<Layers, ConfigError> {
        let file = match file {
            Some(path) => parse_file(path)?,
            None => HashMap::new(),
        };
        Ok(Layers {
            env: std::env::vars().collect(),
            file,
        })
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Layers {
        Layers {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: HashMap::new(),
        }
    }

    /// `LISTEN_ADDR` alone (the healthcheck needs nothing else, not even the secrets).
    pub fn listen_addr(&self) -> String {
        self.get("LISTEN_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
    }

    /// The listener's TLS files (CONTRACT §5): both `TLS_CERT_FILE` and `TLS_KEY_FILE`, or neither
    /// (plain HTTP); `TLS_CLIENT_CA_FILE` only with them.
    pub fn tls(&self) -> Result<Option<TlsFiles>, ConfigError> {
        let client_ca = self.get("TLS_CLIENT_CA_FILE").map(PathBuf::from);
        match (self.get("TLS_CERT_FILE"), self.get("TLS_KEY_FILE")) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
                client_ca,
            })),
            (None, None) if client_ca.is_none() => Ok(None),
            (None, None) => Err(ConfigError::Invalid {
                key: "TLS_CLIENT_CA_FILE",
                problem: "needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates are asked for over HTTPS".into(),
            }),
            (Some(_), None) => Err(ConfigError::Invalid {
                key: "TLS_KEY_FILE",
                problem: "is required with TLS_CERT_FILE".into(),
            }),
            (None, Some(_)) => Err(ConfigError::Invalid {
                key: "TLS_CERT_FILE",
                problem: "is required with TLS_KEY_FILE".into(),
            }),
        }
    }

    /// The healthcheck's own client certificate and key for a server that requires one, when set.
    pub fn healthcheck_client_pair(&self) -> Option<(PathBuf, PathBuf)> {
        Some((
            self.get("TLS_HEALTHCHECK_CERT_FILE")?.into(),
            self.get("TLS_HEALTHCHECK_KEY_FILE")?.into(),
        ))
    }

    fn get(&self, key: &str) -> Option<String> {
        self.env
            .get(key)
            .or_else(|| self.file.get(key))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn parsed<T: std::str::FromStr>(&self, key: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                key,
                problem: format!("{raw:?}: {e}"),
            }),
        }
    }

    /// A duration from `key` (`600`, `90s`, `10m`, `1h`, `1d`).
    fn duration(&self, key: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => {
                parse_duration(&raw).map_err(|problem| ConfigError::Invalid { key, problem })
            }
        }
    }

    /// A cron expression from `key` (`off` → `None`), checked here so a bad one stops the start.
    fn schedule(&self, key: &'static str, default: &str) -> Result<Option<String>, ConfigError> {
        let expr = match self.get(key) {
            Some(s) if s.eq_ignore_ascii_case("off") => return Ok(None),
            Some(s) => s,
            None => default.to_string(),
        };
        Schedule::parse(&expr).map_err(|problem| ConfigError::Invalid { key, problem })?;
        Ok(Some(expr))
    }

    /// A signing or index key from `KEY` or `KEY_FILE`: a secret of at least `MIN_KEY_BYTES` bytes.
    fn key(&self, key: &'static str) -> Result<Option<Secret>, ConfigError> {
        self.secret(key)?.map(|s| s.strong(key)).transpose()
    }

    /// A secret from `KEY`, or from the file named by `KEY_FILE`.
    fn secret(&self, key: &'static str) -> Result<Option<Secret>, ConfigError> {
        if let Some(value) = self.get(key) {
            return Ok(Some(Secret(value)));
        }
        let file_key = format!("{key}_FILE");
        match self.get(&file_key) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(&path)
                .map(|v| Some(Secret(v.trim().to_string())))
                .map_err(|source| ConfigError::File { path, source }),
        }
    }
}

/// `600`, `600s`, `10m`, `1h`, `1d`; `0` for none.
fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let seconds_per_unit = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "{raw:?}: unknown unit {other:?} (use s, m, h or d)"
            ))
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 600s, 10m or 1h"))?;
    Ok(Duration::from_secs(number.saturating_mul(seconds_per_unit)))
}

fn parse_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        path: path.display().to_string(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect())
}

/// The embedded default: a SQLite file under `./data`.
pub fn default_database_url() -> String {
    "sqlite://data/regnakes-sync.db?mode=rwc".to_string()
}

impl RegnakesSettings {
    fn load(layers: &Layers, page_size: u32) -> Result<RegnakesSettings, ConfigError> {
        Ok(RegnakesSettings {
            base_url: layers
                .get("REGNAKES_BASE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8090".into())
                .trim_end_matches('/')
                .to_string(),
            client_id: layers.get("REGNAKES_CLIENT_ID").unwrap_or_default(),
            client_secret: layers
                .secret("REGNAKES_CLIENT_SECRET")?
                .unwrap_or(Secret(String::new())),
            page_size,
            retry_base_delay: Duration::from_millis(layers.parsed("RETRY_BASE_DELAY_MS", 1000)?),
            max_retries: 3,
            concurrency: layers
                .parsed::<usize>("REGNAKES_CONCURRENCY", 2)?
                .clamp(1, 8),
            request_timeout: Duration::from_secs(layers.parsed("REGNAKES_TIMEOUT_SECONDS", 30)?),
        })
    }
}

impl LimitSettings {
    fn load(layers: &Layers) -> Result<LimitSettings, ConfigError> {
        Ok(LimitSettings {
            calls_per_second: layers.parsed("RPC_RATE_LIMIT_PER_SECOND", 1000)?,
            calls_burst: layers.parsed("RPC_RATE_LIMIT_BURST", 2000)?,
            auth_failures_per_second: layers.parsed("RPC_AUTH_FAILURES_PER_SECOND", 5)?,
            auth_failures_burst: layers.parsed("RPC_AUTH_FAILURES_BURST", 20)?,
        })
    }
}

impl Settings {
    pub fn load(layers: &Layers) -> Result<Settings, ConfigError> {
        let page_size: u32 = layers.parsed("REGNAKES_PAGE_SIZE", 1000)?;
        if !(1..=2000).contains(&page_size) {
            return Err(ConfigError::Invalid {
                key: "REGNAKES_PAGE_SIZE",
                problem: format!("{page_size} is outside 1..=2000"),
            });
        }
        let failure_threshold: f64 = layers.parsed("SYNC_FAILURE_THRESHOLD", 0.20)?;
        if !(0.0..=1.0).contains(&failure_threshold) {
            return Err(ConfigError::Invalid {
                key: "SYNC_FAILURE_THRESHOLD",
                problem: format!("{failure_threshold} is outside 0..=1"),
            });
        }
        let sync_schedule = layers.schedule("SYNC_SCHEDULE", DEFAULT_SCHEDULE)?;
        let sync_full_schedule = layers.schedule("SYNC_FULL_SCHEDULE", DEFAULT_FULL_SCHEDULE)?;
        let sync_lookback = layers.duration("SYNC_LOOKBACK", DEFAULT_LOOKBACK)?;
        let rpc_token_keys = TokenKeys::load(layers)?;
        let odoo_notify_url = layers.get("ODOO_NOTIFY_URL");
        let odoo_notify_secret = layers.key("ODOO_NOTIFY_SECRET")?;
        if odoo_notify_url.is_some() && odoo_notify_secret.is_none() {
            return Err(ConfigError::Invalid {
                key: "ODOO_NOTIFY_SECRET",
                problem: "is required with ODOO_NOTIFY_URL: the notification is signed with it"
                    .into(),
            });
        }
        if odoo_notify_secret.is_some() && odoo_notify_secret == rpc_token_keys.hs256_secret {
            return Err(ConfigError::Invalid {
                key: "ODOO_NOTIFY_SECRET",
                problem: "must differ from RPC_JWT_SECRET: one key per purpose".into(),
            });
        }
        Ok(Settings {
            database_url: layers
                .get("DATABASE_URL")
                .unwrap_or_else(default_database_url),
            listen_addr: layers
                .get("LISTEN_ADDR")
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            tls: layers.tls()?,
            outbound_ca_file: layers.get("TLS_OUTBOUND_CA_FILE").map(PathBuf::from),
            regnakes: RegnakesSettings::load(layers, page_size)?,
            rpc_token_keys,
            odoo_notify_secret,
            sync_schedule,
            sync_full_schedule,
            sync_lookback,
            failure_threshold,
            unchanged_fast_path: layers.parsed("SYNC_UNCHANGED_FAST_PATH", true)?,
            professions: Professions::load(layers)?,
            slack_webhook_url: layers.secret("SLACK_WEBHOOK_URL")?,
            odoo_notify_url,
            nik_index_key: layers.key("NIK_INDEX_KEY")?,
            nik_keys: NikKeys::load(layers)?,
            lease_ttl: Duration::from_secs(layers.parsed("SYNC_LEASE_SECONDS", 30)?),
            rpc_limits: LimitSettings::load(layers)?,
            retention: match layers.parsed::<u32>("RETENTION_DAYS", 180)? {
                0 => None,
                days => Some(chrono::Duration::days(i64::from(days))),
            },
            rpc_max_token_lifetime: layers
                .duration("RPC_MAX_TOKEN_LIFETIME", DEFAULT_MAX_TOKEN_LIFETIME)?,
            instance_id: format!(
                "{}-{}",
                layers
                    .get("HOSTNAME")
                    .unwrap_or_else(|| "regnakes-sync".into()),
                uuid::Uuid::new_v4().simple()
            ),
        })
    }

    /// Trusts `TLS_OUTBOUND_CA_FILE` for outbound HTTPS (once per process; see `tls::outbound`).
    pub fn trust_outbound_cas(&self) -> Result<(), ConfigError> {
        match &self.outbound_ca_file {
            None => Ok(()),
            Some(path) => {
                crate::tls::trust_for_outbound(path).map_err(|err| ConfigError::Invalid {
                    key: "TLS_OUTBOUND_CA_FILE",
                    problem: err.to_string(),
                })
            }
        }
    }

    /// The NIK keys, which anything that stores workers needs: `serve` and `sync` refuse to start
    /// without them (the demo and the tests make their own).
    pub fn nik_secrets(&self) -> Result<(Secret, NikKeys), ConfigError> {
        let missing = |key: &'static str| ConfigError::Invalid {
            key,
            problem: "is required: NIKs are stored encrypted and matched through a keyed index \
                      (set it, its _FILE, or Vault; `regnakes-sync demo` makes its own)"
                .into(),
        };
        let index = self
            .nik_index_key
            .clone()
            .ok_or_else(|| missing("NIK_INDEX_KEY"))?;
        let keys = self
            .nik_keys
            .clone()
            .ok_or_else(|| missing("NIK_ENCRYPTION_KEY"))?;
        Ok((index, keys))
    }

    /// Reads RegNakes credentials from Vault KV v2 when `VAULT_ADDR`, `VAULT_TOKEN` and
    /// `VAULT_SECRET_PATH` (`mount/path`) are set: `GET {addr}/v1/{mount}/data/{path}`, values at
    /// `data.data.client_id` / `data.data.client_secret`.
    pub async fn resolve_vault(&mut self, layers: &Layers) -> Result<(), ConfigError> {
        // Vault is the first outbound call: the extra CAs must be trusted before it.
        self.trust_outbound_cas()?;
        let (Some(addr), Some(token), Some(path)) = (
            layers.get("VAULT_ADDR"),
            layers.secret("VAULT_TOKEN")?,
            layers.get("VAULT_SECRET_PATH"),
        ) else {
            return Ok(());
        };
        let (mount, rest) = path.split_once('/').ok_or_else(|| {
            ConfigError::Vault(format!("VAULT_SECRET_PATH {path:?} is not mount/path"))
        })?;
        let url = format!("{}/v1/{mount}/data/{rest}", addr.trim_end_matches('/'));
        let client = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(crate::tls::outbound_config()))
            .timeout(Duration::from_secs(10))
            .finish();
        let mut response = client
            .get(&url)
            .insert_header(("X-Vault-Token", token.expose()))
            .send()
            .await
            .map_err(|e| ConfigError::Vault(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(ConfigError::Vault(format!(
                "{url}: HTTP {}",
                response.status()
            )));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| ConfigError::Vault(format!("{url}: {e}")))?;
        let data = &body["data"]["data"];
        if let Some(id) = data["client_id"].as_str() {
            self.regnakes.client_id = id.to_string();
        }
        // The NIK keys may live there too (`nik_encryption_key`, `nik_index_key`).
        if let Some(spec) = data["nik_encryption_key"].as_str() {
            let current = NikKey::parse(spec).map_err(|problem| ConfigError::Invalid {
                key: "NIK_ENCRYPTION_KEY",
                problem: format!("from Vault: {problem}"),
            })?;
            let previous = self.nik_keys.take().map(|k| k.previous).unwrap_or_default();
            self.nik_keys = Some(NikKeys { current, previous });
        }
        if let Some(index) = data["nik_index_key"].as_str() {
            self.nik_index_key = Some(Secret::new(index).strong("NIK_INDEX_KEY")?);
        }
        match data["client_secret"].as_str() {
            Some(secret) => self.regnakes.client_secret = Secret::new(secret),
            None => {
                return Err(ConfigError::Vault(format!(
                    "{url}: no data.data.client_secret"
                )))
            }
        }
        Ok(())
    }
}

/// The keys RPC tokens are verified with. Odoo signs with Ed25519 and the server holds only the public
/// key (`RPC_JWT_PUBLIC_KEY`: a PEM `PUBLIC KEY`, or the raw 32 bytes in base64); HS256 with the shared
/// `RPC_JWT_SECRET` is still accepted while it is set. At least one is required.
#[derive(Debug, Clone)]
pub struct TokenKeys {
    pub ed25519_public: Option<[u8; 32]>,
    pub hs256_secret: Option<Secret>,
}

impl TokenKeys {
    fn load(layers: &Layers) -> Result<TokenKeys, ConfigError> {
        let ed25519_public = layers
            .secret("RPC_JWT_PUBLIC_KEY")?
            .map(|key| {
                parse_ed25519_public_key(key.expose()).map_err(|problem| ConfigError::Invalid {
                    key: "RPC_JWT_PUBLIC_KEY",
                    problem,
                })
            })
            .transpose()?;
        let hs256_secret = layers.key("RPC_JWT_SECRET")?;
        if ed25519_public.is_none() && hs256_secret.is_none() {
            return Err(ConfigError::Invalid {
                key: "RPC_JWT_PUBLIC_KEY",
                problem:
                    "is required (or RPC_JWT_SECRET): Odoo signs its RPC tokens with the matching \
                          private key"
                        .into(),
            });
        }
        Ok(TokenKeys {
            ed25519_public,
            hs256_secret,
        })
    }
}

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410); the 32 key bytes follow it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An Ed25519 public key as a PEM `PUBLIC KEY` (what `openssl pkey -pubout` and Odoo's Settings show), or
/// its 32 bytes in base64 / base64url (a JWK's `x`).
pub fn parse_ed25519_public_key(text: &str) -> Result<[u8; 32], String> {
    use base64::Engine;
    let text = text.trim();
    let body: String = if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        text.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect()
    } else {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    };
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(&body).ok())
        .ok_or("must be a PEM public key (-----BEGIN PUBLIC KEY-----) or base64")?;
    let raw = match bytes.len() {
        32 => bytes.as_slice(),
        44 if bytes.starts_with(&ED25519_SPKI_PREFIX) => &bytes[12..],
        _ => return Err("is not an Ed25519 public key (32 bytes, or its PEM)".into()),
    };
    raw.try_into()
        .map_err(|_| "is not an Ed25519 public key".to_string())
}

/// RPC abuse budgets (`rpc::limits`): calls per second and burst, per caller and per failing address.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub calls_per_second: u32,
    pub calls_burst: u32,
    pub auth_failures_per_second: u32,
    pub auth_failures_burst: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys long enough to be accepted (`MIN_KEY_BYTES`).
    const JWT: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";
    const INDEX: &str = "index-key-index-key-index-key-index";

    #[test]
    fn defaults_and_overrides() {
        let layers = Layers::from_pairs(&[("RPC_JWT_SECRET", JWT)]);
        let s = Settings::load(&layers).unwrap();
        assert_eq!(s.listen_addr, "127.0.0.1:8080");
        assert_eq!(s.regnakes.page_size, 1000);
        assert_eq!(s.regnakes.retry_base_delay, Duration::from_millis(1000));
        assert_eq!(s.sync_schedule.as_deref(), Some(DEFAULT_SCHEDULE));
        assert_eq!(s.sync_full_schedule.as_deref(), Some(DEFAULT_FULL_SCHEDULE));
        assert_eq!(s.sync_lookback, Duration::from_secs(600));
        assert_eq!(s.failure_threshold, 0.20);
        assert!(s.database_url.starts_with("sqlite://"));
        assert!(!format!("{s:?}").contains("s3cret"), "secrets never print");
        assert!(s.rpc_token_keys.ed25519_public.is_none());

        let off = Settings::load(&Layers::from_pairs(&[
            ("RPC_JWT_SECRET", JWT),
            ("SYNC_SCHEDULE", "off"),
        ]));
        assert_eq!(off.unwrap().sync_schedule, None);
    }

    #[test]
    fn nothing_stores_workers_without_the_nik_keys() {
        let without = Settings::load(&Layers::from_pairs(&[("RPC_JWT_SECRET", JWT)])).unwrap();
        let err = without.nik_secrets().unwrap_err().to_string();
        assert!(err.contains("NIK_INDEX_KEY"), "{err}");
        let only_index = Settings::load(&Layers::from_pairs(&[
            ("RPC_JWT_SECRET", JWT),
            ("NIK_INDEX_KEY", INDEX),
        ]))
        .unwrap();
        let err = only_index.nik_secrets().unwrap_err().to_string();
        assert!(err.contains("NIK_ENCRYPTION_KEY"), "{err}");
        let key = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let both = Settings::load(&Layers::from_pairs(&[
            ("RPC_JWT_SECRET", JWT),
            ("NIK_INDEX_KEY", INDEX),
            ("NIK_ENCRYPTION_KEY", key),
            (
                "NIK_ENCRYPTION_PREVIOUS_KEYS",
                "k0:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            ),
        ]))
        .unwrap();
        let (_, keys) = both.nik_secrets().unwrap();
        assert_eq!((keys.current.id.as_str(), keys.previous.len()), ("k1", 1));
        assert!(
            !format!("{both:?}").contains("AAECAwQF"),
            "keys never print"
        );
        for bad in [
            "k1",
            "k1:short",
            ":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "k 1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ] {
            let err = Settings::load(&Layers::from_pairs(&[
                ("RPC_JWT_SECRET", JWT),
                ("NIK_ENCRYPTION_KEY", bad),
            ]))
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("NIK_ENCRYPTION_KEY") && !err.contains("AAECAwQF"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn lookbacks_read_as_people_write_them() {
        let cases = [
            ("0", 0),
            ("600", 600),
            ("90s", 90),
            ("10m", 600),
            ("10 min", 600),
            ("2h", 7200),
            ("1d", 86_400),
        ];
        for (raw, seconds) in cases {
            assert_eq!(
                parse_duration(raw),
                Ok(Duration::from_secs(seconds)),
                "{raw}"
            );
        }
        let off = Settings::load(&Layers::from_pairs(&[
            ("RPC_JWT_SECRET", JWT),
            ("SYNC_FULL_SCHEDULE", "OFF"),
            ("SYNC_LOOKBACK", "0"),
        ]))
        .unwrap();
        assert_eq!(off.sync_full_schedule, None);
        assert_eq!(off.sync_lookback, Duration::ZERO);
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let cases = [
            ("REGNAKES_PAGE_SIZE", "5000"),
            ("REGNAKES_PAGE_SIZE", "many"),
            ("SYNC_FAILURE_THRESHOLD", "1.5"),
            ("SYNC_SCHEDULE", "every day"),
            ("SYNC_FULL_SCHEDULE", "weekly"),
            ("SYNC_LOOKBACK", "ten minutes"),
            ("SYNC_LOOKBACK", "10w"),
        ];
        for (key, value) in cases {
            let err = Settings::load(&Layers::from_pairs(&[
                ("RPC_JWT_SECRET", JWT),
                (key, value),
            ]))
            .unwrap_err()
            .to_string();
            assert!(err.contains(key), "{key}={value}: {err}");
        }
        let err = Settings::load(&Layers::from_pairs(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("RPC_JWT_SECRET"), "{err}");
    }

    #[test]
    fn tls_files_come_as_a_certificate_and_its_key_or_not_at_all() {
        let (cert, key, ca) = (
            ("TLS_CERT_FILE", "/run/secrets/server.crt"),
            ("TLS_KEY_FILE", "/run/secrets/server.key"),
            ("TLS_CLIENT_CA_FILE", "/run/secrets/odoo-ca.crt"),
        );
        // (settings, the setting an error names, or `None` when they are accepted)
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: [Case; 6] = [
            (&[], None),
            (&[cert, key], None),
            (&[cert, key, ca], None),
            (&[cert], Some("TLS_KEY_FILE")),
            (&[key], Some("TLS_CERT_FILE")),
            (&[ca], Some("TLS_CLIENT_CA_FILE")),
        ];
        for (pairs, named) in cases {
            let mut all = vec![("RPC_JWT_SECRET", JWT)];
            all.extend_from_slice(pairs);
            match (Settings::load(&Layers::from_pairs(&all)), named) {
                (Ok(settings), None) => {
                    assert_eq!(settings.tls.is_some(), !pairs.is_empty(), "{pairs:?}");
                    let client_ca = settings.tls.and_then(|t| t.client_ca);
                    assert_eq!(client_ca.is_some(), pairs.contains(&ca), "{pairs:?}");
                }
                (Err(err), Some(key)) => assert!(err.to_string().contains(key), "{err}"),
                (result, _) => panic!("{pairs:?}: {:?}", result.map(|s| s.tls)),
            }
        }
    }

    #[test]
    fn every_key_is_long_enough_or_the_start_names_it() {
        let short = "x".repeat(MIN_KEY_BYTES - 1);
        let long = "y".repeat(MIN_KEY_BYTES);
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: [Case; 8] = [
            (&[("RPC_JWT_SECRET", &short)], Some("RPC_JWT_SECRET")),
            (
                &[("RPC_JWT_SECRET", JWT), ("NIK_INDEX_KEY", &short)],
                Some("NIK_INDEX_KEY"),
            ),
            (
                &[("RPC_JWT_SECRET", JWT), ("ODOO_NOTIFY_SECRET", &short)],
                Some("ODOO_NOTIFY_SECRET"),
            ),
            (
                &[
                    ("RPC_JWT_SECRET", JWT),
                    ("ODOO_NOTIFY_URL", "http://odoo/n"),
                ],
                Some("ODOO_NOTIFY_SECRET"),
            ),
            (
                &[("RPC_JWT_SECRET", JWT), ("ODOO_NOTIFY_SECRET", JWT)],
                Some("must differ"),
            ),
            (
                &[("RPC_JWT_PUBLIC_KEY", "not a key")],
                Some("RPC_JWT_PUBLIC_KEY"),
            ),
            (&[], Some("RPC_JWT_PUBLIC_KEY")),
            (
                &[
                    ("RPC_JWT_SECRET", JWT),
                    ("ODOO_NOTIFY_URL", "http://odoo/n"),
                    ("ODOO_NOTIFY_SECRET", &long),
                ],
                None,
            ),
        ];
        for (pairs, expected) in cases {
            let got = Settings::load(&Layers::from_pairs(pairs));
            match expected {
                None => assert!(got.is_ok(), "{pairs:?}: {:?}", got.err()),
                Some(key) => {
                    let err = got.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(err.contains(key), "{pairs:?}: {err}");
                    assert!(!err.contains(&short), "the key itself never prints");
                }
            }
        }
    }

    #[test]
    fn an_ed25519_public_key_reads_as_pem_or_base64() {
        let raw = [7u8; 32];
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&raw);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        assert_eq!(parse_ed25519_public_key(&pem), Ok(raw));
        let bare = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(parse_ed25519_public_key(&bare), Ok(raw));
        assert!(parse_ed25519_public_key("AAAA").is_err());
        let settings =
            Settings::load(&Layers::from_pairs(&[("RPC_JWT_PUBLIC_KEY", &pem)])).unwrap();
        assert_eq!(settings.rpc_token_keys.ed25519_public, Some(raw));
        assert!(settings.rpc_token_keys.hs256_secret.is_none());
    }
}
