use clap::Parser;
use regnakes_sync::cli::{self, Cli};

/// Keeps glibc from raising its mmap threshold as a run goes on. By default every freed mmapped block
/// (a page's body, its bound arrays: hundreds of KB) raises the threshold, so later blocks of that size
/// come from the heap arenas, which keep them: peak RSS crept from 58-61 MB at 100 k records to
/// 63-68 MB at 1 M and 70 MB at 2.2 M. With the default threshold fixed (128 KiB) it is 58-59 MB at
/// both 100 k and 1 M (measured with `MALLOC_MMAP_THRESHOLD_=131072`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_out_of_the_heap() {
    use std::ffi::c_int;
    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    const M_MMAP_THRESHOLD: c_int = -3;
    // SAFETY: mallopt only sets an allocator parameter, to a documented value; no other thread exists
    // yet.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_blocks_out_of_the_heap() {}

fn main() {
    keep_large_blocks_out_of_the_heap();
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
