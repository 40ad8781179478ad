//! The read path's goals, each printed as one line: the adjusted read over its floor, the
//! same rows read raw, ordered by (symbol, date), times constant factors (a multiplication
//! per value, the least any exact adjustment does). Every row is fetched by the client, as
//! an analyst's read fetches them; interleaved rounds (each in the next order) after a
//! warm-up, medians.
//!
//! Two call forms: the symbols bound as an array (inlined into the caller's query), and the
//! symbols given as a sub-select (`array(SELECT symbol FROM weston_universe(...))`), which
//! PostgreSQL alone does not inline (the function's rows would be materialised first) and
//! pg_weston's support function does since 0.15.0 (`pg_weston/src/inline.rs`). Its floor
//! reads the same rows with the same sub-select.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection};

/// The floor: the raw rows times constants, in the order the function promises.
const FLOOR: &str =
    "SELECT symbol, date, open * 0.25, high * 0.25, low * 0.25, close * 0.25, volume * 4, 0.25, 4
  FROM weston_data.prices_daily WHERE symbol = ANY ($1::text[]) AND date BETWEEN $2 AND $3
 ORDER BY symbol, date";
const BOUND: &str = "SELECT * FROM weston.weston_adjusted_prices($1::text[], $2, $3, NULL, $4)";
/// `$1` is a LIKE pattern: the universe on the window's first day, of this benchmark's symbols.
const UNIVERSE: &str =
    "array(SELECT u.symbol FROM weston.weston_universe($2) u WHERE u.symbol LIKE $1)";
const ONE: &str = "SELECT * FROM weston.weston_adjusted_prices($1::text, $2, $3, NULL, $4)";
const FLOOR_ONE: &str =
    "SELECT symbol, date, open * 0.25, high * 0.25, low * 0.25, close * 0.25, volume * 4, 0.25, 4
  FROM weston_data.prices_daily WHERE symbol = $1::text AND date BETWEEN $2 AND $3
 ORDER BY date";

/// A dividend's factor is like this one (1 - amount/close, rounded to 20 places; here
/// 1 - 0.5/72.75): the floor's arithmetic with it in place of 0.25 is what exact total
/// return costs any read, printed beside each total-return goal.
const DIVIDEND_LIKE_FACTOR: &str = "0.99312714776632302405";

fn floor_sub() -> String {
    FLOOR.replace("$1::text[]", UNIVERSE)
}

fn sub() -> String {
    BOUND.replace("$1::text[]", UNIVERSE)
}

/// What `$1` is: the symbols' array, a LIKE pattern of them, or one symbol.
#[derive(Clone)]
pub enum Symbols {
    Array(Vec<String>),
    Pattern(String),
    One(String),
}

fn args(symbols: &Symbols, window: (&str, &str), total_return: Option<bool>) -> PgArguments {
    let mut a = PgArguments::default();
    match symbols {
        Symbols::Array(v) => a.add(v.clone()).unwrap(),
        Symbols::Pattern(s) | Symbols::One(s) => a.add(s.clone()).unwrap(),
    }
    a.add(window.0.parse::<chrono::NaiveDate>().unwrap())
        .unwrap();
    a.add(window.1.parse::<chrono::NaiveDate>().unwrap())
        .unwrap();
    if let Some(t) = total_return {
        a.add(t).unwrap();
    }
    a
}

/// Runs `sql`, fetching every row; its time and row count.
async fn timed(
    conn: &mut PgConnection,
    sql: &str,
    symbols: &Symbols,
    window: (&str, &str),
    total_return: bool,
) -> (Duration, usize) {
    let flag = sql.contains("$4").then_some(total_return);
    let start = Instant::now();
    let mut rows = sqlx::query_with(sql, args(symbols, window, flag)).fetch(&mut *conn);
    let mut n = 0;
    while rows
        .try_next()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .is_some()
    {
        n += 1;
    }
    (start.elapsed(), n)
}

/// The reads of a goal, by their index in `goal`'s arrays: the floor, the adjusted read,
/// and the floor times a 20-digit factor.
const FLOOR_READ: usize = 0;
const ADJUSTED_READ: usize = 1;
const LONG_FLOOR_READ: usize = 2;

/// The `round`-th of the orders of `0..n` (n of 2 or 3), lexicographically, cycling: over
/// n! rounds each read runs before and after each other read equally often.
fn order(round: usize, n: usize) -> Vec<usize> {
    let mut left: Vec<usize> = (0..n).collect();
    let count: usize = (1..=n).product();
    let mut rank = round % count;
    let mut out = Vec::with_capacity(n);
    for k in (0..n).rev() {
        let block: usize = (1..=k).product();
        out.push(left.remove(rank / block));
        rank %= block;
    }
    out
}

fn median(mut t: Vec<Duration>) -> f64 {
    t.sort();
    t[t.len() / 2].as_secs_f64() * 1e3
}

