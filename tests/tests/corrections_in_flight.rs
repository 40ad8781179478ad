//! A DBA's correction and a load in flight, as deployed: a `dba` login's transaction deletes
//! a split (or a dividend, or corrects a bar) and stays open; the real `weston-loader run`
//! (the `etl_writer` login) writing the same symbol must wait for it (shown by
//! `pg_blocking_pids`, `pg_stat_activity` and `pg_locks`); the deletion commits; the
//! loader's batch then goes on, and the correction stands: the split stays deleted, the
//! dividend too, the bar stays the DBA's. And the other order: a deletion made while a batch
//! is writing waits for the batch, then deletes what it wrote.

use std::time::{Duration, Instant};

use sqlx::Row;
use weston_tests::{loader_command, output_text, query_text as text, TestDb, LOADER};

/// The window both loads cover, fixed so the mock market holds the same events on any day.
const FROM: &str = "2026-03-02";
const TO: &str = "2026-08-31";
const SYMBOLS: &str = "MOCK0001,MOCK0002,MOCK0003,MOCK0004,MOCK0005,MOCK0006";

/// How the loader's session waited: its wait event and the lock it asked for.
#[derive(Debug)]
struct Wait {
    pid: i32,
    wait_event_type: String,
    wait_event: String,
    locktype: String,
}

