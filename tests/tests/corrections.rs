//! The DBA's corrections on the real cluster: each function's change and its
//! audit trail (who, when, the row before and after, why), the refusals, and that a
//! correction outlives the next night's load, a dump and restore, and counts at once in
//! the adjusted prices.

use std::process::Command;

use sqlx::{PgPool, Row};
use weston_tests::{loader_command, output_text, pg_config, query_text as text, TestDb};

/// The window every test loads, fixed so the mock market holds the same events on any day:
/// forward and reverse splits of MOCK0001 and MOCK0002, dividends of some of MOCK0001..6.
const FROM: &str = "2026-03-02";
const TO: &str = "2026-08-31";

/// The loader's nightly run with the mock provider over the window, in-process.
async fn nightly(db: &TestDb) {
    let outcome = weston_tests::mock_run_in_process(db, (FROM, TO), 6).await;
    assert!(outcome.stats.unserved.is_empty(), "{:?}", outcome.stats);
}

/// A LOGIN user in group `dba` (a person, as the runbook has the DBA connect), connected.
async fn dba_login(db: &TestDb, who: &str) -> PgPool {
    weston_tests::login_in_group(db, who, "dba").await
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// (date, numerator, denominator, provider) of a symbol's stored splits, or its dividends'
/// (ex_date, amount, currency, provider): what a night's load must leave alone.
async fn events(pool: &PgPool) -> String {
    text(
        pool,
        "SELECT string_agg(e, E'\n' ORDER BY e) FROM (
            SELECT format('split %s %s %s:%s %s %s', symbol, date, numerator, denominator, provider,
                          CASE WHEN run_id IS NULL THEN 'no run' ELSE 'run' END) e FROM splits
            UNION ALL
            SELECT format('dividend %s %s %s %s %s', symbol, ex_date, amount, currency, provider) FROM dividends
            UNION ALL
            SELECT format('bar %s %s %s %s %s %s %s %s %s', symbol, date, open, high, low, close, volume,
                          coalesce(vwap::text, 'no vwap'), provider)
              FROM prices_daily WHERE provider = 'manual') t",
    )
    .await
}

/// The n-th (from 1) stored split or dividend date of the loaded mock market.
async fn event_date(pool: &PgPool, table: &str, symbol: &str, n: i64) -> String {
    let column = if table == "splits" { "date" } else { "ex_date" };
    text(
        pool,
        &format!(
            "SELECT {column}::text FROM {table} WHERE symbol = '{symbol}' ORDER BY {column} OFFSET {} LIMIT 1",
            n - 1
        ),
    )
    .await
}

/// The trail as (action, by_role, symbol, date, before, after, reason), oldest first.
async fn trail(
    pool: &PgPool,
) -> Vec<(
    String,
    String,
    String,
    String,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
    String,
)> {
    sqlx::query(
        "SELECT action, by_role, symbol, date::text, before, after, reason
           FROM weston_corrections ORDER BY correction_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
        )
    })
    .collect()
}

fn field<'a>(row: &'a Option<serde_json::Value>, key: &str) -> &'a serde_json::Value {
    &row.as_ref().unwrap_or_else(|| panic!("no row for {key}"))[key]
}

