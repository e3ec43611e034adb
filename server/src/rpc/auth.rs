//! RPC authentication (CONTRACT §3): `Authorization: Bearer <JWT>`, signed by Odoo with EdDSA (Ed25519;
//! the server holds only `RPC_JWT_PUBLIC_KEY`) or HS256 with `RPC_JWT_SECRET`, whichever are configured;
//! `aud` = `sdmk-regnakes` (a string, or an array holding it), `exp` and `sub` required (`sub` = the Odoo
//! user's login, 1-128 printable characters, recorded on audited actions), `nbf` honoured, an `iat` in the
//! future refused, a lifetime of at most `RPC_MAX_TOKEN_LIFETIME`; the caller's role comes from `roles`.
//! The library checks the signature only; every claim is checked here, so each refusal names its claim.

use crate::config::{Secret, TokenKeys};
use actix_web::http::header::HeaderValue;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};

pub const AUDIENCE: &str = "sdmk-regnakes";

/// The role names of the `roles` claim, as Odoo mints them.
pub const ROLE_ADMIN: &str = "regnakes.admin";
pub const ROLE_VIEWER: &str = "regnakes.viewer";
pub const ROLE_VERIFIER: &str = "regnakes.verifier";

/// What a caller may do. Ordered: a higher role may do everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The reading methods only (`sync.status`, `batch.*`, `review.list`/`get`, `worker.search`).
    Viewer,
    /// The Verifikator: reads, and decides review cases (`review.decide`).
    Verifier,
    /// Everything, including starting and cancelling syncs and enabling the integration.
    Admin,
}

impl Role {
    pub fn from_claim(roles: &[String]) -> Role {
        if roles.iter().any(|r| r == ROLE_ADMIN) {
            Role::Admin
        } else if roles.iter().any(|r| r == ROLE_VERIFIER) {
            Role::Verifier
        } else {
            Role::Viewer
        }
    }

    fn claim(self) -> &'static str {
        match self {
            Role::Admin => ROLE_ADMIN,
            Role::Verifier => ROLE_VERIFIER,
            Role::Viewer => ROLE_VIEWER,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    /// The Odoo login (`sub`).
    pub login: String,
    pub role: Role,
}

/// The longest `sub` accepted, in characters.
const MAX_SUB_CHARS: usize = 128;
/// Clock skew tolerated between Odoo and the server, in seconds.
const LEEWAY: i64 = 5;

pub struct JwtVerifier {
    /// One (key, validation) per configured algorithm: EdDSA, HS256.
    keys: Vec<(Algorithm, DecodingKey, Validation)>,
    max_lifetime: i64,
}

/// The signature alone: claims are checked by `check_claims`, which names each one.
fn signature_only(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_required_spec_claims::<&str>(&[]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation
}

impl JwtVerifier {
    pub fn new(keys: &TokenKeys, max_lifetime: std::time::Duration) -> Self {
        let mut verifier = JwtVerifier {
            keys: Vec::new(),
            max_lifetime: i64::try_from(max_lifetime.as_secs()).unwrap_or(i64::MAX),
        };
        if let Some(public) = &keys.ed25519_public {
            let key = DecodingKey::from_ed_der(public);
            verifier
                .keys
                .push((Algorithm::EdDSA, key, signature_only(Algorithm::EdDSA)));
        }
        if let Some(secret) = &keys.hs256_secret {
            let key = DecodingKey::from_secret(secret.expose().as_bytes());
            verifier
                .keys
                .push((Algorithm::HS256, key, signature_only(Algorithm::HS256)));
        }
        verifier
    }

    pub fn verify(&self, header: Option<&HeaderValue>) -> Result<Caller, String> {
        let value = header
            .ok_or("missing Authorization header (expected: Bearer <JWT>)")?
            .to_str()
            .map_err(|_| "Authorization header is not text")?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or("Authorization must use the Bearer scheme")?
            .trim();
        let algorithm = jsonwebtoken::decode_header(token)
            .map_err(|_| "invalid token: malformed (expected header.payload.signature)")?
            .alg;
        let Some((_, key, validation)) = self.keys.iter().find(|(a, _, _)| *a == algorithm) else {
            let accepted: Vec<String> =
                self.keys.iter().map(|(a, _, _)| format!("{a:?}")).collect();
            return Err(format!(
                "invalid token: `alg` {algorithm:?} is not accepted here (accepted: {})",
                accepted.join(", ")
            ));
        };
        let claims = decode::<Map<String, Value>>(token, key, validation)
            .map_err(|e| format!("invalid token: {}", describe(&e)))?
            .claims;
        check_claims(&claims, chrono::Utc::now().timestamp(), self.max_lifetime)
            .map_err(|problem| format!("invalid token: {problem}"))
    }
}

/// A numeric date claim (seconds since 1970): `None` when absent, an error naming it when not a number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be a number (seconds since 1970)")),
    }
}

