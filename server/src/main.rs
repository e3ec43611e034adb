use clap::Parser;
use regnakes_sync::cli::{self, Cli};

fn main() {
    // One rustls crypto provider for the whole process (awc's rustls features choose none).
    let _ = rustls::crypto::ring::default_provider().install_default();
    regnakes_sync::telemetry::init("info,sqlx=warn,sea_orm=warn,actix_server=warn");
    let cli = Cli::parse();
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
    std::process::exit(code);
}
