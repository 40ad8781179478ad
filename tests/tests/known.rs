//! Reads as the database knew them (`known_on`) on the real cluster: every read an analyst
//! makes at a moment, made again later with `known_on` => that moment after every kind of
//! change (a DBA's correction and its correction, a provider's restatement through the
//! loader, a late split, a late dividend, a rename learned later, a deleted event), gives
//! the same rows; and the history behind it keeps only real changes, is written by no
//! writer, and refuses a moment it does not cover.

use sqlx::PgPool;
use weston_tests::{dump_and_restore, login_in_group, query_text as text, TestDb};

/// The mock market's window, fixed so it holds the same events on any day: splits of
/// MOCK0001 and MOCK0002, dividends of some of MOCK0001..4.
const FROM: &str = "2026-03-02";
const TO: &str = "2026-08-31";

async fn nightly(db: &TestDb) {
    let outcome = weston_tests::mock_run_in_process(db, (FROM, TO), 4).await;
    assert!(outcome.stats.unserved.is_empty(), "{:?}", outcome.stats);
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Every read the test replays: (as read now, as read with known_on => `{k}`).
const READS: &[(&str, &str)] = &[
    (
        "weston_adjusted_prices(ARRAY['MOCK0001','MOCK0002','MOCK0003','MOCK0004','MOCK4NEW'], '2026-03-02', '2026-08-31', NULL, true)",
        "weston_adjusted_prices(ARRAY['MOCK0001','MOCK0002','MOCK0003','MOCK0004','MOCK4NEW'], '2026-03-02', '2026-08-31', NULL, true, {k})",
    ),
    (
        "weston_adjusted_prices(ARRAY['MOCK0003','MOCK4NEW'], '2026-03-02', '2026-08-31', '2026-06-30')",
        "weston_adjusted_prices(ARRAY['MOCK0003','MOCK4NEW'], '2026-03-02', '2026-08-31', '2026-06-30', known_on => {k})",
    ),
    (
        "weston_adjusted_prices('MOCK0001', '2026-03-02', '2026-08-31')",
        "weston_adjusted_prices('MOCK0001', '2026-03-02', '2026-08-31', known_on => {k})",
    ),
    (
        "weston_adjusted_prices('MOCK4NEW', '2026-03-02', '2026-08-31', NULL, true)",
        "weston_adjusted_prices('MOCK4NEW', '2026-03-02', '2026-08-31', NULL, true, {k})",
    ),
    (
        "weston_adjustment_factors('MOCK0001', NULL, true)",
        "weston_adjustment_factors('MOCK0001', NULL, true, {k})",
    ),
    (
        "weston_adjustment_factors('MOCK0003', NULL, true)",
        "weston_adjustment_factors('MOCK0003', known_on => {k}, total_return => true)",
    ),
    (
        "weston_adjustment_factors('MOCK4NEW')",
        "weston_adjustment_factors('MOCK4NEW', known_on => {k})",
    ),
    ("weston_universe()", "weston_universe(NULL, {k})"),
    (
        "weston_universe('2026-07-15')",
        "weston_universe('2026-07-15', {k})",
    ),
    (
        "(SELECT weston_resolve_symbol('MOCK0004', '2026-07-15'))",
        "(SELECT weston_resolve_symbol('MOCK0004', '2026-07-15', {k}))",
    ),
    (
        "(SELECT weston_resolve_symbol('MOCK4NEW', '2026-04-01'))",
        "(SELECT weston_resolve_symbol('MOCK4NEW', '2026-04-01', {k}))",
    ),
    (
        "weston_symbol_history('MOCK4NEW')",
        "weston_symbol_history('MOCK4NEW', NULL, {k})",
    ),
    (
        "weston_symbol_history('MOCK0004', '2026-07-15')",
        "weston_symbol_history('MOCK0004', '2026-07-15', {k})",
    ),
];

/// Each read's rows, in the order the function gives them, one line per read.
async fn read_all(pool: &PgPool, known_on: Option<&str>) -> Vec<String> {
    let mut answers = Vec::new();
    for (now, known) in READS {
        let call = match known_on {
            None => (*now).to_string(),
            Some(k) => known.replace("{k}", &format!("'{k}'::timestamptz")),
        };
        answers.push(
            text(
                pool,
                &format!("SELECT coalesce(array_agg(r::text)::text, 'no rows') FROM {call} r"),
            )
            .await,
        );
    }
    answers
}

/// The moment of a read and what it gave: `now()` and the reads in one transaction (one
/// snapshot, one moment), as an analyst records them with her results.
async fn read_now(pool: &PgPool) -> (String, Vec<String>) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .unwrap();
    let moment: String = sqlx::query_scalar("SELECT now()::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for (now, _) in READS {
        let answer: String = sqlx::query_scalar(&format!(
            "SELECT coalesce(array_agg(r::text)::text, 'no rows') FROM {now} r"
        ))
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{now}: {e}"));
        answers.push(answer);
    }
    tx.commit().await.unwrap();
    (moment, answers)
}

