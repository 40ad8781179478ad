//! weston-loader: the nightly job that fills pg_weston, and its migrations and status report.

pub mod calendar;
pub mod cli;
pub mod error;
pub mod ingest;
pub mod migrate;
pub mod providers;
pub mod run;
pub mod status;

pub use error::LoaderError;
