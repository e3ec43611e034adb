use clap::Parser;
use regnakes_sync::cli::{self, Cli};

// jemalloc with the server's options (`allocator`).
regnakes_sync::server_allocator!();

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
