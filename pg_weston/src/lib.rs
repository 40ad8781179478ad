use pgrx::prelude::*;

pgrx::pg_module_magic!();

mod adjust;
mod dates;
mod etl;
mod float;
mod inline;
mod owner;
mod partitions;
mod report;
mod rotation;
mod walk;

extension_sql_file!(
    "../sql/extension_tables.sql",
    name = "extension_tables",
    bootstrap
);

// A security's tickers over time: plain SQL over migrations/0016's tables.
extension_sql_file!("../sql/identity.sql", name = "identity");

// The DBA's corrections and their audit trail: PL/pgSQL over the market-data tables.
// It needs nothing of identity's: `requires` only fixes the order of the two blocks in the
// generated install script, which pgrx otherwise picks differently from one build to another.
extension_sql_file!(
    "../sql/corrections.sql",
    name = "corrections",
    requires = ["identity"]
);

// The market data as known at a moment (since 0.9.0): the sets the readers name in place of
// the tables. `requires` only fixes the order of the blocks.
extension_sql_file!(
    "../sql/known.sql",
    name = "known",
    requires = ["corrections"]
);

// A symbol's tickers over time, as the adjusted-price functions read them: the extension's
// own function (since 0.7.0). `requires` only fixes the order of the blocks.
extension_sql_file!(
    "../sql/ticker_pieces.sql",
    name = "ticker_pieces",
    requires = ["known"]
);

extension_sql_file!(
    "../sql/privileges.sql",
    name = "privileges",
    // After every function it names.
    finalize
);

