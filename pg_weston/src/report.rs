//! Errors as the caller sees them: a message naming what went wrong, with a SQLSTATE, and
//! never a Rust panic (whose text and backtrace pgrx would show in the error's DETAIL).

use std::fmt::Display;
use std::panic::AssertUnwindSafe;

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use pgrx::{ereport, error};

/// An argument the caller got wrong (SQLSTATE 22023, invalid_parameter_value).
pub(crate) fn invalid_argument(message: String) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message
    );
}

/// A required argument's value; a NULL is refused naming `argument` (SQLSTATE 22023).
pub(crate) fn required<T>(argument: &str, value: Option<T>) -> T {
    weston_core::args::required(argument, value).unwrap_or_else(|e| invalid_argument(e.0))
}

/// `value`, or an error naming `what` could not be had, in place of `expect`.
pub(crate) trait OrReport<T> {
    fn or_report(self, what: &str) -> T;
}

impl<T, E: Display> OrReport<T> for Result<T, E> {
    fn or_report(self, what: &str) -> T {
        self.unwrap_or_else(|e| error!("weston: {what}: {e}"))
    }
}

impl<T> OrReport<T> for Option<T> {
    fn or_report(self, what: &str) -> T {
        self.unwrap_or_else(|| error!("weston: {what}: none found"))
    }
}

/// Runs the body of an extension function so that whatever error leaves it reaches the
/// caller as PostgreSQL reports it (its SQLSTATE, message, detail and hint), and never with a
/// Rust backtrace: pgrx attaches one to an error raised inside SPI (a constraint, a lock, a
/// permission) when the server runs with RUST_BACKTRACE set. A Rust panic (a bug) reaches
/// the caller as an internal error of `function`; its text goes to the server log only.
pub(crate) fn plainly<R>(function: &'static str, body: impl FnOnce() -> R) -> R {
    PgTryBuilder::new(AssertUnwindSafe(body))
        .catch_others(|caught| {
            let (report, panic) = match caught {
                CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => {
                    (report, false)
                }
                CaughtError::RustPanic { ereport, .. } => (ereport, true),
            };
            if panic {
                pgrx::log!("weston: {function} panicked: {}", report.message());
                ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    format!("weston: internal error in {function}; the server log says more")
                );
            }
            let mut plain = ErrorReport::new(
                report.sql_error_code(),
                report.message().to_string(),
                function,
            );
            if let Some(detail) = report.detail() {
                plain = plain.set_detail(detail);
            }
            if let Some(hint) = report.hint() {
                plain = plain.set_hint(hint);
            }
            plain.report(PgLogLevel::ERROR);
            unreachable!("an ERROR does not return");
        })
        .execute()
}
