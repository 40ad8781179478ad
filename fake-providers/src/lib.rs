//! Fake market-data providers for tests and benchmarks: a real HTTP/1.1 server on
//! 127.0.0.1 ([`server`]) and handlers answering as FMP ([`fmp`]) and Polygon ([`polygon`])
//! document, from recorded answers in `fake-providers/fixtures`. Dev-only: no crate
//! ships it.

pub mod faults;
pub mod fmp;
pub mod polygon;
pub mod server;

pub use faults::Fault;
pub use server::{Reply, Seen, TestServer};

/// A recorded provider answer from `fake-providers/fixtures`.
///
/// # Panics
/// When the fixture cannot be read (a test setup error).
#[must_use]
pub fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