#[tokio::test]
async fn each_correction_changes_its_row_and_records_who_when_before_after_and_why() {
    let db = TestDb::migrated("corr_trail").await;
    nightly(&db).await;
    let alice = dba_login(&db, "alice").await;
    let alice_name = format!("{}_alice", db.name);
    let split = event_date(&db.pool, "splits", "MOCK0001", 1).await;
    let other_split = event_date(&db.pool, "splits", "MOCK0002", 1).await;
    let dividend_symbol = text(&db.pool, "SELECT min(symbol) FROM dividends").await;
    let dividend = event_date(&db.pool, "dividends", &dividend_symbol, 1).await;
    let bar_day = "2026-06-15";
    let before_bar = text(
        &db.pool,
        &format!("SELECT to_jsonb(p)::text FROM prices_daily p WHERE symbol = 'MOCK0004' AND date = '{bar_day}'"),
    )
    .await;
    assert!(
        !before_bar.is_empty(),
        "the mock market has a bar on {bar_day}"
    );
    // Findings come from the audit; one planted here, as the audit would store it.
    exec(
        &db.pool,
        "INSERT INTO quality_findings (rule, symbol, date, details, first_run, last_run)
         SELECT 'stale_bars', 'MOCK0005', '2026-05-01', '{\"sessions\": 4}', min(run_id), max(run_id) FROM etl_run",
    )
    .await;

    // Alice as herself, then as the group (SET ROLE dba): the trail names her both times.
    let calls = [
        "SELECT weston_record_split('MOCK0004', '2026-04-01', 3, 2, 'issuer 8-K: 3-for-2')".to_string(),
        format!("SELECT weston_record_split('MOCK0001', '{split}', 5, 1, 'ratio mis-copied: 5-for-1 per the exchange notice')"),
        format!("SET ROLE dba; SELECT weston_delete_split('MOCK0002', '{other_split}', 'no such split: the issuer denies it'); RESET ROLE"),
        "SELECT weston_record_dividend('MOCK0004', '2026-05-04', 0.25, 'USD', 'missing: issuer press release')".to_string(),
        format!("SELECT weston_delete_dividend('{dividend_symbol}', '{dividend}', 'phantom dividend')"),
        format!("SELECT weston_correct_bar('MOCK0004', '{bar_day}', 10, 12, 9, 11, 1500, 'close 100x: cents for dollars')"),
        "SELECT weston_resolve_finding((SELECT max(finding_id) FROM quality_findings), 'true_event', 'a halt, the bars are right')".to_string(),
    ];
    for sql in &calls {
        exec(&alice, sql).await;
    }

    let rows = trail(&db.pool).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "record_split",
            "record_split",
            "delete_split",
            "record_dividend",
            "delete_dividend",
            "correct_bar",
            "resolve_finding"
        ]
    );
    for row in &rows {
        assert_eq!(
            row.1, alice_name,
            "by_role of {row:?}: the login, also after SET ROLE dba"
        );
    }
    // A new split: nothing before, the manual row after.
    let (_, _, symbol, date, before, after, reason) = &rows[0];
    assert_eq!((symbol.as_str(), date.as_str()), ("MOCK0004", "2026-04-01"));
    assert!(before.is_none());
    assert_eq!(field(after, "provider"), "manual");
    assert_eq!(field(after, "run_id"), &serde_json::Value::Null);
    assert_eq!(field(after, "numerator"), 3);
    assert_eq!(reason, "issuer 8-K: 3-for-2");
    // A replaced split: the provider's row before.
    assert_eq!(field(&rows[1].4, "provider"), "mock");
    assert_eq!(field(&rows[1].4, "numerator"), 4);
    assert_eq!(field(&rows[1].5, "numerator"), 5);
    // A deleted split: the row before, nothing after, and gone.
    assert_eq!(field(&rows[2].4, "provider"), "mock");
    assert!(rows[2].5.is_none());
    assert_eq!(
        text(&db.pool, &format!("SELECT count(*)::text FROM splits WHERE symbol = 'MOCK0002' AND date = '{other_split}'")).await,
        "0"
    );
    assert!(rows[3].4.is_none());
    assert_eq!(field(&rows[3].5, "currency"), "USD");
    assert!(rows[4].5.is_none());
    assert_eq!(
        text(&db.pool, &format!("SELECT count(*)::text FROM dividends WHERE symbol = '{dividend_symbol}' AND ex_date = '{dividend}'")).await,
        "0"
    );
    // A corrected bar: the provider's bar before, the manual one (no VWAP) after.
    let before_bar: serde_json::Value = serde_json::from_str(&before_bar).unwrap();
    assert_eq!(rows[5].4.as_ref(), Some(&before_bar));
    assert_eq!(field(&rows[5].5, "close"), 11);
    assert_eq!(field(&rows[5].5, "vwap"), &serde_json::Value::Null);
    assert_eq!(
        text(&db.pool, &format!("SELECT format('%s %s %s', close, provider, run_id IS NULL) FROM prices_daily WHERE symbol = 'MOCK0004' AND date = '{bar_day}'")).await,
        "11 manual t"
    );
    // The finding: resolved by her, in the finding and in the trail.
    assert_eq!(
        text(&db.pool, "SELECT format('%s %s %s', resolution, resolved_by, resolution_note) FROM quality_findings").await,
        format!("true_event {alice_name} a halt, the bars are right")
    );
    assert_eq!(field(&rows[6].4, "resolution"), &serde_json::Value::Null);
    assert_eq!(field(&rows[6].5, "resolution"), "true_event");
    assert_eq!(
        (rows[6].2.as_str(), rows[6].3.as_str()),
        ("MOCK0005", "2026-05-01")
    );
    // When: each call's transaction time, in order.
    assert_eq!(
        text(&db.pool, "SELECT bool_and(at > now() - interval '5 minutes' AND at <= now())::text FROM weston_corrections").await,
        "true"
    );
    alice.close().await;
}

