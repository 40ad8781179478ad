//! weston-loader: the nightly job that fills pg_weston, and its migrations and status report.

pub mod audit;
pub mod calendar;
pub mod cli;
pub mod database;
pub mod error;
pub mod findings;
pub mod gather;
pub mod home;
pub mod identity;
pub mod job;
pub mod migrate;
pub mod model;
pub mod numeric;
pub mod pgtools;
pub mod plan;
pub mod provenance;
pub mod providers;
pub mod provides;
pub mod quality;
pub mod recheck;
pub mod reconcile;
pub mod run;
pub mod scratch;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod validate;
pub mod verify;
pub mod writable;

pub use error::LoaderError;

/// FNV-1a: the same on every machine and in every run (std's hasher is seeded per
/// process), for choices that must not move: the mock's prices, a symbol's refresh night.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
