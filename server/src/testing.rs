//! Fresh databases for tests: the server's own unit tests that need a real database and the end-to-end
//! suite use the same one (a SQLite file, or a new PostgreSQL database on `TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432`).

use sea_orm::{ConnectionTrait, Database};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_base() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh, empty database URL for `backend`.
pub async fn fresh_database(backend: Backend) -> String {
    // TLS to a database that offers it needs the process's crypto provider (the binary installs it).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let name = format!("rs_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("regnakes-sync-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{name}.db")).display()
            )
        }
        Backend::Postgres => {
            let admin = Database::connect(format!("{}/postgres", postgres_base()))
                .await
                .expect("PostgreSQL reachable at TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432)");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            format!("{}/{name}", postgres_base())
        }
    }
}
