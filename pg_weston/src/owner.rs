//! Never run as a superuser on tables a less privileged role can attach code to.
//!
//! The owner of a table can put code on it that runs as whoever writes or changes it:
//! triggers, rules, CHECK constraints, column defaults, operators and functions in a schema
//! it may create in. `weston_ensure_partitions` runs with its owner's rights (the superuser
//! who installed the extension), and pg_cron runs rotation and reaping as a superuser, so
//! before touching a table they switch to the table's owner, as PostgreSQL itself does for
//! VACUUM, CREATE INDEX and REFRESH MATERIALIZED VIEW: the worst that planted code can then
//! reach is the rights of the role that planted it. The switch is a security-restricted
//! operation, so that code cannot `SET ROLE` or `RESET ROLE` back to the session's
//! superuser (a plain `SET ROLE` would allow exactly that) nor leave temporary objects.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// The owner of `relation`, read with operators of `pg_catalog` only.
pub(crate) fn owner_of(client: &SpiClient<'_>, relation: pg_sys::Oid) -> pg_sys::Oid {
    client
        .select(
            "SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
            Some(1),
            &[relation.into()],
        )
        .ok()
        .and_then(|t| t.first().get::<pg_sys::Oid>(1).ok().flatten())
        .unwrap_or_else(|| error!("weston: relation {relation:?} does not exist"))
}

/// Runs `work` as `owner` when the current user is a superuser and `owner` is not;
/// otherwise as the current user (a non-superuser caller never gains the owner's rights
/// here: it needs them already, or PostgreSQL refuses the work).
pub(crate) fn as_owner<R>(owner: pg_sys::Oid, work: impl FnOnce() -> R) -> R {
    let mut user = pg_sys::InvalidOid;
    let mut context: core::ffi::c_int = 0;
    // SAFETY: plain reads and writes of the backend's current-user globals.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let drop_privileges =
        user != owner && unsafe { pg_sys::superuser_arg(user) && !pg_sys::superuser_arg(owner) };
    if !drop_privileges {
        return work();
    }
    let restricted = context
        | pg_sys::SECURITY_LOCAL_USERID_CHANGE as core::ffi::c_int
        | pg_sys::SECURITY_RESTRICTED_OPERATION as core::ffi::c_int;
    // Restores the caller's identity on return and when an error unwinds through here
    // (an aborted (sub)transaction would restore it too).
    struct Restore(pg_sys::Oid, core::ffi::c_int);
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) };
        }
    }
    let _restore = Restore(user, context);
    unsafe { pg_sys::SetUserIdAndSecContext(owner, restricted) };
    // Settings changed by the owner's code end with the switch.
    let settings = unsafe { pg_sys::NewGUCNestLevel() };
    let result = work();
    unsafe { pg_sys::AtEOXact_GUC(false, settings) };
    result
}