#[tokio::test]
async fn every_read_replays_exactly_at_every_earlier_moment() {
    let db = TestDb::migrated("known_replay").await;
    db.ensure_logins().await;
    nightly(&db).await;
    let dba = login_in_group(&db, "dba", "dba").await;
    let loader = db.loader_pool();
    let analyst = db.analyst_pool();

    let run_id = text(&db.pool, "SELECT max(run_id)::text FROM etl_run").await;
    let bar = |symbol: &str, n: usize| {
        format!(
            "SELECT date::text FROM prices_daily WHERE symbol = '{symbol}' ORDER BY date OFFSET {n} LIMIT 1"
        )
    };
    let corrected_day = text(&db.pool, &bar("MOCK0001", 10)).await;
    let split_day = text(&db.pool, &bar("MOCK0003", 60)).await;
    let dividend_day = text(&db.pool, &bar("MOCK0003", 90)).await;
    let deleted = text(
        &db.pool,
        "SELECT symbol || ' ' || ex_date FROM dividends ORDER BY symbol, ex_date LIMIT 1",
    )
    .await;
    let (deleted_symbol, deleted_day) = deleted.split_once(' ').unwrap();
    // What the provider said first: three of MOCK0003's bars, restated by the next night.
    exec(
        &db.pool,
        "UPDATE prices_daily SET open = open * 1.01, high = high * 1.01, low = low * 1.01, close = close * 1.01
          WHERE symbol = 'MOCK0003' AND date IN (SELECT date FROM prices_daily WHERE symbol = 'MOCK0003'
                                                  ORDER BY date OFFSET 20 LIMIT 3)",
    )
    .await;
    // MOCK0004 is a security of its own (its listing), renamed later.
    exec(
        &loader,
        &format!("SELECT weston_ticker_listed('MOCK0004', '{FROM}', 'mock', {run_id})"),
    )
    .await;

    let changes: Vec<(&PgPool, String)> = vec![
        (
            &dba,
            format!("SELECT weston_correct_bar('MOCK0001', '{corrected_day}', 10, 12, 9, 11, 1500, 'cents for dollars')"),
        ),
        (
            &dba,
            format!("SELECT weston_correct_bar('MOCK0001', '{corrected_day}', 10, 13, 9, 12, 1600, 'the correction was wrong')"),
        ),
        (&loader, String::from("nightly")),
        (
            &dba,
            format!("SELECT weston_record_split('MOCK0003', '{split_day}', 2, 1, 'announced late')"),
        ),
        (
            &dba,
            format!("SELECT weston_record_dividend('MOCK0003', '{dividend_day}', 0.25, 'USD', 'announced late')"),
        ),
        (
            &loader,
            format!("SELECT weston_ticker_changed('MOCK0004', 'MOCK4NEW', '2026-07-01', 'mock', {run_id})"),
        ),
        (
            &dba,
            format!("SELECT weston_delete_dividend('{deleted_symbol}', '{deleted_day}', 'never paid')"),
        ),
    ];

    let mut moments = vec![read_now(&analyst).await];
    for (who, change) in &changes {
        if change == "nightly" {
            nightly(&db).await;
        } else {
            exec(who, change).await;
        }
        let (moment, answers) = read_now(&analyst).await;
        let before = &moments.last().unwrap().1;
        assert_ne!(
            &answers, before,
            "{change}: the reads see the change (else replaying proves nothing)"
        );
        moments.push((moment, answers));
    }

    for (i, (moment, answers)) in moments.iter().enumerate() {
        let replayed = read_all(&analyst, Some(moment)).await;
        for (j, (then, again)) in answers.iter().zip(&replayed).enumerate() {
            assert_eq!(
                then, again,
                "moment {i} ({moment}): {} read with known_on differs from what it gave then",
                READS[j].0
            );
        }
    }
    // And known_on NULL is today's answer.
    assert_eq!(
        read_all(&analyst, None).await,
        moments.last().unwrap().1,
        "known_on NULL reads as now"
    );

    // A dump restored replays them too (the history, its start and updated_at travel with
    // the rows; the triggers are made after the rows are loaded, so the load keeps nothing).
    let restored = TestDb::empty("known_restored").await;
    dump_and_restore(&db, &restored);
    // A dump without --create carries no database settings: the migrations' search_path.
    exec(
        &restored.pool,
        &format!(
            "ALTER DATABASE {} SET search_path = \"$user\", app, public, weston",
            restored.name
        ),
    )
    .await;
    let restored_analyst = restored.analyst_pool();
    for (i, (moment, answers)) in moments.iter().enumerate() {
        assert_eq!(
            &read_all(&restored_analyst, Some(moment)).await,
            answers,
            "moment {i} ({moment}) after pg_dump and pg_restore"
        );
    }

    // `weston-loader verify` compares the history as it compares every table: the same
    // after the restore, and a kept version changed behind its back is a difference.
    use weston_loader::verify::collect::TABLE;
    let history = |print: &weston_loader::verify::Fingerprint| {
        [
            "prices_daily",
            "splits",
            "dividends",
            "securities",
            "ticker_history",
            "security_identity",
        ]
        .map(|t| print.sections[TABLE][&format!("weston_data.{t}_history")].clone())
    };
    let here = history(&weston_tests::data_fingerprint(&db.url).await);
    assert_eq!(
        here,
        history(&weston_tests::data_fingerprint(&restored.url).await)
    );
    exec(
        &restored.pool,
        "UPDATE weston_data.prices_daily_history SET close = close + 1",
    )
    .await;
    assert_ne!(
        here,
        history(&weston_tests::data_fingerprint(&restored.url).await),
        "verify sees a kept version changed"
    );

    // The corrections trail points at the versions it made: the first correction's version
    // is the one the second replaced, kept from its updated_at until the second's.
    let pointed = text(
        &analyst,
        &format!(
            "SELECT count(*)::text FROM weston_data.prices_daily_history h
               JOIN weston_corrections c1 ON c1.action = 'correct_bar' AND (c1.after->>'updated_at')::timestamptz = h.updated_at
               JOIN weston_corrections c2 ON c2.action = 'correct_bar' AND (c2.before->>'updated_at')::timestamptz = h.updated_at
                                         AND (c2.after->>'updated_at')::timestamptz = h.known_to
              WHERE h.symbol = 'MOCK0001' AND h.date = '{corrected_day}' AND h.close = 11"
        ),
    )
    .await;
    assert_eq!(
        pointed, "1",
        "the trail names the version each correction made and replaced"
    );
}

