//! Pure logic behind pg_weston. Nothing here touches PostgreSQL, so `cargo test`
//! covers it on any machine; the extension crate only wires it to SQL.

pub mod adjust;
pub mod args;
pub mod dates;
pub mod float;
pub mod month;
pub mod plan;
