//! Review cases and decisions (CONTRACT §3, `review.*`).

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    Open,
    Resolved,
}

impl CaseStatus {
    pub fn code(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Resolved => "resolved",
        }
    }

    pub fn parse(code: &str) -> Option<CaseStatus> {
        [CaseStatus::Open, CaseStatus::Resolved]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// What a person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The stored holder of the STR takes the registry's record, identity included.
    AcceptRegistry,
    /// Nothing changes; the same content never opens a case again.
    KeepSdmk,
}

impl Decision {
    pub fn code(self) -> &'static str {
        match self {
            Decision::AcceptRegistry => "accept_registry",
            Decision::KeepSdmk => "keep_sdmk",
        }
    }

    pub fn parse(code: &str) -> Option<Decision> {
        [Decision::AcceptRegistry, Decision::KeepSdmk]
            .into_iter()
            .find(|d| d.code() == code)
    }
}

/// The longest note a decision keeps.
pub const NOTE_MAX_CHARS: usize = 500;