#[tokio::test]
async fn history_keeps_real_changes_only_and_no_writer_can_touch_it() {
    let db = TestDb::migrated("known_history").await;
    db.ensure_logins().await;
    nightly(&db).await;
    let pool = db.pool.clone();
    let kept = |table: &'static str| {
        let pool = pool.clone();
        async move {
            text(
                &pool,
                &format!("SELECT count(*)::text FROM weston_data.{table}_history"),
            )
            .await
        }
    };
    assert_eq!(
        kept("prices_daily").await,
        "0",
        "a first load keeps nothing"
    );

    // The same night again changes nothing: nothing kept.
    nightly(&db).await;
    for table in [
        "prices_daily",
        "splits",
        "dividends",
        "securities",
        "ticker_history",
        "security_identity",
    ] {
        assert_eq!(
            kept(table).await,
            "0",
            "{table}: a re-run that changes nothing keeps nothing"
        );
    }

    // An update that changes nothing keeps the row's updated_at and keeps nothing; one
    // that changes a value keeps the old version, stamped with the transaction's start.
    let before = text(
        &db.pool,
        "SELECT updated_at::text FROM prices_daily WHERE symbol = 'MOCK0001' ORDER BY date LIMIT 1",
    )
    .await;
    exec(&db.pool, "UPDATE prices_daily SET close = close, updated_at = '2001-01-01' WHERE symbol = 'MOCK0001'").await;
    let after = text(
        &db.pool,
        "SELECT updated_at::text FROM prices_daily WHERE symbol = 'MOCK0001' ORDER BY date LIMIT 1",
    )
    .await;
    assert_eq!(
        before, after,
        "an update that changes nothing keeps updated_at"
    );
    assert_eq!(kept("prices_daily").await, "0");
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("UPDATE splits SET numerator = numerator + 1, updated_at = '2001-01-01'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let stamped: bool =
        sqlx::query_scalar("SELECT bool_and(updated_at = transaction_timestamp()) FROM splits")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert!(stamped, "a change is known from its transaction's start");
    assert_eq!(
        kept("splits").await,
        text(&db.pool, "SELECT count(*)::text FROM splits").await,
        "every replaced split is kept"
    );

    // A version made and replaced in one transaction was never visible: not kept.
    let dividends = text(&db.pool, "SELECT count(*)::text FROM dividends").await;
    exec(
        &db.pool,
        "BEGIN;
         UPDATE dividends SET amount = amount + 1;
         UPDATE dividends SET amount = amount + 1;
         DELETE FROM dividends WHERE symbol = 'MOCK0001';
         COMMIT;",
    )
    .await;
    assert_eq!(
        kept("dividends").await,
        dividends,
        "each dividend's version from before the transaction, once"
    );

    // TRUNCATE keeps what it removes.
    let splits = text(&db.pool, "SELECT count(*)::text FROM splits").await;
    let kept_splits: i64 = kept("splits").await.parse().unwrap();
    exec(&db.pool, "TRUNCATE splits").await;
    assert_eq!(
        kept("splits").await,
        (kept_splits + splits.parse::<i64>().unwrap()).to_string(),
        "TRUNCATE keeps every row it removes"
    );

    // Nobody but the owner writes the kept versions: not the loader, not a DBA.
    let dba = login_in_group(&db, "dba", "dba").await;
    for (who, pool) in [("etl_writer", db.loader_pool()), ("dba", dba)] {
        for sql in [
            "DELETE FROM weston_data.prices_daily_history",
            "UPDATE weston_data.splits_history SET numerator = 1",
            "INSERT INTO weston_data.dividends_history SELECT *, now() FROM weston_data.dividends LIMIT 1",
            "TRUNCATE weston_data.splits_history",
            "UPDATE weston_data.history_start SET started_at = '2000-01-01'",
        ] {
            let err = sqlx::raw_sql(sql).execute(&pool).await.expect_err(sql).to_string();
            assert!(err.contains("permission denied"), "{who}: {sql}: {err}");
        }
    }
    // The analyst reads them.
    let analyst = db.analyst_pool();
    text(
        &analyst,
        "SELECT count(*)::text FROM weston_data.splits_history",
    )
    .await;
}