/// One goal: `pairs` of (floor, adjusted) read side by side, interleaved, `rounds` medians
/// after a warm-up; prints one line per pair and returns the ratios.
async fn goal(
    conn: &mut PgConnection,
    what: &str,
    window: (&str, &str),
    pairs: &[(&str, String, String, Symbols)],
    rounds: usize,
) -> Vec<f64> {
    let mut ratios = Vec::new();
    let long_floors: Vec<String> = pairs
        .iter()
        .map(|(_, floor, ..)| floor.replace("0.25", DIVIDEND_LIKE_FACTOR))
        .collect();
    for (total_return, label) in [(false, "split-only"), (true, "total return")] {
        // Per pair, by read (`FLOOR_READ`, ...): its times and its row count.
        let mut times = vec![[Vec::new(), Vec::new(), Vec::new()]; pairs.len()];
        let mut rows = vec![[0; 3]; pairs.len()];
        // Total return also reads the long floor.
        let reads = if total_return { 3 } else { 2 };
        for round in 0..=rounds {
            for (i, (_, floor, adjusted, symbols)) in pairs.iter().enumerate() {
                let sql = [floor.as_str(), adjusted.as_str(), long_floors[i].as_str()];
                // A read runs slower right after another that leaves the caches colder: each
                // round takes the next order, so no read always follows the same one.
                for read in order(round, reads) {
                    let (t, n) = timed(conn, sql[read], symbols, window, total_return).await;
                    rows[i][read] = n;
                    if round > 0 {
                        // The first round warms caches and plans; it is not counted.
                        times[i][read].push(t);
                    }
                }
            }
        }
        for (i, (form, ..)) in pairs.iter().enumerate() {
            assert_eq!(
                rows[i][FLOOR_READ], rows[i][ADJUSTED_READ],
                "{what} {form}: the same rows"
            );
            let (f, a) = (
                median(times[i][FLOOR_READ].clone()),
                median(times[i][ADJUSTED_READ].clone()),
            );
            let ratio = a / f;
            println!(
                "GOAL {what}, {label}, {form}: adjusted {a:.1} ms / floor {f:.1} ms = {ratio:.2} (goal <= 1.25; {} rows, median of {rounds})",
                rows[i][FLOOR_READ]
            );
            ratios.push(ratio);
            if total_return {
                let l = median(times[i][LONG_FLOOR_READ].clone());
                println!(
                    "  (against the floor times a 20-digit factor, as a dividend's is, {l:.1} ms: {:.2})",
                    a / l
                );
            }
            if i > 0 {
                // Against the first pair's floor too (the bound array's: the same rows).
                let f0 = median(times[0][FLOOR_READ].clone());
                println!(
                    "  (the same against the {} floor {f0:.1} ms: {:.2})",
                    pairs[0].0,
                    a / f0
                );
            }
        }
    }
    ratios
}

/// All `symbols` (a LIKE pattern over the universe on the window's first day, and the same
/// symbols bound) over `window`: both call forms.
pub async fn all_symbols(
    conn: &mut PgConnection,
    what: &str,
    pattern: &str,
    window: (&str, &str),
    rounds: usize,
) -> Vec<f64> {
    let symbols: Vec<String> = sqlx::query_scalar(&format!("SELECT unnest({UNIVERSE})"))
        .bind(pattern)
        .bind(window.0.parse::<chrono::NaiveDate>().unwrap())
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    // Custom plans, as a query typed once gets. Otherwise a statement run more than five
    // times may switch to its generic plan part-way, and rounds compare reads under
    // different plans: the floor, read in both the split-only and the total-return rounds,
    // did, and was a third slower in the total-return rounds than in the split-only ones.
    sqlx::raw_sql("SET plan_cache_mode = force_custom_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    let pairs = [
        (
            "bound array",
            FLOOR.to_string(),
            BOUND.to_string(),
            Symbols::Array(symbols),
        ),
        (
            "sub-select argument",
            floor_sub(),
            sub(),
            Symbols::Pattern(pattern.to_string()),
        ),
    ];
    let ratios = goal(conn, what, window, &pairs, rounds).await;
    sqlx::raw_sql("RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .unwrap();
    ratios
}

/// One symbol over `window` under a custom and a generic plan.
pub async fn one_symbol(
    conn: &mut PgConnection,
    what: &str,
    symbol: &str,
    window: (&str, &str),
    rounds: usize,
) -> Vec<f64> {
    let mut ratios = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::raw_sql(&format!("SET plan_cache_mode = {mode}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let pairs = [(
            mode,
            FLOOR_ONE.to_string(),
            ONE.to_string(),
            Symbols::One(symbol.to_string()),
        )];
        ratios.extend(goal(conn, what, window, &pairs, rounds).await);
    }
    sqlx::raw_sql("RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .unwrap();
    ratios
}