/// Every claim rule of CONTRACT §3, each refusal naming its claim.
fn check_claims(
    claims: &Map<String, Value>,
    now: i64,
    max_lifetime: i64,
) -> Result<Caller, String> {
    let exp = numeric_date(claims, "exp")?.ok_or("`exp` is missing")?;
    if exp <= now - LEEWAY {
        return Err("`exp`: the token has expired".into());
    }
    let audience_ok = match claims.get("aud").ok_or("`aud` is missing")? {
        Value::String(aud) => aud == AUDIENCE,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    if !audience_ok {
        return Err(format!("`aud` must be {AUDIENCE:?} (or a list holding it)"));
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err("`nbf`: the token is not valid yet".into());
    }
    let iat = numeric_date(claims, "iat")?;
    if iat.is_some_and(|iat| iat > now + LEEWAY) {
        return Err("`iat` is in the future".into());
    }
    if exp.saturating_sub(iat.unwrap_or(now)) > max_lifetime {
        return Err(format!(
            "`exp` is more than {max_lifetime} s after `iat` (RPC_MAX_TOKEN_LIFETIME)"
        ));
    }
    let login = match claims.get("sub") {
        None => return Err("`sub` is missing".into()),
        Some(Value::String(sub))
            if !sub.is_empty()
                && sub.chars().count() <= MAX_SUB_CHARS
                && !sub.chars().any(char::is_control) =>
        {
            sub.clone()
        }
        Some(_) => {
            return Err(format!(
                "`sub` must be the Odoo login, 1-{MAX_SUB_CHARS} printable characters"
            ))
        }
    };
    let roles: Vec<String> = match claims.get("roles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(roles)) => roles
            .iter()
            .map(|r| r.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or("`roles` must be a list of role names")?,
        Some(_) => return Err("`roles` must be a list of role names".into()),
    };
    Ok(Caller {
        login,
        role: Role::from_claim(&roles),
    })
}

fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::InvalidSignature => "bad signature".into(),
        K::InvalidAlgorithm => "`alg` does not match the key".into(),
        K::Json(_) => "malformed: the claims are not a JSON object".into(),
        K::Base64(_) | K::Utf8(_) => "malformed: not base64url JSON".into(),
        _ => "malformed".into(),
    }
}

/// How tokens are signed: Odoo's way, for the demo, operators' scripts and tests.
#[derive(Clone)]
pub enum TokenSigner {
    /// HS256 with the shared `RPC_JWT_SECRET`.
    Hs256(Secret),
    /// EdDSA with an Ed25519 private key (its 32-byte seed); the server holds the public key.
    Ed25519([u8; 32]),
}

/// The PKCS#8 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl TokenSigner {
    /// A fresh Ed25519 key pair (the demo's and the tests').
    pub fn generate_ed25519() -> TokenSigner {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        TokenSigner::Ed25519(seed)
    }

    /// The Ed25519 public key the server verifies with, base64 (`RPC_JWT_PUBLIC_KEY`).
    pub fn public_key(&self) -> Option<String> {
        use base64::Engine;
        match self {
            TokenSigner::Ed25519(seed) => {
                let public = ed25519_dalek::SigningKey::from_bytes(seed)
                    .verifying_key()
                    .to_bytes();
                Some(base64::engine::general_purpose::STANDARD.encode(public))
            }
            TokenSigner::Hs256(_) => None,
        }
    }

    /// Signs arbitrary claims (for tests and operators' scripts that need unusual tokens).
    pub fn sign(&self, claims: &Value) -> String {
        let (algorithm, key) = match self {
            TokenSigner::Hs256(secret) => (
                Algorithm::HS256,
                EncodingKey::from_secret(secret.expose().as_bytes()),
            ),
            TokenSigner::Ed25519(seed) => {
                let mut der = ED25519_PKCS8_PREFIX.to_vec();
                der.extend_from_slice(seed);
                (Algorithm::EdDSA, EncodingKey::from_ed_der(&der))
            }
        };
        encode(&Header::new(algorithm), claims, &key).expect("signing JSON claims cannot fail")
    }

    /// A token for `sub` with `role`, valid for `valid_for_secs`.
    pub fn issue(&self, sub: &str, role: Role, valid_for_secs: u64) -> String {
        let now = chrono::Utc::now().timestamp();
        self.sign(&json!({
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + i64::try_from(valid_for_secs).unwrap_or(i64::MAX / 2),
            "sub": sub,
            "roles": [role.claim()],
        }))
    }
}

/// Signs arbitrary claims with HS256 (for operators' scripts and tests that need unusual tokens).
pub fn sign_claims(claims: &Value, secret: &str) -> String {
    TokenSigner::Hs256(Secret::new(secret)).sign(claims)
}

