//! The health-worker domain: values that cannot exist in an invalid state past the edge
//! ("parse, don't validate"). Nothing here does I/O or knows about the wire or the database.

pub mod batch;
pub mod content_json;
pub mod health_worker;
pub mod name;
pub mod nik;
pub mod profession;
pub mod reason;
pub mod review;
pub mod sanitize;
pub mod str_number;
pub mod time;
pub mod worker_fields;

pub use health_worker::{HealthWorker, Sex, StrCertificate, StrStatus};
pub use name::{PersonName, PlaceName};
pub use nik::Nik;
pub use profession::{Profession, ProfessionCatalogue, ProfessionCode, UnknownProfession};
pub use reason::RejectReason;
pub use str_number::StrNumber;
