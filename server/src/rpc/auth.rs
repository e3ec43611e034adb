//! RPC authentication: `Authorization: Bearer <JWT>`, HS256 with `RPC_JWT_SECRET`, `aud` = `sdmk-regnakes`
//! and `exp` required, `sub` = the Odoo user's login (recorded on audited actions), and the caller's role
//! from the `roles` claim (CONTRACT §3): `regnakes.admin` acts, everyone else only reads.

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
    pub aud: String,
    pub exp: u64,
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
    /// The Odoo login, or `unknown` when the token names none.
    pub login: String,
    pub role: Role,
}

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.leeway = 5;
        JwtVerifier {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
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
        let data = decode::<Claims>(token.trim(), &self.key, &self.validation)
            .map_err(|e| format!("invalid token: {}", describe(&e)))?;
        Ok(Caller {
            login: data.claims.sub.unwrap_or_else(|| "unknown".into()),
            role: Role::from_claim(&data.claims.roles),
        })
    }
}

fn describe(err: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::ExpiredSignature => "expired",
        K::InvalidAudience => "wrong audience",
        K::InvalidSignature => "bad signature",
        K::MissingRequiredClaim(_) => "a required claim (exp, aud) is missing",
        K::InvalidAlgorithm => "algorithm must be HS256",
        _ => "malformed",
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
    let exp = chrono::Utc::now().timestamp() as u64 + valid_for_secs;
    let roles = match role {
        Role::Admin => vec![ROLE_ADMIN.to_string()],
        Role::Viewer => vec![ROLE_VIEWER.to_string()],
    };
    let claims = Claims {
        aud: AUDIENCE.into(),
        exp,
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
        let verifier = JwtVerifier::new(&secret);
        for role in [Role::Viewer, Role::Admin] {
            let token = issue_token(&secret, "siti", role, 60);
            let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
            let caller = verifier.verify(Some(&header)).unwrap();
            assert_eq!((caller.login.as_str(), caller.role), ("siti", role));
        }
    }
}
