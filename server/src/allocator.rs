//! The server's allocator, for every binary that runs the server's code: the server, and the bench's
//! in-process `--cpu` measure (which would otherwise measure glibc's malloc, not the server's).
//!
//! jemalloc, not glibc's malloc: the per-record path makes and frees many small strings on one thread
//! and hands pages to another, which glibc served with a fifth of the server's CPU in `malloc`/`free`
//! and in consolidating its free lists (issue 22: a 200 000-record full sync took 3.5 CPU-seconds with
//! glibc, 2.2-2.4 with jemalloc). The options keep peak RSS where glibc had it (54-59 MB against
//! 56-62): two arenas (the work is on two threads at a time), unused pages returned after a second.

#[cfg(not(target_env = "msvc"))]
pub use tikv_jemallocator::Jemalloc;

/// Declares the server's allocator and its options in a binary crate (`main.rs`). jemalloc reads its
/// options from the `_rjem_malloc_conf` symbol at start (the crate's build prefixes its names with
/// `_rjem_`); `_RJEM_MALLOC_CONF` in the environment still overrides them.
#[macro_export]
macro_rules! server_allocator {
    () => {
        #[cfg(not(target_env = "msvc"))]
        #[global_allocator]
        static GLOBAL: $crate::allocator::Jemalloc = $crate::allocator::Jemalloc;

        #[cfg(not(target_env = "msvc"))]
        #[export_name = "_rjem_malloc_conf"]
        pub static MALLOC_CONF: &u8 = &b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0"[0];
    };
}
