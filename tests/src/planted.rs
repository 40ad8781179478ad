//! Code a `dba` login can plant where pg_weston's adjusted-price reads might look for a
//! symbol's ticker pieces, and a read that tells whether any of it ran.

use sqlx::PgPool;

/// Code a `dba` login can plant where the adjusted-price functions might look for ticker
/// pieces: it marks the session that ran it and tries to make `attacker` a superuser.
pub fn planted_pieces(function: &str, arguments: &str, attacker: &str, definer: bool) -> String {
    let security = if definer {
        "SECURITY DEFINER"
    } else {
        "SECURITY INVOKER"
    };
    format!(
        "CREATE OR REPLACE FUNCTION {function}({arguments})
         RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date)
         LANGUAGE plpgsql {security} AS $planted$
         BEGIN
             PERFORM pg_catalog.set_config('weston_test.planted', 'ran as ' || current_user, false);
             BEGIN
                 EXECUTE 'ALTER ROLE {attacker} SUPERUSER';
             EXCEPTION WHEN OTHERS THEN NULL;
             END;
             RETURN QUERY SELECT u.s, u.s, '-infinity'::date, 'infinity'::date
                            FROM pg_catalog.unnest($1::text[]) u(s);
         END $planted$;
         GRANT EXECUTE ON FUNCTION {function}({arguments}) TO PUBLIC;"
    )
}

/// Everything a `dba` login (with CREATE on `public`) can plant: migration 0016's
/// `ticker_pieces` replaced (SECURITY DEFINER, which a copy made by a superuser would keep),
/// and look-alikes of the extension's `weston_ticker_pieces` and of `ticker_pieces`.
pub fn plants(attacker: &str) -> Vec<String> {
    let mut planted = vec![planted_pieces(
        "weston.ticker_pieces",
        "symbols text[], as_of date",
        attacker,
        true,
    )];
    for (function, arguments) in [
        (
            "weston.weston_ticker_pieces",
            "symbols varchar[], as_of date",
        ),
        ("weston.weston_ticker_pieces", "symbols text[], as_of text"),
        ("public.weston_ticker_pieces", "symbols text[], as_of date"),
        ("public.ticker_pieces", "symbols text[], as_of date"),
    ] {
        planted.push(planted_pieces(function, arguments, attacker, false));
    }
    planted
}

/// Plants each of `plants(attacker)` as the `dba` login `mallory`: the ones the database
/// refuses (42501: a dba may create nothing in pg_weston's schema, nor replace what it does
/// not own) are returned; any other error fails the test.
pub async fn plant_what_a_dba_can(mallory: &PgPool, attacker: &str) -> Vec<String> {
    let mut refused = Vec::new();
    for sql in plants(attacker) {
        match sqlx::raw_sql(&sql).execute(mallory).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {
                refused.push(format!(
                    "{}: {}",
                    sql.lines().next().unwrap_or_default(),
                    e.message()
                ));
            }
            Err(e) => panic!("the dba login plants {sql}: {e}"),
        }
    }
    refused
}

/// Reads adjusted prices (both functions, with total return, so the segments' lookups run
/// too) on one session, then says whether planted code ran in that session.
pub async fn read_adjusted(pool: &PgPool, who: &str) -> (i64, Option<String>) {
    let mut conn = pool.acquire().await.unwrap();
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM weston_adjusted_prices('S1', '2024-01-01', '2024-03-31', NULL, true))
              + (SELECT count(*) FROM weston_adjusted_prices(ARRAY['S1', 'S2'], '2024-01-01', '2024-03-31', NULL, true))
              + (SELECT count(*) FROM weston_adjustment_factors('S2', NULL, true))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap_or_else(|e| panic!("{who} reads adjusted prices: {e}"));
    let planted: Option<String> =
        sqlx::query_scalar("SELECT current_setting('weston_test.planted', true)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    (rows, planted.filter(|p| !p.is_empty()))
}