#[tokio::test]
async fn a_moment_the_history_does_not_cover_is_refused() {
    let db = TestDb::migrated("known_refused").await;
    db.ensure_logins().await;
    let analyst = db.analyst_pool();
    let started = text(
        &analyst,
        "SELECT started_at::text FROM weston_data.history_start",
    )
    .await;
    for (call, expected) in [
        (
            format!("SELECT * FROM weston_adjusted_prices('MOCK0001', '2026-01-01', '2026-02-01', known_on => '{started}'::timestamptz - interval '1 second')"),
            "is before the history of changes began",
        ),
        (
            "SELECT * FROM weston_universe(NULL, now() + interval '1 day')".to_string(),
            "is in the future",
        ),
        (
            "SELECT weston_resolve_symbol('MOCK0001', '2026-01-02', 'infinity')".to_string(),
            "is no moment",
        ),
        (
            "SELECT * FROM weston_adjustment_factors('MOCK0001', known_on => '2000-01-01')".to_string(),
            "is before the history of changes began",
        ),
        (
            format!("SELECT * FROM weston_symbol_history('MOCK0001', NULL, '{started}'::timestamptz - interval '1 second')"),
            "is before the history of changes began",
        ),
    ] {
        let err = sqlx::query(&call).fetch_all(&analyst).await.expect_err(&call).to_string();
        assert!(err.contains(expected), "{call}: {err}");
    }
}