/// Issues an HS256 token with the given role (tests and operators' scripts use it).
pub fn issue_token(secret: &Secret, sub: &str, role: Role, valid_for_secs: u64) -> String {
    TokenSigner::Hs256(secret.clone()).issue(sub, role, valid_for_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_role_is_named_explicitly() {
        let cases: &[(&[&str], Role)] = &[
            (&[], Role::Viewer),
            (&[ROLE_VIEWER], Role::Viewer),
            (&["admin", "regnakes.Admin"], Role::Viewer),
            (&[ROLE_ADMIN], Role::Admin),
            (&[ROLE_VIEWER, ROLE_ADMIN], Role::Admin),
            (&[ROLE_VERIFIER], Role::Verifier),
            (&[ROLE_VERIFIER, ROLE_ADMIN], Role::Admin),
            (&["regnakes.Verifier"], Role::Viewer),
        ];
        for (claim, expected) in cases {
            let claim: Vec<String> = claim.iter().map(|r| r.to_string()).collect();
            assert_eq!(Role::from_claim(&claim), *expected, "{claim:?}");
        }
    }

    #[test]
    fn an_issued_token_carries_its_role() {
        let ed = TokenSigner::generate_ed25519();
        let hs = TokenSigner::Hs256(Secret::new("s".repeat(32)));
        let keys = TokenKeys {
            ed25519_public: Some(
                crate::config::parse_ed25519_public_key(&ed.public_key().unwrap()).unwrap(),
            ),
            hs256_secret: Some(Secret::new("s".repeat(32))),
        };
        let verifier = JwtVerifier::new(&keys, std::time::Duration::from_secs(3600));
        for signer in [&ed, &hs] {
            for role in [Role::Viewer, Role::Admin] {
                let token = signer.issue("siti", role, 60);
                let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
                let caller = verifier.verify(Some(&header)).unwrap();
                assert_eq!((caller.login.as_str(), caller.role), ("siti", role));
            }
        }
    }

    #[test]
    fn every_claim_rule_names_its_claim() {
        let now = 1_800_000_000;
        let good = json!({"aud": AUDIENCE, "sub": "siti", "exp": now + 60, "iat": now});
        let with = |patch: Value| {
            let mut claims = good.as_object().unwrap().clone();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    claims.remove(k);
                } else {
                    claims.insert(k.clone(), v.clone());
                }
            }
            claims
        };
        let cases: &[(Value, Option<&str>)] = &[
            (json!({}), None),
            (json!({"aud": ["x", AUDIENCE]}), None),
            (json!({"roles": [ROLE_ADMIN]}), None),
            (json!({"exp": null}), Some("`exp` is missing")),
            (json!({"exp": "1900000000"}), Some("`exp` must be a number")),
            (
                json!({"exp": now - 60}),
                Some("`exp`: the token has expired"),
            ),
            (json!({"aud": null}), Some("`aud` is missing")),
            (json!({"aud": "other"}), Some("`aud` must be")),
            (json!({"aud": 7}), Some("`aud` must be")),
            (json!({"sub": null}), Some("`sub` is missing")),
            (json!({"sub": ""}), Some("`sub` must be")),
            (json!({"sub": 42}), Some("`sub` must be")),
            (json!({"sub": "a\u{0}b"}), Some("`sub` must be")),
            (json!({"nbf": now + 600}), Some("`nbf`")),
            (json!({"nbf": "soon"}), Some("`nbf` must be a number")),
            (
                json!({"iat": now + 600, "exp": now + 700}),
                Some("`iat` is in the future"),
            ),
            (json!({"iat": "x"}), Some("`iat` must be a number")),
            // A lifetime of ten years, with `iat` an hour before `exp`, is still refused.
            (
                json!({"exp": now + 315_360_000, "iat": now + 315_356_400}),
                Some("`iat` is in the future"),
            ),
            (
                json!({"exp": now + 7200, "iat": null}),
                Some("`exp` is more than 3600 s"),
            ),
            (
                json!({"roles": "regnakes.admin"}),
                Some("`roles` must be a list"),
            ),
            (json!({"roles": [1]}), Some("`roles` must be a list")),
        ];
        for (patch, expected) in cases {
            let got = check_claims(&with(patch.clone()), now, 3600);
            match expected {
                None => assert!(got.is_ok(), "{patch}: {got:?}"),
                Some(words) => {
                    let err = got.err().unwrap_or_default();
                    assert!(err.contains(words), "{patch}: {err:?} lacks {words:?}");
                }
            }
        }
    }

    #[test]
    fn a_token_of_an_algorithm_not_configured_is_refused_by_name() {
        let ed = TokenSigner::generate_ed25519();
        let keys = TokenKeys {
            ed25519_public: Some(
                crate::config::parse_ed25519_public_key(&ed.public_key().unwrap()).unwrap(),
            ),
            hs256_secret: None,
        };
        let verifier = JwtVerifier::new(&keys, std::time::Duration::from_secs(3600));
        let old = TokenSigner::Hs256(Secret::new("s".repeat(32))).issue("siti", Role::Admin, 60);
        let header = HeaderValue::from_str(&format!("Bearer {old}")).unwrap();
        let err = verifier.verify(Some(&header)).unwrap_err();
        assert!(err.contains("`alg` HS256 is not accepted"), "{err}");
        let other = TokenSigner::generate_ed25519().issue("siti", Role::Admin, 60);
        let header = HeaderValue::from_str(&format!("Bearer {other}")).unwrap();
        assert!(verifier
            .verify(Some(&header))
            .unwrap_err()
            .contains("bad signature"));
    }
}