/// The extension's version, as built. STABLE, not IMMUTABLE: ALTER EXTENSION UPDATE changes it.
#[pg_extern(stable, parallel_safe)]
fn weston_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(feature = "pg_test")]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn version_matches_the_crate() {
        let v = Spi::get_one::<String>("SELECT weston_version()")
            .unwrap()
            .unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }

    #[pg_test]
    fn ensure_partitions_counts_only_new_months_across_year_end() {
        Spi::run(
            "CREATE TABLE bars (d date NOT NULL, v int) PARTITION BY RANGE (d);
             CREATE TABLE bars_default PARTITION OF bars DEFAULT;
             INSERT INTO bars VALUES ('2024-02-29', 1), ('2025-01-01', 2);
             INSERT INTO weston_partition_config (parent) VALUES ('bars');",
        )
        .unwrap();
        let created = Spi::get_one::<i32>(
            "SELECT weston_ensure_partitions('2024-11-30', '2025-02-01', 'bars')",
        );
        assert_eq!(created, Ok(Some(4)));
        let again = Spi::get_one::<i32>(
            "SELECT weston_ensure_partitions('2024-12-01', '2025-01-31', 'bars')",
        );
        assert_eq!(again, Ok(Some(0)));
        let in_january = Spi::get_one::<i64>("SELECT count(*) FROM bars_p2025_01");
        assert_eq!(in_january, Ok(Some(1)), "the DEFAULT row of January moved");
        let leap =
            Spi::get_one::<String>("SELECT weston_create_partition('2024-02-29', 'bars')::text");
        assert_eq!(leap, Ok(Some("bars_p2024_02".to_string())));
        let bound = Spi::get_one::<String>(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'bars_p2024_02'",
        );
        assert_eq!(
            bound,
            Ok(Some(
                "FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')".to_string()
            ))
        );
    }

    /// A table's owner can attach code to it; called by a superuser, the extension does the
    /// work as that owner, so the code never runs as the superuser (owner.rs).
    #[pg_test]
    fn work_on_a_table_runs_as_its_owner_not_as_the_superuser_calling() {
        Spi::run(
            "CREATE ROLE weston_test_owner NOLOGIN;
             GRANT CREATE ON SCHEMA public TO weston_test_owner;
             -- As migration 0009 gives dba: the owner's work reads pg_weston's schema.
             GRANT USAGE ON SCHEMA weston TO weston_test_owner;
             CREATE TABLE owned (d date NOT NULL, v int) PARTITION BY RANGE (d);
             CREATE TABLE owned_default PARTITION OF owned DEFAULT;
             ALTER TABLE owned OWNER TO weston_test_owner;
             ALTER TABLE owned_default OWNER TO weston_test_owner;
             CREATE TABLE ran_as (who text, superuser boolean);
             GRANT INSERT ON ran_as TO PUBLIC;
             CREATE FUNCTION note_who() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 INSERT INTO public.ran_as SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
                 RETURN OLD;
             END $$;
             CREATE TRIGGER planted BEFORE DELETE ON owned_default FOR EACH ROW EXECUTE FUNCTION note_who();
             INSERT INTO owned VALUES ('2024-05-06', 1);
             INSERT INTO weston_partition_config (parent) VALUES ('owned');",
        )
        .unwrap();
        Spi::run("SELECT weston_ensure_partitions('2024-05-01', '2024-05-31', 'owned')").unwrap();
        let who = Spi::get_two::<String, bool>("SELECT who, superuser FROM ran_as");
        assert_eq!(who, Ok((Some("weston_test_owner".into()), Some(false))));
        let owner = Spi::get_one::<String>(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'owned_p2024_05'",
        );
        assert_eq!(owner, Ok(Some("weston_test_owner".into())));
        // The caller is itself again afterwards.
        let me = Spi::get_one::<bool>("SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
        assert_eq!(me, Ok(Some(true)));
    }

    /// Under an earlier version's SQL before migration 0016 (no ticker pieces at all), the
    /// pieces the events query reads (and the close lookups then use) are the symbols asked,
    /// each its own; with migration 0016's function only, the query calls that one.
    #[pg_test]
    fn without_identity_the_pieces_are_the_symbols_asked() {
        use crate::adjust::{with_pieces, Pieces, CLOSES_SQL, EVENTS_SQL};
        assert!(!CLOSES_SQL.contains("ticker_pieces"), "{CLOSES_SQL}");
        let sql = EVENTS_SQL;
        assert!(sql.contains("weston_ticker_pieces($1::text[]"), "{sql}");
        assert_eq!(with_pieces(sql, Pieces::Extension), sql);
        let plain = with_pieces(sql, Pieces::Plain);
        assert!(!plain.contains("ticker_pieces"), "{plain}");
        assert!(
            plain.contains("FROM unnest($1::text[]) u(symbol))"),
            "{plain}"
        );
        let migration = with_pieces(sql, Pieces::Migration);
        assert!(
            migration.contains(" ticker_pieces($1::text[]")
                && !migration.contains("weston_ticker_pieces"),
            "{migration}"
        );
    }

    /// Julian day 0, PostgreSQL's first date: an error naming the argument and the range
    /// (pgrx's own date conversion panicked there, with a backtrace in DETAIL).
    #[pg_test(
        error = "weston: month 4713-01-01 BC is outside the supported range 0001-01-01 to 9999-12-31"
    )]
    fn a_date_outside_the_supported_range_is_refused_by_name() {
        Spi::run("CREATE TABLE bars_extreme (d date NOT NULL) PARTITION BY RANGE (d)").unwrap();
        let _ = Spi::get_one::<String>(
            "SELECT weston_create_partition('4713-01-01 BC', 'bars_extreme')::text",
        );
    }

    #[pg_test(
        error = "weston: public.bars_plain is not a table partitioned by RANGE on a single date column"
    )]
    fn a_table_that_is_not_range_partitioned_by_date_is_refused() {
        Spi::run("CREATE TABLE bars_plain (d date)").unwrap();
        let _ =
            Spi::get_one::<i32>("SELECT weston_create_partition('2024-01-01', 'bars_plain')::text");
    }

    #[pg_test(
        error = "weston: public.bars_unregistered is not registered in weston_partition_config; a dba must INSERT it there before partitions can be ensured for it"
    )]
    fn ensure_partitions_refuses_a_parent_that_is_not_registered() {
        Spi::run("CREATE TABLE bars_unregistered (d date) PARTITION BY RANGE (d)").unwrap();
        let _ = Spi::get_one::<i32>(
            "SELECT weston_ensure_partitions('2024-01-01', '2024-02-01', 'bars_unregistered')",
        );
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    /// The database default that migration 0009 sets: the tests name pg_weston's objects
    /// unqualified, as a client of a migrated database does.
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![r#"search_path = '"$user", public, weston'"#]
    }
}