/// A change is known from its transaction's start: while a transaction that may write the
/// market data and began by known_on is open, a read as known then is refused rather than
/// answered before that transaction commits; afterwards the same read includes what it
/// wrote, and replays exactly. An analyst's open transaction holds nothing back.
#[tokio::test]
async fn a_moment_an_open_write_may_still_change_is_refused() {
    let db = TestDb::migrated("known_open_write").await;
    db.ensure_logins().await;
    nightly(&db).await;
    let analyst = db.analyst_pool();
    let loader = db.loader_pool();
    let read = |k: &str| {
        format!(
            "SELECT coalesce(array_agg(r::text)::text, 'no rows') FROM weston_adjusted_prices('MOCK0001', '{FROM}', '{TO}', known_on => '{k}'::timestamptz) r"
        )
    };
    let moment = |pool: &PgPool| {
        let pool = pool.clone();
        async move { text(&pool, "SELECT now()::text FROM pg_sleep(0.01)").await }
    };
    let before_write = moment(&analyst).await;
    let answer_before = text(&analyst, &read(&before_write)).await;

    // The loader's transaction, open across the next reads.
    let mut write = loader.begin().await.unwrap();
    sqlx::query(
        "UPDATE prices_daily SET volume = volume + 1
          WHERE symbol = 'MOCK0001' AND date = (SELECT max(date) FROM prices_daily WHERE symbol = 'MOCK0001')",
    )
    .execute(&mut *write)
    .await
    .unwrap();
    let during = moment(&analyst).await;
    for call in [
        read(&during),
        format!("SELECT * FROM weston_universe(NULL, '{during}')"),
        format!("SELECT * FROM weston_symbol_history('MOCK0001', NULL, '{during}')"),
        format!("SELECT * FROM weston_adjustment_factors('MOCK0001', known_on => '{during}')"),
        format!("SELECT weston_resolve_symbol('MOCK0001', '2026-04-01', '{during}')"),
    ] {
        let err = sqlx::query(&call)
            .fetch_all(&analyst)
            .await
            .expect_err(&call);
        let sqlstate = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.to_string());
        assert_eq!(sqlstate.as_deref(), Some("55000"), "{call}: {err}");
        assert!(
            err.to_string().contains("is not final yet"),
            "{call}: {err}"
        );
    }
    // A moment before it began is final: answered, as before.
    assert_eq!(text(&analyst, &read(&before_write)).await, answer_before);

    write.commit().await.unwrap();
    let answer_during = text(&analyst, &read(&during)).await;
    assert_ne!(
        answer_during, answer_before,
        "the write began by then, so it is known then"
    );
    assert_eq!(text(&analyst, &read(&during)).await, answer_during);

    // Readers' transactions hold nothing back; a superuser's, which may write, does.
    let mut reading = analyst.begin().await.unwrap();
    sqlx::query("SELECT 1")
        .execute(&mut *reading)
        .await
        .unwrap();
    let later = moment(&analyst).await;
    assert_eq!(text(&analyst, &read(&later)).await, answer_during);
    let mut superuser = db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1")
        .execute(&mut *superuser)
        .await
        .unwrap();
    let last = moment(&analyst).await;
    let err = sqlx::query(&read(&last))
        .fetch_all(&analyst)
        .await
        .expect_err("a superuser's open transaction");
    assert!(err.to_string().contains("is not final yet"), "{err}");
    superuser.rollback().await.unwrap();
    reading.rollback().await.unwrap();
    assert_eq!(text(&analyst, &read(&last)).await, answer_during);
}

