//! RPC authentication (CONTRACT §3): `Authorization: Bearer <JWT>`, HS256 with `RPC_JWT_SECRET`; `aud` =
//! `sdmk-regnakes` (a string, or an array holding it), `exp` and `sub` required (`sub` = the Odoo user's
//! login, 1-128 printable characters, recorded on audited actions), `nbf` honoured, a lifetime of at most
//! `RPC_MAX_TOKEN_LIFETIME`; the caller's role comes from `roles`: `regnakes.admin` acts, everyone else
//! only reads. Each refusal names the claim at fault.

use crate::config::Secret;
use actix_web::http::header::HeaderValue;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const AUDIENCE: &str = "sdmk-regnakes";

/// The role names of the `roles` claim, as Odoo mints them.
pub const ROLE_ADMIN: &str = "regnakes.admin";
pub const ROLE_VIEWER: &str = "regnakes.viewer";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// A string or an array (checked by the validation, not read here).
    pub aud: serde_json::Value,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default)]
    pub sub: Option<String>,
    /// Unknown role names are ignored; no `roles` at all means viewer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// What a caller may do. Ordered: a higher role may do everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The reading methods only (`sync.status`, `batch.*`, `worker.search`).
    Viewer,
    /// Everything, including starting and cancelling syncs and enabling the integration.
    Admin,
}

impl Role {
    pub fn from_claim(roles: &[String]) -> Role {
        if roles.iter().any(|r| r == ROLE_ADMIN) {
            Role::Admin
        } else {
            Role::Viewer
        }
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    /// The Odoo login (`sub`).
    pub login: String,
    pub role: Role,
}

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    max_lifetime: u64,
}

/// The longest `sub` accepted, in characters.
const MAX_SUB_CHARS: usize = 128;

impl JwtVerifier {
    pub fn new(secret: &Secret, max_lifetime: std::time::Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        JwtVerifier {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            max_lifetime: max_lifetime.as_secs(),
        }
    }

    pub fn verify(&self, header: Option<&HeaderValue>) -> Result<Caller, String> {
        let value = header
            .ok_or("missing Authorization header (expected: Bearer <JWT>)")?
            .to_str()
            .map_err(|_| "Authorization header is not text")?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or("Authorization must use the Bearer scheme")?;
        let claims = decode::<Claims>(token.trim(), &self.key, &self.validation)
            .map_err(|e| format!("invalid token: {}", describe(&e)))?
            .claims;
        let login = claims.sub.unwrap_or_default();
        if login.is_empty()
            || login.chars().count() > MAX_SUB_CHARS
            || login.chars().any(char::is_control)
        {
            return Err(format!(
                "invalid token: `sub` must be the Odoo login, 1-{MAX_SUB_CHARS} printable characters"
            ));
        }
        let issued = claims
            .iat
            .unwrap_or_else(|| chrono::Utc::now().timestamp().max(0) as u64);
        if claims.exp.saturating_sub(issued) > self.max_lifetime {
            return Err(format!(
                "invalid token: `exp` is more than {} s after `iat` (RPC_MAX_TOKEN_LIFETIME)",
                self.max_lifetime
            ));
        }
        Ok(Caller {
            login,
            role: Role::from_claim(&claims.roles),
        })
    }
}

fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::ExpiredSignature => "`exp`: the token has expired".into(),
        K::ImmatureSignature => "`nbf`: the token is not valid yet".into(),
        K::InvalidAudience => format!("`aud` must be {AUDIENCE:?}"),
        K::InvalidSignature => "bad signature".into(),
        K::MissingRequiredClaim(claim) => format!("`{claim}` is missing"),
        K::InvalidAlgorithm => "algorithm must be HS256".into(),
        _ => "malformed".into(),
    }
}

/// Signs arbitrary claims with HS256 (for operators' scripts and tests that need unusual tokens).
pub fn sign_claims(claims: &serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of JSON claims cannot fail")
}

/// Issues a token with the given role (the demo prints an admin one; tests and operators' scripts use it).
pub fn issue_token(secret: &Secret, sub: &str, role: Role, valid_for_secs: u64) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    let exp = now + valid_for_secs;
    let roles = match role {
        Role::Admin => vec![ROLE_ADMIN.to_string()],
        Role::Viewer => vec![ROLE_VIEWER.to_string()],
    };
    let claims = Claims {
        aud: AUDIENCE.into(),
        exp,
        iat: Some(now),
        sub: Some(sub.into()),
        roles,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
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
        ];
        for (claim, expected) in cases {
            let claim: Vec<String> = claim.iter().map(|r| r.to_string()).collect();
            assert_eq!(Role::from_claim(&claim), *expected, "{claim:?}");
        }
    }

    #[test]
    fn an_issued_token_carries_its_role() {
        let secret = Secret::new("s");
        let verifier = JwtVerifier::new(&secret, std::time::Duration::from_secs(3600));
        for role in [Role::Viewer, Role::Admin] {
            let token = issue_token(&secret, "siti", role, 60);
            let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
            let caller = verifier.verify(Some(&header)).unwrap();
            assert_eq!((caller.login.as_str(), caller.role), ("siti", role));
        }
    }
}