/// Bad input is refused with an error naming what is wrong, and nothing is written; the
/// trail is append-only for dba and its `by_role` cannot be chosen.
#[tokio::test]
async fn refusals_name_what_is_wrong_and_write_nothing() {
    let db = TestDb::migrated("corr_refuse").await;
    nightly(&db).await;
    exec(
        &db.pool,
        "INSERT INTO quality_findings (rule, symbol, date, details, first_run, last_run, resolved_at, resolution, resolved_by)
         SELECT 'stale_bars', 'MOCK0005', '2026-05-01', '{}', min(run_id), max(run_id), now(), 'false_positive', 'bob'
           FROM etl_run;
         INSERT INTO quality_findings (rule, symbol, date, details, first_run, last_run)
         SELECT 'stale_bars', 'MOCK0006', '2026-05-01', '{}', min(run_id), max(run_id) FROM etl_run;",
    )
    .await;
    let resolved = text(
        &db.pool,
        "SELECT min(finding_id)::text FROM quality_findings",
    )
    .await;
    let open = text(
        &db.pool,
        "SELECT max(finding_id)::text FROM quality_findings",
    )
    .await;
    let split = event_date(&db.pool, "splits", "MOCK0001", 1).await;
    let state = || async {
        text(
            &db.pool,
            "SELECT md5(string_agg(t, E'\n' ORDER BY t)) FROM (
                SELECT to_jsonb(s)::text t FROM splits s UNION ALL SELECT to_jsonb(d)::text FROM dividends d
                UNION ALL SELECT to_jsonb(p)::text FROM prices_daily p UNION ALL SELECT to_jsonb(f)::text FROM quality_findings f
                UNION ALL SELECT to_jsonb(c)::text FROM weston_corrections c) x",
        )
        .await
    };
    let before = state().await;
    let alice = dba_login(&db, "alice").await;
    let cases: Vec<(String, &str)> = vec![
        ("SELECT weston_record_split('MOCK0001', '2026-04-01', 2, 1, NULL)".into(), "a correction needs a reason (got NULL)"),
        ("SELECT weston_record_split('MOCK0001', '2026-04-01', 2, 1, '  ')".into(), "a correction needs a reason (got '  ')"),
        ("SELECT weston_record_split('MOCK0001', '2026-04-01', 0, 1, 'why')".into(), "numerator and denominator must be positive, got 0-for-1"),
        ("SELECT weston_record_split('MOCK0001', '2026-04-01', 2, -1, 'why')".into(), "got 2-for--1"),
        ("SELECT weston_record_split('MOCK0001', '2026-04-01', 2, 2, 'why')".into(), "a 2-for-2 split changes nothing"),
        ("SELECT weston_record_split('NOPE', '2026-04-01', 2, 1, 'why')".into(), "unknown symbol NOPE: it is not in securities"),
        ("SELECT weston_record_split('MOCK0001', NULL, 2, 1, 'why')".into(), "the symbol and the date must not be NULL"),
        ("SELECT weston_delete_split('MOCK0001', '2026-04-02', 'why')".into(), "MOCK0001 has no split on 2026-04-02 to delete"),
        (format!("SELECT weston_delete_split('MOCK0001', '{split}', '')"), "a correction needs a reason"),
        ("SELECT weston_record_dividend('MOCK0001', '2026-04-01', 0, 'USD', 'why')".into(), "amount must be positive, got 0"),
        ("SELECT weston_record_dividend('MOCK0001', '2026-04-01', 0.1, 'usd', 'why')".into(), "currency is an ISO 4217 code such as USD, got 'usd'"),
        ("SELECT weston_record_dividend('MOCK0001', '2026-04-01', 0.1, NULL, 'why')".into(), "got NULL"),
        ("SELECT weston_delete_dividend('MOCK0001', '2026-04-01', 'why')".into(), "MOCK0001 has no dividend with ex-date 2026-04-01 to delete"),
        ("SELECT weston_correct_bar('MOCK0001', '2026-06-15', 10, 9, 11, 10, 5, 'why')".into(), "high 9 is below low 11"),
        ("SELECT weston_correct_bar('MOCK0001', '2026-06-15', 13, 12, 9, 10, 5, 'why')".into(), "open 13 and close 10 must lie between low 9 and high 12"),
        ("SELECT weston_correct_bar('MOCK0001', '2026-06-15', 10, 12, 0, 10, 5, 'why')".into(), "prices must be positive"),
        ("SELECT weston_correct_bar('MOCK0001', '2026-06-15', 10, 12, 9, 10, -5, 'why')".into(), "volume must not be negative, got -5"),
        ("SELECT weston_correct_bar('MOCK0001', '2026-06-15', 10, 12, 9, NULL, 5, 'why')".into(), "open, high, low, close and volume must all be given"),
        ("SELECT weston_correct_bar('MOCK0001', (now() AT TIME ZONE 'America/New_York')::date + 1, 10, 12, 9, 10, 5, 'why')".into(), "is after today in New York"),
        ("SELECT weston_correct_bar('MOCK0001', '2026-06-15', 10, 12, 9, 10, 5, NULL)".into(), "a correction needs a reason"),
        ("SELECT weston_resolve_finding(999999, 'corrected', 'why')".into(), "there is no finding 999999"),
        (format!("SELECT weston_resolve_finding({open}, 'fixed', 'why')"), "a resolution is true_event, corrected or false_positive, got 'fixed'"),
        (format!("SELECT weston_resolve_finding({open}, 'corrected', '')"), "a correction needs a reason"),
        (format!("SELECT weston_resolve_finding({resolved}, 'corrected', 'why')"), "already resolved: false_positive by bob"),
    ];
    for (sql, expected) in &cases {
        match sqlx::raw_sql(sql).execute(&alice).await {
            Ok(_) => panic!("should be refused: {sql}"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{sql}: expected {expected:?}, got {e}"
            ),
        }
    }
    // A superuser is refused (planted code on dba's tables would run with its rights).
    match sqlx::raw_sql("SELECT weston_record_split('MOCK0001', '2026-04-01', 2, 1, 'why')")
        .execute(&db.pool)
        .await
    {
        Ok(_) => panic!("a superuser recorded a correction"),
        Err(e) => assert!(e.to_string().contains("SET ROLE dba first"), "{e}"),
    }
    // The trail is append-only for dba, and its who and when are the database's.
    for sql in [
        "UPDATE weston_corrections SET reason = 'rewritten'",
        "DELETE FROM weston_corrections",
        "TRUNCATE weston_data.weston_corrections",
        "INSERT INTO weston_corrections (by_role, action, symbol, date, after, reason) VALUES ('bob', 'record_split', 'X', '2026-01-01', '{}', 'forged')",
        "INSERT INTO weston_corrections (at, action, symbol, date, after, reason) VALUES ('2001-01-01', 'record_split', 'X', '2026-01-01', '{}', 'backdated')",
    ] {
        match sqlx::raw_sql(sql).execute(&alice).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {}
            other => panic!("{sql}: expected permission denied, got {other:?}"),
        }
    }
    assert_eq!(
        state().await,
        before,
        "a refused correction wrote something"
    );
    alice.close().await;
}

