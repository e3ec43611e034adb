//! Rejection reason codes (CONTRACT §2): defined once, used by the code, the RPC, metrics and docs.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    InvalidFormat,
    MissingField,
    InvalidNik,
    InvalidStr,
    StrInactive,
    StrExpired,
    MaskedValue,
    InvalidBirthDate,
    UnknownProfession,
    IdentityConflict,
    DuplicateStr,
}

impl RejectReason {
    pub const ALL: [RejectReason; 11] = [
        Self::InvalidFormat,
        Self::MissingField,
        Self::InvalidNik,
        Self::InvalidStr,
        Self::StrInactive,
        Self::StrExpired,
        Self::MaskedValue,
        Self::InvalidBirthDate,
        Self::UnknownProfession,
        Self::IdentityConflict,
        Self::DuplicateStr,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidFormat => "invalid_format",
            Self::MissingField => "missing_field",
            Self::InvalidNik => "invalid_nik",
            Self::InvalidStr => "invalid_str",
            Self::StrInactive => "str_inactive",
            Self::StrExpired => "str_expired",
            Self::MaskedValue => "masked_value",
            Self::InvalidBirthDate => "invalid_birth_date",
            Self::UnknownProfession => "unknown_profession",
            Self::IdentityConflict => "identity_conflict",
            Self::DuplicateStr => "duplicate_str",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
