use clap::Parser;
use regnakes_sync::cli::{self, Cli};

/// jemalloc, not glibc's malloc: the per-record path makes and frees many small strings on one thread
/// and hands pages to another, which glibc served with a fifth of the server's CPU in `malloc`/`free`
/// and in consolidating its free lists (issue 22: a 200 000-record full sync took 3.5 CPU-seconds with
/// glibc, 2.2-2.4 with jemalloc). `MALLOC_CONF` keeps peak RSS where glibc had it (54-59 MB against
/// 56-62): two arenas (the work is on two threads at a time), unused pages returned after a second.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from this symbol at start (the crate's build prefixes its names with
/// `_rjem_`); `_RJEM_MALLOC_CONF` in the environment still overrides them.
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &u8 = &b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0"[0];

fn main() {
    // One rustls crypto provider for the whole process (awc's rustls features choose none).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let telemetry =
        match regnakes_sync::telemetry::init("info,sqlx=warn,sea_orm=warn,actix_server=warn") {
            Ok(telemetry) => telemetry,
            Err(err) => {
                eprintln!("error: {err:#}");
                std::process::exit(2);
            }
        };
    let code = actix_web::rt::System::new().block_on(async move {
        match cli::run(cli).await {
            Ok(code) => code,
            Err(err) => {
                tracing::error!(error = ?err, "regnakes-sync stopped with an error");
                eprintln!("error: {err:#}");
                1
            }
        }
    });
    telemetry.shutdown();
    std::process::exit(code);
}