/// The next night's load over the corrected dates changes none of them: a manual split,
/// dividend and bar stay, a deleted split or dividend stays deleted.
#[tokio::test]
async fn corrections_survive_the_next_nights_load() {
    let db = TestDb::migrated("corr_nightly").await;
    nightly(&db).await;
    let alice = dba_login(&db, "alice").await;
    let split = event_date(&db.pool, "splits", "MOCK0001", 1).await;
    let deleted_split = event_date(&db.pool, "splits", "MOCK0002", 1).await;
    let dividend_symbol = text(&db.pool, "SELECT min(symbol) FROM dividends").await;
    let dividend = event_date(&db.pool, "dividends", &dividend_symbol, 1).await;
    let deleted_dividend = event_date(&db.pool, "dividends", &dividend_symbol, 2).await;
    assert!(
        !deleted_dividend.is_empty(),
        "{dividend_symbol} pays twice in the window"
    );
    let mock0002_splits: i64 = text(
        &db.pool,
        "SELECT count(*)::text FROM splits WHERE symbol = 'MOCK0002'",
    )
    .await
    .parse()
    .unwrap();
    assert!(
        mock0002_splits >= 2,
        "MOCK0002 splits more than once in the window"
    );
    exec(
        &alice,
        &format!(
            "SELECT weston_record_split('MOCK0001', '{split}', 5, 1, 'ratio mis-copied');
             SELECT weston_delete_split('MOCK0002', '{deleted_split}', 'no such split');
             SELECT weston_record_dividend('{dividend_symbol}', '{dividend}', 9.99, 'USD', 'amount mis-copied');
             SELECT weston_delete_dividend('{dividend_symbol}', '{deleted_dividend}', 'phantom dividend');
             SELECT weston_correct_bar('MOCK0004', '2026-06-15', 10, 12, 9, 11, 1500, 'close 100x')"
        ),
    )
    .await;
    let corrected = events(&db.pool).await;
    nightly(&db).await;
    assert_eq!(
        events(&db.pool).await,
        corrected,
        "the next night's load undid a correction"
    );
    // The rest of the market was loaded as usual: MOCK0002's other splits are the provider's.
    assert_eq!(
        text(&db.pool, "SELECT format('%s %s', count(*), string_agg(DISTINCT provider, ',')) FROM splits WHERE symbol = 'MOCK0002'").await,
        format!("{} mock", mock0002_splits - 1)
    );
    alice.close().await;
}

