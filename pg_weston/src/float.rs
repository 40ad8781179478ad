//! `weston_float8(numeric)`: the double nearest a numeric, as `::float8` gives, without
//! printing and re-parsing it (weston-core's `float` says how). A C-language function of its
//! own rather than `#[pg_extern]`: pgrx copies every numeric argument into Rust memory,
//! which would cost as much as the conversion.

use pgrx::prelude::*;
use pgrx::{pg_sys, varlena, PgSqlErrorCode};
use weston_core::float::{numeric_to_f64, FloatError};

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_weston_float8() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// STRICT: never called with NULL.
///
/// # Safety
/// Called by PostgreSQL's function manager with one numeric argument.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn weston_float8(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let argument = pgrx::fcinfo::pg_getarg_datum_raw(fcinfo, 0);
    // A short (1-byte header) numeric is read where it lies; only a compressed or
    // out-of-line one is copied.
    let numeric = pg_sys::pg_detoast_datum_packed(argument.cast_mut_ptr());
    let bytes = std::slice::from_raw_parts(
        varlena::vardata_any(numeric).cast::<u8>(),
        varlena::varsize_any_exhdr(numeric),
    );
    match numeric_to_f64(bytes) {
        Ok(value) => pg_sys::Datum::from(value.to_bits()),
        Err(FloatError::OutOfRange) => {
            let text =
                AnyNumeric::from_datum(argument, false).map_or_else(String::new, |n| n.to_string());
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                format!("\"{text}\" is out of range for type double precision")
            );
        }
        Err(FloatError::Malformed) => error!("weston_float8: not a numeric"),
    }
}

extension_sql_file!(
    "../sql/float.sql",
    name = "float",
    requires = ["adjusted_prices"]
);