/// Waits until the loader's session is blocked by the session `blocker` (at most 60 s),
/// failing with the loader's output when it finished without waiting.
async fn loader_blocked_by(
    db: &TestDb,
    mut loader: std::process::Child,
    blocker: i32,
) -> (std::process::Child, Wait) {
    let started = Instant::now();
    loop {
        let row = sqlx::query(
            "SELECT a.pid, a.wait_event_type, a.wait_event, l.locktype
               FROM pg_stat_activity a
               JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
              WHERE a.datname = current_database() AND a.usename = $1
                AND $2 = ANY (pg_blocking_pids(a.pid))",
        )
        .bind(LOADER.role)
        .bind(blocker)
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        if let Some(row) = row {
            let wait = Wait {
                pid: row.get(0),
                wait_event_type: row.get(1),
                wait_event: row.get(2),
                locktype: row.get(3),
            };
            return (loader, wait);
        }
        if loader.try_wait().unwrap().is_some() {
            let out = loader.wait_with_output().unwrap();
            panic!(
                "the loader finished without waiting for the DBA's transaction: {}",
                output_text(&out)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the loader never waited for the DBA's transaction"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the second load of the window as the loader's login.
fn start_load(db: &TestDb) -> std::process::Child {
    loader_command(
        db,
        &[
            "run",
            "--provider",
            "mock",
            "--from",
            FROM,
            "--to",
            TO,
            "--symbols",
            SYMBOLS,
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start weston-loader")
}

/// Loads the window, runs `correction` (formatted with the symbol and date picked by
/// `pick`) in a DBA's open transaction, starts the next load, checks that it waits,
/// commits, and returns what `check` reads once the load has finished.
async fn correction_during_a_load(tag: &str, pick: &str, correction: &str, check: &str) -> String {
    let db = TestDb::migrated(tag).await;
    let outcome = weston_tests::mock_run_in_process(&db, (FROM, TO), 6).await;
    assert!(outcome.stats.unserved.is_empty(), "{:?}", outcome.stats);
    let picked = text(&db.pool, pick).await;
    let (symbol, date) = picked.split_once(' ').expect("a symbol and a date");
    let correction = correction
        .replace("{symbol}", symbol)
        .replace("{date}", date);
    let check = check.replace("{symbol}", symbol).replace("{date}", date);

    let dba = db.dba_pool();
    let mut tx = dba.begin().await.unwrap();
    let dba_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(&correction)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{correction}: {e}"));

    let loader = start_load(&db);
    let (loader, wait) = loader_blocked_by(&db, loader, dba_pid).await;
    println!(
        "{tag}: the loader's session waited for the DBA's: {} {} (pg_locks: {} lock not granted)",
        wait.wait_event_type, wait.wait_event, wait.locktype
    );
    assert_eq!(wait.wait_event_type, "Lock", "{wait:?}");
    tx.commit().await.unwrap();
    let out = loader.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let after = text(&db.pool, &check).await;
    dba.close().await;
    after
}

/// The first stored event of `table` (`splits` or `dividends`, dated by `column`) deleted
/// (`weston_delete_<kind>`) while a load waits: its row and its tombstone after the load.
async fn deleted_during_a_load(table: &str, column: &str, kind: &str) -> String {
    correction_during_a_load(
        &format!("inflight_{kind}"),
        &format!("SELECT symbol || ' ' || {column} FROM {table} ORDER BY symbol, {column} LIMIT 1"),
        &format!("SELECT weston_delete_{kind}('{{symbol}}', '{{date}}', 'no such {kind}')"),
        &format!(
            "SELECT format('%s stored, %s tombstone',
                (SELECT count(*) FROM {table} WHERE symbol = '{{symbol}}' AND {column} = '{{date}}'),
                (SELECT count(*) FROM weston_corrections
                  WHERE action = 'delete_{kind}' AND symbol = '{{symbol}}' AND date = '{{date}}'))"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_deleted_while_a_load_waits_stays_deleted() {
    assert_eq!(
        deleted_during_a_load("splits", "date", "split").await,
        "0 stored, 1 tombstone",
        "the load in flight re-inserted the deleted split"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dividend_deleted_while_a_load_waits_stays_deleted() {
    assert_eq!(
        deleted_during_a_load("dividends", "ex_date", "dividend").await,
        "0 stored, 1 tombstone",
        "the load in flight re-inserted the deleted dividend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bar_corrected_while_a_load_waits_stays_corrected() {
    let after = correction_during_a_load(
        "inflight_bar",
        "SELECT 'MOCK0004 2026-06-15'",
        "SELECT weston_correct_bar('{symbol}', '{date}', 10, 12, 9, 11, 1500, 'close 100x')",
        "SELECT format('%s %s %s %s %s %s', open, high, low, close, volume, provider)
           FROM prices_daily WHERE symbol = '{symbol}' AND date = '{date}'",
    )
    .await;
    assert_eq!(
        after, "10 12 9 11 1500 manual",
        "the load in flight overwrote the corrected bar"
    );
}

/// The other order: the batch has read the tombstones and is writing (held up on a bar that
/// a superuser's session locks) when a DBA deletes a split of one of its symbols. The deletion
/// waits for the batch, then deletes what it wrote; the split stays deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_deleted_while_a_batch_writes_waits_for_it_and_stays_deleted() {
    let db = TestDb::migrated("inflight_batch_first").await;
    weston_tests::mock_run_in_process(&db, (FROM, TO), 6).await;
    let picked = text(
        &db.pool,
        "SELECT symbol || ' ' || date FROM splits ORDER BY symbol, date LIMIT 1",
    )
    .await;
    let (symbol, date) = picked.split_once(' ').unwrap();
    let mut holder = db.pool.begin().await.unwrap();
    let holder_pid: i32 = sqlx::query_scalar(
        "SELECT pg_backend_pid() FROM prices_daily
          WHERE symbol = 'MOCK0001' AND date = $1::date FOR UPDATE",
    )
    .bind(TO)
    .fetch_one(&mut *holder)
    .await
    .unwrap();
    let (loader, wait) = loader_blocked_by(&db, start_load(&db), holder_pid).await;

    let dba = db.dba_pool();
    let deletion = {
        let (dba, symbol, date) = (dba.clone(), symbol.to_owned(), date.to_owned());
        tokio::spawn(async move {
            sqlx::query("SELECT weston_delete_split($1, $2::date, 'no such split')")
                .bind(symbol)
                .bind(date)
                .execute(&dba)
                .await
        })
    };
    let started = Instant::now();
    loop {
        let waits: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity a
                             WHERE a.datname = current_database() AND a.usename = $1
                               AND $2 = ANY (pg_blocking_pids(a.pid)))",
        )
        .bind(weston_tests::DBA.role)
        .bind(wait.pid)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if waits {
            break;
        }
        assert!(
            !deletion.is_finished(),
            "the deletion did not wait for the batch in flight: {:?}",
            deletion.await
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the deletion never waited for the batch"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    holder.rollback().await.unwrap();
    let out = loader.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    deletion
        .await
        .unwrap()
        .expect("the deletion, once the batch committed");
    assert_eq!(
        text(
            &db.pool,
            &format!(
                "SELECT format('%s stored, %s tombstone',
                    (SELECT count(*) FROM splits WHERE symbol = '{symbol}' AND date = '{date}'),
                    (SELECT count(*) FROM weston_corrections WHERE action = 'delete_split'))"
            )
        )
        .await,
        "0 stored, 1 tombstone"
    );
    dba.close().await;
}