/// A recorded split moves the adjusted prices before it at once, inside the transaction
/// that records it: there is nothing to refresh.
#[tokio::test]
async fn adjusted_prices_use_a_recorded_split_at_once() {
    let db = TestDb::migrated("corr_adjusted").await;
    nightly(&db).await;
    let alice = dba_login(&db, "alice").await;
    let adjusted_close = |day: &'static str| {
        format!(
            "SELECT close::text FROM weston_adjusted_prices(ARRAY['MOCK0004'], '2026-03-01', '2026-09-01') WHERE date = '{day}'"
        )
    };
    let mut tx = alice.begin().await.unwrap();
    let raw: String = sqlx::query_scalar(&adjusted_close("2026-04-15"))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(
        "SELECT weston_record_split('MOCK0004', '2026-05-01', 2, 1, 'issuer 8-K: 2-for-1')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let halved: String = sqlx::query_scalar(&adjusted_close("2026-04-15"))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let expected = raw.parse::<rust_decimal::Decimal>().unwrap() / rust_decimal::Decimal::from(2);
    assert_eq!(
        halved.parse::<rust_decimal::Decimal>().unwrap(),
        expected,
        "{raw} -> {halved}"
    );
    let after_split: String = sqlx::query_scalar(&adjusted_close("2026-06-15"))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let raw_after: String = text(
        &db.pool,
        "SELECT close::text FROM prices_daily WHERE symbol = 'MOCK0004' AND date = '2026-06-15'",
    )
    .await;
    assert_eq!(after_split, raw_after, "bars after the split are as traded");
    alice.close().await;
}