#[tokio::test]
async fn a_finding_points_at_the_moment_of_the_rows_it_judged() {
    let db = TestDb::migrated("known_findings").await;
    db.ensure_logins().await;
    let loader = db.loader_pool();
    let run_id = text(
        &loader,
        "SELECT weston_etl_begin('known-findings', NULL, NULL)::text",
    )
    .await;
    let upsert = include_str!("../../weston-loader/sql/upsert_findings.sql");
    let finding = serde_json::json!([{"rule": "gap", "symbol": "MOCK0001", "date": "2026-03-02",
                                      "subject": "", "details": {"n": 1}}]);
    let judged = || async {
        let mut tx = loader.begin().await.unwrap();
        sqlx::query(upsert)
            .bind(run_id.parse::<i64>().unwrap())
            .bind(sqlx::types::Json(&finding))
            .fetch_all(&mut *tx)
            .await
            .expect("the loader's upsert of findings");
        let (judged_at, now): (String, String) = sqlx::query_as(
            "SELECT judged_at::text, now()::text FROM quality_findings WHERE symbol = 'MOCK0001'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (judged_at, now)
    };
    let (first, first_run) = judged().await;
    assert_eq!(first, first_run, "judged at the run's moment");
    let (again, again_run) = judged().await;
    assert_eq!(again, again_run, "seen again: judged again");
    assert_ne!(first, again);
    exec(
        &db.pool,
        "UPDATE quality_findings SET resolved_at = now(), resolution = 'false_positive', resolved_by = 'test'",
    )
    .await;
    let (resolved, _) = judged().await;
    assert_eq!(
        resolved, again,
        "a resolved finding keeps the moment it was resolved on"
    );
}

#[tokio::test]
async fn retention_retires_a_month_with_its_current_bars_and_keeps_their_earlier_versions() {
    let db = TestDb::migrated("known_retention").await;
    db.ensure_logins().await;
    nightly(&db).await;
    exec(
        &db.pool,
        "UPDATE prices_daily SET close = close * 1.01, high = high * 1.01, open = open * 1.01, low = low * 1.01
          WHERE symbol = 'MOCK0001' AND date = (SELECT min(date) FROM prices_daily WHERE symbol = 'MOCK0001')",
    )
    .await;
    let analyst = db.analyst_pool();
    let moment = text(&analyst, "SELECT now()::text").await;
    let read = format!(
        "SELECT count(*)::text FROM weston_adjusted_prices('MOCK0001', '{FROM}', '{TO}', known_on => '{moment}')"
    );
    assert_ne!(text(&analyst, &read).await, "0");

    exec(
        &db.pool,
        "UPDATE weston_partition_config SET retain_months = 3, retention = 'drop'
          WHERE parent = 'weston_data.prices_daily'::regclass;
         SELECT weston_rotate_partitions();",
    )
    .await;
    assert_eq!(
        text(
            &db.pool,
            &format!("SELECT count(*)::text FROM prices_daily WHERE date <= '{TO}'")
        )
        .await,
        "0",
        "the window's months are retired"
    );
    assert_eq!(
        text(
            &db.pool,
            "SELECT count(*)::text FROM weston_data.prices_daily_history"
        )
        .await,
        "1",
        "the retired bars' earlier versions stay; the retired bars are not kept"
    );
    assert_eq!(
        text(&analyst, &read).await,
        "0",
        "a retired month is gone for every known_on, as for today's read"
    );
}