/// The trail and the manual rows come back from pg_dump and pg_restore, and the next
/// correction takes the next id.
#[tokio::test]
async fn corrections_survive_dump_and_restore() {
    let db = TestDb::migrated("corr_dump").await;
    nightly(&db).await;
    let alice = dba_login(&db, "alice").await;
    exec(
        &alice,
        "SELECT weston_record_split('MOCK0004', '2026-04-01', 3, 2, 'issuer 8-K');
         SELECT weston_correct_bar('MOCK0004', '2026-06-15', 10, 12, 9, 11, 1500, 'close 100x')",
    )
    .await;
    alice.close().await;
    let everything = "SELECT string_agg(to_jsonb(c)::text, E'\n' ORDER BY correction_id) FROM weston_corrections c";
    let (trail_before, events_before) = (text(&db.pool, everything).await, events(&db.pool).await);

    let restored = TestDb::empty("corr_restored").await;
    let dump = std::env::temp_dir().join(format!("{}.dump", db.name));
    let bindir = pg_config("bindir");
    let libpq = |url: &str| url.split('?').next().unwrap().to_string();
    for (program, args) in [
        (
            "pg_dump",
            vec![
                "-Fc".to_string(),
                "-f".into(),
                dump.display().to_string(),
                libpq(&db.url),
            ],
        ),
        (
            "pg_restore",
            vec![
                "--exit-on-error".into(),
                "-d".into(),
                libpq(&restored.url),
                dump.display().to_string(),
            ],
        ),
    ] {
        let out = Command::new(format!("{bindir}/{program}"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_file(&dump).ok();
    assert_eq!(text(&restored.pool, everything).await, trail_before);
    assert_eq!(events(&restored.pool).await, events_before);
    // The grants came back too: a dba login of the restored database records the next one.
    let bob = dba_login(&restored, "bob").await;
    exec(
        &bob,
        "SELECT weston.weston_delete_split('MOCK0004', '2026-04-01', 'the 8-K was withdrawn')",
    )
    .await;
    bob.close().await;
    assert_eq!(
        text(&restored.pool, "SELECT string_agg(correction_id::text || ' ' || action, ',' ORDER BY correction_id) FROM weston_corrections").await,
        "1 record_split,2 correct_bar,3 delete_split"
    );
}

/// The same against a real provider's rows: the mock provider never replaces a real one
/// anyway, so only FMP's next answer proves that a manual row outranks a provider's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_next_answer_never_overwrites_a_manual_row() {
    const FMP_KEY: &str = "fmp-k3y";
    let db = TestDb::migrated("corr_fmp").await;
    let fmp = fake_providers::TestServer::start(|seen: &fake_providers::Seen| {
        fake_providers::fmp::fmp_api(FMP_KEY, seen)
    })
    .await;
    let load = || {
        let out = loader_command(
            &db,
            &[
                "run",
                "--symbols",
                "AAPL",
                "--from",
                "2020-08-27",
                "--to",
                "2020-08-31",
            ],
        )
        .env("FMP_API_KEY", FMP_KEY)
        .env("WESTON_FMP_BASE_URL", fmp.base_url.as_str())
        .env("WESTON_FMP_RATE_LIMIT", "50/s")
        .env("WESTON_HTTP_MAX_RETRIES", "1")
        .output()
        .expect("run weston-loader");
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    };
    load();
    assert_eq!(
        text(&db.pool, "SELECT format('%s:%s %s', numerator, denominator, provider) FROM splits WHERE symbol = 'AAPL' AND date = '2020-08-31'").await,
        "4:1 fmp"
    );
    let alice = dba_login(&db, "alice").await;
    exec(
        &alice,
        "SELECT weston_record_split('AAPL', '2020-08-31', 5, 1, 'test of precedence: not the real ratio');
         SELECT weston_correct_bar('AAPL', '2020-08-28', 500, 510, 490, 501, 1000, 'test of precedence')",
    )
    .await;
    alice.close().await;
    let corrected = events(&db.pool).await;
    assert!(
        corrected.contains("split AAPL 2020-08-31 5:1 manual no run"),
        "{corrected}"
    );
    load();
    assert_eq!(
        events(&db.pool).await,
        corrected,
        "FMP's answer overwrote a manual row"
    );
}

/// One dba member tries to make another's correction write the trail in the victim's name
/// (the trail's `by_role` is the session's login): a statement trigger on `splits`, a rule
/// and a default, whose code inserts a `weston_corrections` row. The market-data tables
/// belong to `weston_owner`, whom nobody can become (migration 0030), and dba creates
/// nothing in `weston`: each attempt is refused, and the trail names only who corrected.
#[tokio::test]
async fn a_dba_member_cannot_write_the_trail_in_anothers_name() {
    let db = TestDb::migrated("corrections_forged").await;
    exec(
        &db.pool,
        "INSERT INTO securities (symbol, name) VALUES ('AAPL', 'Apple')",
    )
    .await;
    let mallory = dba_login(&db, "mallory").await;
    let alice = dba_login(&db, "alice").await;
    let mallory_name = format!("{}_mallory", db.name);
    let alice_name = format!("{}_alice", db.name);
    // Wherever she could keep a function: pg_weston's schema, or one of her own.
    exec(
        &db.pool,
        &format!("CREATE SCHEMA {mallory_name} AUTHORIZATION {mallory_name}"),
    )
    .await;
    let forge = |schema: &str| {
        format!(
            "CREATE FUNCTION {schema}.forge() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 INSERT INTO weston.weston_corrections (action, symbol, date, after, reason)
                 VALUES ('delete_split', 'AAPL', '2020-01-02', '{{}}', 'forged');
                 RETURN NULL;
             END $$;
             CREATE FUNCTION {schema}.forged_at() RETURNS timestamptz LANGUAGE sql AS $$
                 INSERT INTO weston.weston_corrections (action, symbol, date, after, reason)
                 VALUES ('delete_split', 'AAPL', '2020-01-02', '{{}}', 'forged') RETURNING now() $$;
             GRANT USAGE ON SCHEMA {schema} TO PUBLIC;"
        )
    };
    let plants = [
        forge("weston"),
        forge(&mallory_name),
        format!(
            "CREATE TRIGGER forge AFTER INSERT OR UPDATE OR DELETE ON splits
                 FOR EACH STATEMENT EXECUTE FUNCTION {mallory_name}.forge()"
        ),
        // On DELETE: an INSERT or UPDATE rule would make the correction's upsert fail.
        "CREATE RULE forge AS ON DELETE TO splits DO ALSO
             INSERT INTO weston.weston_corrections (action, symbol, date, after, reason)
             VALUES ('delete_split', 'AAPL', '2020-01-02', '{}', 'forged')"
            .to_string(),
        format!(
            "ALTER TABLE splits ALTER COLUMN updated_at SET DEFAULT {mallory_name}.forged_at()"
        ),
    ];
    let mut outcomes = Vec::new();
    for sql in &plants {
        let code = match sqlx::raw_sql(sql).execute(&mallory).await {
            Ok(_) => "planted".to_string(),
            Err(sqlx::Error::Database(e)) => e.code().unwrap_or_default().to_string(),
            Err(e) => e.to_string(),
        };
        outcomes.push(code);
    }

    exec(
        &alice,
        "SELECT weston_record_split('AAPL', '2020-08-31', 4, 1, 'issuer 8-K');
         SELECT weston_delete_split('AAPL', '2020-08-31', 'the 8-K was withdrawn')",
    )
    .await;
    let rows: Vec<(String, String, String)> = trail(&db.pool)
        .await
        .into_iter()
        .map(|(action, by, _, _, _, _, reason)| (action, by, reason))
        .collect();
    let alices =
        |action: &str, reason: &str| (action.to_string(), alice_name.clone(), reason.to_string());
    assert_eq!(
        rows,
        [
            alices("record_split", "issuer 8-K"),
            alices("delete_split", "the 8-K was withdrawn")
        ],
        "the trail holds alice's corrections only (plants: {outcomes:?})"
    );
    // Her own schema takes her function; it cannot be attached to the table.
    assert_eq!(
        outcomes,
        ["42501", "planted", "42501", "42501", "42501"],
        "{plants:?}"
    );
    mallory.close().await;
    alice.close().await;
    exec(
        &db.pool,
        &format!(
            "DROP SCHEMA {mallory_name} CASCADE; DROP OWNED BY {mallory_name}, {alice_name};
             DROP ROLE {mallory_name}; DROP ROLE {alice_name}"
        ),
    )
    .await;
}
