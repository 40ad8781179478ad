//! The loader's commands that run as a superuser (`migrate` with its snapshot, `snapshot`
//! with its note, `verify`, `verify --against`, `scratch create|list|drop`), each run as one over a database where a
//! `dba` and an `app_rw` login planted hostile objects: casts from a row type and from a
//! column type, a trigger, look-alike functions, a view and an operator in `app`, pg_weston's
//! schema and `public`. Each planted function logs who ran it and tries to make its planter
//! a superuser. No planted code may run as a superuser, no planter may become one; the
//! matrix (command x planted object x runs as x result) is printed. A loader subcommand
//! without its row in `COMMANDS` fails `every_loader_command_has_its_row`. What a snapshot's
//! restore would run as a superuser (checks and generated columns calling planted functions)
//! makes `snapshot`, `snapshot check` and `migrate` refuse.
//!
//! The loader runs here as `postgres`, a superuser: these commands need one (the named
//! exception to running each program as its production role).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use weston_tests::{admin_url, clone_database, loader_bin, output_text, pg_config, TestDb};

/// Every loader command, and who runs it in production. Those run as a superuser are
/// probed by `every_privileged_command_runs_no_planted_code`.
const COMMANDS: &[(&str, &str)] = &[
    (
        "migrate",
        "a superuser: probed below, with its snapshot (pg_dump)",
    ),
    (
        "verify",
        "a superuser: probed below, alone (--save) and --against",
    ),
    ("scratch create", "a superuser: probed below"),
    ("scratch list", "a superuser: probed below"),
    ("scratch drop", "a superuser: probed below"),
    (
        "snapshot",
        "whoever runs the team's migrations (an app_rw member, a dba, a superuser): probed \
         below as a superuser, with its note (pg_dump, the Alembic revision)",
    ),
    (
        "snapshot list",
        "anyone: reads the snapshot directory only, connects to no database",
    ),
    (
        "snapshot check",
        "whoever takes snapshots, and weston-move (a superuser) before it plans and copies: \
         probed below as a superuser (catalog reads only)",
    ),
    ("run", "an etl_writer login: not privileged"),
    ("status", "an etl_writer login: not privileged"),
    ("audit", "an etl_writer login: not privileged"),
];

/// `weston-loader ARGS` as a superuser on `url`, blind to the caller's environment.
fn superuser_loader(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(loader_bin());
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env_remove("WESTON_VERIFY_AGAINST")
        .env_remove("PGPASSWORD")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run weston-loader")
}

/// The subcommands `weston-loader ARGS --help` lists ("scratch create", …), nested ones
/// expanded; a command whose own subcommand is optional (`[COMMAND]`) runs alone too.
fn subcommands(prefix: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = prefix.to_vec();
    args.push("--help");
    let out = std::process::Command::new(loader_bin())
        .args(&args)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some((_, listed)) = help.split_once("Commands:\n") else {
        return vec![prefix.join(" ")];
    };
    let mut found = Vec::new();
    if !prefix.is_empty() && help.contains("[COMMAND]") {
        found.push(prefix.join(" "));
    }
    for line in listed.lines().take_while(|l| !l.trim().is_empty()) {
        let name = line.split_whitespace().next().unwrap_or_default();
        if name == "help" {
            continue;
        }
        let mut nested = prefix.to_vec();
        nested.push(name);
        found.extend(subcommands(&nested));
    }
    found
}

#[test]
fn every_loader_command_has_its_row() {
    let listed: BTreeSet<String> = subcommands(&[]).into_iter().collect();
    let known: BTreeSet<String> = COMMANDS.iter().map(|(c, _)| (*c).to_string()).collect();
    assert!(listed.len() >= 6, "weston-loader --help listed {listed:?}");
    let missing: Vec<&String> = listed.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "weston-loader has commands without their row in COMMANDS (who runs them; a \
         superuser's is probed with planted code): {missing:?}"
    );
    let gone: Vec<&String> = known.difference(&listed).collect();
    assert!(
        gone.is_empty(),
        "COMMANDS names commands that no longer exist: {gone:?}"
    );
}

/// A login in `group`, connected to `db`.
struct Attacker {
    name: String,
    group: &'static str,
    pool: PgPool,
}

async fn attacker(db: &TestDb, group: &'static str) -> Attacker {
    let name = format!("{}_{group}_x", db.name);
    sqlx::query(&format!("CREATE ROLE {name} LOGIN IN ROLE {group}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let options: PgConnectOptions = admin_url().parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.database(&db.name).username(&name))
        .await
        .unwrap();
    Attacker { name, group, pool }
}

/// What an attacker plants: (object, SQL). `{s}`: a schema the attacker may create in,
/// `{w}`: pg_weston's schema, `{who}`: the attacker, `{tag}`: its group.
const PLANT_FUNCTION: &str = r#"
CREATE FUNCTION {s}.plant_{tag}(vector text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    escalated boolean := true;
    was_superuser boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user);
    record text := 'INSERT INTO public.planted_runs VALUES (%L, %L, %L, %L)';
BEGIN
    BEGIN
        EXECUTE 'ALTER ROLE {who} SUPERUSER';
    EXCEPTION WHEN OTHERS THEN escalated := false;
    END;
    BEGIN
        EXECUTE pg_catalog.format(record, vector, current_user, was_superuser, escalated);
    EXCEPTION WHEN read_only_sql_transaction THEN
        -- A read-only transaction stops neither a superuser's programs nor their sessions:
        -- escalate and record from one (COPY TO PROGRAM is a superuser's only).
        BEGIN
            EXECUTE pg_catalog.format('COPY (SELECT 1) TO PROGRAM %L', pg_catalog.format(
                '{psql} -X -q -h 127.0.0.1 -p %s -U postgres -d %s -c %s -c %s',
                pg_catalog.current_setting('port'), pg_catalog.current_database(),
                '''ALTER ROLE {who} SUPERUSER''',
                '''' || pg_catalog.replace(pg_catalog.format(record, vector, current_user, was_superuser, true),
                                           '''', '''"''"''') || ''''));
        EXCEPTION WHEN OTHERS THEN NULL;
        END;
    END;
    RETURN true;
END $$;
CREATE FUNCTION {s}.plant_trigger_{tag}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {s}.plant_{tag}(TG_ARGV[0]);
    RETURN coalesce(NEW, OLD);
END $$;"#;

const APP_RW_OBJECTS: &[(&str, &str)] = &[
    (
        "cast from app.accounts' row type to text",
        r"CREATE TYPE app.mood AS ENUM ('calm', 'angry');
          CREATE TABLE app.accounts (id int PRIMARY KEY, owner text, mood app.mood);
          INSERT INTO app.accounts VALUES (1, 'alice', 'calm'), (2, 'bob', 'angry');
          CREATE FUNCTION app.accounts_text(a app.accounts) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('cast from app.accounts'' row type to text'); RETURN 'planted'; END $$;
          CREATE CAST (app.accounts AS text) WITH FUNCTION app.accounts_text(app.accounts)",
    ),
    (
        "cast from column type app.mood to text and json",
        r"CREATE FUNCTION app.mood_text(m app.mood) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('cast from column type app.mood to text and json'); RETURN 'planted'; END $$;
          CREATE CAST (app.mood AS text) WITH FUNCTION app.mood_text(app.mood);
          CREATE FUNCTION app.mood_json(m app.mood) RETURNS json LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('cast from column type app.mood to text and json'); RETURN '1'; END $$;
          CREATE CAST (app.mood AS json) WITH FUNCTION app.mood_json(app.mood)",
    ),
    (
        "trigger on app.accounts",
        r"CREATE TRIGGER planted BEFORE INSERT OR UPDATE OR DELETE ON app.accounts
              FOR EACH ROW EXECUTE FUNCTION app.plant_trigger_{tag}('trigger on app.accounts')",
    ),
    (
        "look-alike view app.securities",
        r"CREATE VIEW app.securities AS SELECT s.* FROM {w}.securities s
           WHERE app.plant_{tag}('look-alike view app.securities')",
    ),
    (
        "look-alike function app.weston_adjusted_prices(text, ...)",
        r"CREATE FUNCTION app.weston_adjusted_prices(text, date, date, date DEFAULT NULL, boolean DEFAULT false)
          RETURNS TABLE(symbol text, date date, open numeric, high numeric, low numeric, close numeric,
                        volume numeric, price_factor numeric, volume_factor numeric)
          LANGUAGE plpgsql AS $$
          BEGIN
              PERFORM app.plant_{tag}('look-alike function app.weston_adjusted_prices(text, ...)');
              RETURN QUERY SELECT * FROM {w}.weston_adjusted_prices($1, $2, $3, $4, $5);
          END $$",
    ),
    (
        "look-alike functions app.md5(text), app.record_out(app.accounts)",
        r"CREATE FUNCTION app.md5(text) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('look-alike functions app.md5(text), app.record_out(app.accounts)'); RETURN pg_catalog.md5($1); END $$;
          CREATE FUNCTION app.record_out(app.accounts) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('look-alike functions app.md5(text), app.record_out(app.accounts)'); RETURN 'planted'; END $$",
    ),
    (
        "look-alike operator app.=(text, text)",
        r"CREATE FUNCTION app.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('look-alike operator app.=(text, text)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
          CREATE OPERATOR app.= (LEFTARG = text, RIGHTARG = text, FUNCTION = app.text_eq)",
    ),
    (
        "look-alike function public.md5(text)",
        r"CREATE FUNCTION public.md5(text) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM app.plant_{tag}('look-alike function public.md5(text)'); RETURN pg_catalog.md5($1); END $$",
    ),
    (
        "look-alike view app.alembic_version",
        r"CREATE VIEW app.alembic_version AS SELECT 'planted'::varchar(32) AS version_num
           WHERE app.plant_{tag}('look-alike view app.alembic_version')",
    ),
];

const DBA_OBJECTS: &[(&str, &str)] = &[
    (
        "cast from securities' row type to text",
        r"CREATE FUNCTION {s}.securities_text(x {w}.securities) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM {s}.plant_{tag}('cast from securities'' row type to text'); RETURN 'planted'; END $$;
          CREATE CAST ({w}.securities AS text) WITH FUNCTION {s}.securities_text({w}.securities)",
    ),
    (
        "cast from prices_daily_p2024_02's row type to text",
        r"CREATE FUNCTION {s}.month_text(x {w}.prices_daily_p2024_02) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM {s}.plant_{tag}('cast from prices_daily_p2024_02''s row type to text'); RETURN 'planted'; END $$;
          CREATE CAST ({w}.prices_daily_p2024_02 AS text) WITH FUNCTION {s}.month_text({w}.prices_daily_p2024_02)",
    ),
    (
        "trigger on splits",
        r"CREATE TRIGGER planted BEFORE INSERT OR UPDATE OR DELETE ON {w}.splits
              FOR EACH ROW EXECUTE FUNCTION {s}.plant_trigger_{tag}('trigger on splits')",
    ),
    (
        "look-alike function md5(text) in pg_weston's schema",
        r"CREATE FUNCTION {w}.md5(text) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM {s}.plant_{tag}('look-alike function md5(text) in pg_weston''s schema'); RETURN pg_catalog.md5($1); END $$",
    ),
    (
        "look-alike function public.md5(text)",
        r"CREATE FUNCTION public.md5(text) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN PERFORM {s}.plant_{tag}('look-alike function public.md5(text)'); RETURN pg_catalog.md5($1); END $$",
    ),
];

/// pg_weston's schema (tables and functions) in `db`.
async fn weston_schema(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = 'securities'::regclass",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A dba member's replacement of the function the adjusted prices call to follow a ticker
/// (`verify` compares adjusted prices, a scratch database re-creates them): (object, SQL).
/// It is the extension's own, in the extension's schema, so the replacement must be refused.
async fn ticker_pieces_replacement(pool: &PgPool) -> (String, String) {
    let (schema, arguments, extension_owned): (String, String, bool) = sqlx::query_as(
        "SELECT n.nspname::text, pg_get_function_identity_arguments(p.oid),
                EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                           AND d.objid = p.oid AND d.deptype = 'e')
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE p.proname = 'weston_ticker_pieces'
            AND p.pronamespace = (SELECT extnamespace FROM pg_extension WHERE extname = 'pg_weston')
          ORDER BY p.pronargs DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(
        extension_owned,
        "weston_ticker_pieces is not the extension's own: a dba member could replace it"
    );
    let object =
        format!("replacement of {schema}.weston_ticker_pieces, which the adjusted prices call");
    let sql = format!(
        r"CREATE OR REPLACE FUNCTION {schema}.weston_ticker_pieces({arguments})
          RETURNS TABLE(symbol text, traded text, valid_from date, valid_to date) LANGUAGE plpgsql AS $$
          BEGIN
              PERFORM {schema}.plant_dba('{object}');
              RETURN QUERY SELECT q, q, '-infinity'::date, 'infinity'::date FROM unnest(symbols) q;
          END $$"
    );
    (object, sql)
}

/// Plants the attacker's objects; returns (object, "planted" or why it was refused).
async fn plant(db: &TestDb, who: &Attacker) -> Vec<(String, String)> {
    let w = weston_schema(&db.pool).await;
    let (schema, objects) = match who.group {
        "app_rw" => ("app".to_string(), APP_RW_OBJECTS),
        _ => (w.clone(), DBA_OBJECTS),
    };
    let fill = |sql: &str| {
        sql.replace("{s}", &schema)
            .replace("{w}", &w)
            .replace("{who}", &who.name)
            .replace("{tag}", who.group)
            .replace("{psql}", &format!("{}/psql", pg_config("bindir")))
    };
    let attempt = |sql: String| async move {
        match sqlx::raw_sql(&sql).execute(&who.pool).await {
            Ok(_) => "planted".to_string(),
            Err(e) => format!("refused: {e}"),
        }
    };
    // Needs no planted function to be tried: its own schema's rights decide.
    let replacement = if who.group == "dba" {
        Some(ticker_pieces_replacement(&db.pool).await)
    } else {
        None
    };
    let mut planted = Vec::new();
    if let Err(e) = sqlx::raw_sql(&fill(PLANT_FUNCTION))
        .execute(&who.pool)
        .await
    {
        // Nowhere to put code: nothing that calls the plant can be planted.
        for (object, _) in objects {
            planted.push((object.to_string(), format!("refused: {e}")));
        }
    } else {
        for (object, sql) in objects {
            planted.push((object.to_string(), attempt(fill(sql)).await));
        }
    }
    if let Some((object, sql)) = replacement {
        planted.push((object, attempt(sql).await));
    }
    planted
}

/// The probe can fail: a plant function called by a superuser in a read-only transaction
/// (as `verify` reads) still escalates its planter and is recorded.
async fn probe_works(db: &TestDb, who: &Attacker, schema: &str) {
    sqlx::raw_sql(&format!(
        "BEGIN READ ONLY; SELECT {schema}.plant_{}('probe self-check'); COMMIT",
        who.group
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(
        escalated(&db.pool, &who.name).await,
        "the probe did not escalate {}",
        who.name
    );
    let ran = runs(&db.pool).await;
    assert_eq!(
        ran,
        [("probe self-check".to_string(), "postgres".to_string(), true)],
        "the probe did not record itself"
    );
}

/// Planted code that ran since the last call (object, ran as, as a superuser), cleared.
async fn runs(pool: &PgPool) -> Vec<(String, String, bool)> {
    sqlx::query_as(
        "WITH gone AS (DELETE FROM public.planted_runs RETURNING *)
         SELECT DISTINCT vector, ran_as, was_superuser OR escalated FROM gone ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Whether `role` is a superuser now (then made none again, so the next step starts clean).
async fn escalated(pool: &PgPool, role: &str) -> bool {
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = $1")
        .bind(role)
        .fetch_one(pool)
        .await
        .unwrap();
    if superuser {
        sqlx::query(&format!("ALTER ROLE {role} NOSUPERUSER"))
            .execute(pool)
            .await
            .unwrap();
    }
    superuser
}

async fn connect(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// A migrated database with a little market, the probe's log, and every object the given
/// groups' logins could plant; returns the attackers and what each planted.
async fn planted_db(
    tag: &str,
    groups: &[&'static str],
) -> (TestDb, Vec<(Attacker, Vec<(String, String)>)>) {
    let db = TestDb::migrated(tag).await;
    weston_tests::seed_small_market(&db.pool).await;
    sqlx::raw_sql(
        "CREATE TABLE public.planted_runs (vector text, ran_as text, was_superuser boolean, escalated boolean);
         GRANT INSERT ON public.planted_runs TO PUBLIC;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut attackers = Vec::new();
    for group in groups {
        let who = attacker(&db, group).await;
        let planted = plant(&db, &who).await;
        if planted.iter().any(|(_, outcome)| outcome == "planted") {
            let schema = if who.group == "app_rw" {
                "app".to_string()
            } else {
                weston_schema(&db.pool).await
            };
            probe_works(&db, &who, &schema).await;
        }
        attackers.push((who, planted));
    }
    assert!(
        runs(&db.pool).await.is_empty(),
        "planting ran planted code already"
    );
    (db, attackers)
}

/// One command of the matrix: what it printed, the planted code that ran, and its verdict.
struct Step {
    command: String,
    outcome: Result<(), String>,
    ran: Vec<(String, String, bool)>,
    escalated: Vec<String>,
}

/// `weston-loader ARGS` on `url` as a superuser, then what the planted code did (in the
/// databases `watched`), and whether an attacker became a superuser.
async fn step(
    command: &str,
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
    expect: impl Fn(&Output) -> Result<(), String>,
    watched: &[&PgPool],
    attackers: &[String],
) -> Step {
    let out = superuser_loader(url, args, env);
    let outcome = expect(&out).map_err(|why| format!("{why}\n{}", output_text(&out)));
    let mut ran = Vec::new();
    for pool in watched {
        ran.extend(runs(pool).await);
    }
    let mut became = Vec::new();
    for who in attackers {
        if escalated(watched[0], who).await {
            became.push(who.clone());
        }
    }
    Step {
        command: command.to_string(),
        outcome,
        ran,
        escalated: became,
    }
}

fn exit_code(expected: i32) -> impl Fn(&Output) -> Result<(), String> {
    move |out: &Output| {
        if out.status.code() == Some(expected) {
            Ok(())
        } else {
            Err(format!("expected exit {expected}"))
        }
    }
}

fn stdout_has(expected: i32, text: &'static str) -> impl Fn(&Output) -> Result<(), String> {
    move |out: &Output| {
        exit_code(expected)(out)?;
        if String::from_utf8_lossy(&out.stdout).contains(text) {
            Ok(())
        } else {
            Err(format!("expected {text:?} in the output"))
        }
    }
}

/// An app_rw member's table in `app`, a cast from its row type to text
/// (and from a column type), a trigger and look-alikes (a view `app.securities`, a function
/// `app.weston_adjusted_prices`, `md5`, `=`), each trying `ALTER ROLE … SUPERUSER`: `verify`
/// and `verify --against`, as a superuser, run none of them, and still see the changed row
/// of the app's table.
#[tokio::test]
async fn verify_runs_no_code_an_app_rw_member_planted() {
    let (db, attackers) = planted_db("priv_verify", &["app_rw"]).await;
    for (object, outcome) in &attackers[0].1 {
        if object != "look-alike function public.md5(text)" {
            assert_eq!(outcome, "planted", "{object}");
        }
    }
    let who = attackers[0].0.name.clone();
    attackers[0].0.pool.close().await;
    let steps = verify_steps(db, &[who]).await;
    let mut failures = Vec::new();
    for s in &steps {
        if let Err(e) = &s.outcome {
            failures.push(format!("{}: {e}", s.command));
        }
        if !s.ran.is_empty() || !s.escalated.is_empty() {
            failures.push(format!(
                "{}: planted code ran {:?}; attackers now superusers: {:?}",
                s.command, s.ran, s.escalated
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Ends the sessions still connected to database `name` (a closed pool's end a moment
/// after, or not at all when a connection is still being handed back), so it can be copied.
async fn idle(name: &str) {
    let admin = connect(&admin_url()).await;
    for _ in 0..20 {
        let sessions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(name)
                .fetch_one(&admin)
                .await
                .unwrap();
        if sessions == 0 {
            break;
        }
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&admin)
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    admin.close().await;
}

/// Exit 1, and the changed row of `app.accounts` the one difference.
fn only_the_app_row_differs(out: &Output) -> Result<(), String> {
    exit_code(1)(out)?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Roles are the cluster's: tests running meanwhile add and drop some.
    let differences: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("  role "))
        .collect();
    if differences.len() == 1 && differences[0].contains("table app.accounts: checksum is") {
        Ok(())
    } else {
        Err("expected one difference: the checksum of app.accounts".into())
    }
}

/// `verify --save`, `verify --against` and `verify --against-saved` a copy whose app table has a changed row, both
/// planted; consumes `db` (its pool is closed to copy it).
async fn verify_steps(db: TestDb, attackers: &[String]) -> Vec<Step> {
    let TestDb { name, url, pool } = db;
    pool.close().await;
    idle(&name).await;
    let copy_url = clone_database(&name, &format!("{name}_copy")).await;
    let (here, there) = (connect(&url).await, connect(&copy_url).await);
    // Not through the planted trigger: it is the test's own change.
    sqlx::raw_sql(
        "SET session_replication_role = replica; UPDATE app.accounts SET owner = 'mallory' WHERE id = 2",
    )
    .execute(&there)
    .await
    .unwrap();
    let saved = std::env::temp_dir().join(format!("{name}.fingerprint.json"));
    let saved_arg = saved.to_string_lossy().into_owned();
    let mut steps = vec![
        step(
            "verify --save",
            &url,
            &["verify", "--save", &saved_arg],
            &[],
            exit_code(0),
            &[&here],
            attackers,
        )
        .await,
    ];
    steps.push(
        step(
            "verify --against",
            &url,
            &["verify", "--against", &copy_url],
            &[],
            only_the_app_row_differs,
            &[&here, &there],
            attackers,
        )
        .await,
    );
    steps.push(
        step(
            "verify --against-saved",
            &copy_url,
            &["verify", "--against-saved", &saved_arg],
            &[],
            only_the_app_row_differs,
            &[&there],
            attackers,
        )
        .await,
    );
    let _ = std::fs::remove_file(saved);
    here.close().await;
    there.close().await;
    steps
}

/// Every command that runs as a superuser, over a database where a dba and an app_rw
/// login planted everything they could; prints the matrix.
#[tokio::test]
async fn every_privileged_command_runs_no_planted_code() {
    let (db, attackers) = planted_db("priv_matrix", &["app_rw", "dba"]).await;
    let replacement: Vec<&String> = attackers
        .iter()
        .flat_map(|(_, planted)| planted)
        .filter(|(object, _)| object.starts_with("replacement of"))
        .map(|(_, outcome)| outcome)
        .collect();
    assert!(
        replacement.len() == 1 && replacement[0].starts_with("refused"),
        "a dba member replaced the extension's ticker pieces: {replacement:?}"
    );
    let names: Vec<String> = attackers.iter().map(|(a, _)| a.name.clone()).collect();
    let developer = format!("{}_dev", db.name);
    sqlx::query(&format!("CREATE ROLE {developer} LOGIN IN ROLE app_ro"))
        .execute(&db.pool)
        .await
        .unwrap();
    let url = db.url.clone();
    let name = db.name.clone();
    let mut steps = Vec::new();

    // migrate: one pending migration (re-runnable), so the snapshot (pg_dump) is taken.
    let dir = std::env::temp_dir().join(format!("{name}-snapshots"));
    let _ = std::fs::remove_dir_all(&dir);
    sqlx::query("DELETE FROM weston_data._sqlx_migrations WHERE version = 8")
        .execute(&db.pool)
        .await
        .unwrap();
    let dir_text = dir.to_string_lossy().into_owned();
    let bindir = pg_config("bindir");
    steps.push(
        step(
            "migrate (snapshot, then migration 8)",
            &url,
            &["migrate"],
            &[
                ("WESTON_SNAPSHOT_DIR", &dir_text),
                ("WESTON_PG_BINDIR", &bindir),
            ],
            stdout_has(0, "migrate: snapshot before applying [8]"),
            &[&db.pool],
            &names,
        )
        .await,
    );

    // snapshot with its note (reads app.alembic_version), and snapshot list.
    let note = dir.join("rollback-note.md").to_string_lossy().into_owned();
    let snapshot_env = [
        ("WESTON_SNAPSHOT_DIR", dir_text.as_str()),
        ("WESTON_PG_BINDIR", bindir.as_str()),
    ];
    steps.push(
        step(
            "snapshot --note",
            &url,
            &["snapshot", "--note", &note],
            &snapshot_env,
            stdout_has(0, "snapshot: rollback note written to"),
            &[&db.pool],
            &names,
        )
        .await,
    );
    steps.push(
        step(
            "snapshot list",
            &url,
            &["snapshot", "list"],
            &snapshot_env,
            stdout_has(0, "snapshots of database"),
            &[&db.pool],
            &names,
        )
        .await,
    );
    steps.push(
        step(
            "snapshot check",
            &url,
            &["snapshot", "check"],
            &snapshot_env,
            stdout_has(0, "snapshot check: a superuser may restore"),
            &[&db.pool],
            &names,
        )
        .await,
    );
    let _ = std::fs::remove_dir_all(&dir);

    // scratch create | list | drop, the developer's database reading the shared one.
    let scratch = format!("s{}", name.trim_start_matches("t_"));
    steps.push(
        step(
            "scratch create",
            &url,
            &["scratch", "create", &scratch, "--owner", &developer],
            &[],
            exit_code(0),
            &[&db.pool],
            &names,
        )
        .await,
    );
    steps.push(
        step(
            "scratch list",
            &url,
            &["scratch", "list"],
            &[],
            stdout_has(0, "weston_scratch_"),
            &[&db.pool],
            &names,
        )
        .await,
    );
    steps.push(
        step(
            "scratch drop",
            &url,
            &["scratch", "drop", &scratch],
            &[],
            exit_code(0),
            &[&db.pool],
            &names,
        )
        .await,
    );
    sqlx::query(&format!("DROP ROLE {developer}"))
        .execute(&db.pool)
        .await
        .unwrap();
    for (who, _) in &attackers {
        who.pool.close().await;
    }
    steps.extend(verify_steps(db, &names).await);

    let mut matrix = Vec::new();
    let mut failures = Vec::new();
    for (command, runs_as) in COMMANDS {
        matrix.push(format!("{command} | runs as {runs_as}"));
    }
    for s in &steps {
        for (who, planted) in &attackers {
            for (object, outcome) in planted {
                let ran: Vec<String> = s
                    .ran
                    .iter()
                    .filter(|(v, _, _)| v == object)
                    .map(|(_, ran_as, su)| {
                        format!("RAN as {ran_as}{}", if *su { " (SUPERUSER)" } else { "" })
                    })
                    .collect();
                let result = if outcome != "planted" {
                    "could not be planted".to_string()
                } else if ran.is_empty() {
                    "did not run".to_string()
                } else {
                    ran.join(", ")
                };
                matrix.push(format!(
                    "{} | {object} (by the {} login) | postgres (superuser) | {result}",
                    s.command, who.group
                ));
            }
        }
        matrix.push(format!(
            "{} | - | postgres (superuser) | {}; attackers superuser afterwards: {:?}",
            s.command,
            match &s.outcome {
                Ok(()) => "succeeded as expected".to_string(),
                Err(e) => format!("FAILED: {e}"),
            },
            s.escalated
        ));
        if let Err(e) = &s.outcome {
            failures.push(format!("{}: {e}", s.command));
        }
        if s.ran.iter().any(|(_, _, su)| *su) || !s.escalated.is_empty() {
            failures.push(format!(
                "{}: planted code ran as a superuser: {:?}, escalated: {:?}",
                s.command, s.ran, s.escalated
            ));
        }
    }
    for (who, planted) in &attackers {
        for (object, outcome) in planted {
            matrix.push(format!(
                "planting | {object} | {} login | {outcome}",
                who.group
            ));
        }
    }
    eprintln!(
        "command x planted object x runs as x result:\n{}",
        matrix.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let admin = connect(&admin_url()).await;
    for who in &names {
        let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {who}"))
            .execute(&admin)
            .await;
    }
    admin.close().await;
}

/// What an app_rw login can make a superuser's restore run: functions that a table's check,
/// a domain's check, a generated column and an operator in a check call. The dump runs them
/// as the restoring superuser (shown below on a plain pg_dump, restored into another
/// database), so `snapshot`, `snapshot check` and `migrate` refuse (exit 2), naming each, and
/// dump and migrate nothing; `snapshot check` as the planter's own app_rw login too. With those dropped, the snapshot is taken, and its printed
/// rollback restores a database that still holds every other plant (casts, a trigger,
/// views, look-alikes) and runs none of them.
#[tokio::test]
async fn a_snapshot_whose_restore_would_run_planted_code_is_refused() {
    let (db, attackers) = planted_db("priv_restore", &["app_rw"]).await;
    let who = &attackers[0].0;
    let names = vec![who.name.clone()];
    let restore_time = [
        "CREATE TABLE app.checked (x int CHECK (app.plant_app_rw('check of app.checked')));
         INSERT INTO app.checked VALUES (1)",
        "CREATE DOMAIN app.checked_amount AS int CHECK (app.plant_app_rw('check of domain app.checked_amount'));
         CREATE TABLE app.amounts (a app.checked_amount);
         INSERT INTO app.amounts VALUES (2)",
        "CREATE FUNCTION app.planted_twice(x int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
         BEGIN PERFORM app.plant_app_rw('generated column of app.generated'); RETURN 2 * x; END $$;
         CREATE TABLE app.generated (x int, y int GENERATED ALWAYS AS (app.planted_twice(x)) STORED);
         INSERT INTO app.generated VALUES (3)",
        "CREATE TABLE app.compared (t text CHECK (t OPERATOR(app.=) t));
         INSERT INTO app.compared VALUES ('x')",
    ];
    for sql in restore_time {
        sqlx::raw_sql(sql).execute(&who.pool).await.unwrap();
    }
    let planting = runs(&db.pool).await;
    assert!(
        planting
            .iter()
            .all(|(_, ran_as, su)| ran_as == &who.name && !su),
        "{planting:?}"
    );

    let dir = std::env::temp_dir().join(format!("{}-snapshots", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.to_string_lossy().into_owned();
    let bindir = pg_config("bindir");
    let env = [
        ("WESTON_SNAPSHOT_DIR", dir_text.as_str()),
        ("WESTON_PG_BINDIR", bindir.as_str()),
    ];
    let owner = &who.name;
    let named = [
        format!("the check checked_check of app.checked calls app.plant_app_rw(text), owned by {owner}"),
        format!("the check checked_amount_check of domain app.checked_amount calls app.plant_app_rw(text), owned by {owner}"),
        format!("the generated column y of app.generated calls app.planted_twice(integer), owned by {owner}"),
        format!("the check compared_t_check of app.compared calls app.text_eq(text,text), owned by {owner}"),
    ];
    sqlx::query("DELETE FROM weston_data._sqlx_migrations WHERE version = 8")
        .execute(&db.pool)
        .await
        .unwrap();
    for args in [
        &["snapshot"][..],
        &["snapshot", "check"][..],
        &["migrate"][..],
    ] {
        let refused = step(
            &args.join(" "),
            &db.url,
            args,
            &env,
            |out: &Output| {
                exit_code(2)(out)?;
                let stderr = String::from_utf8_lossy(&out.stderr);
                match named.iter().find(|n| !stderr.contains(n.as_str())) {
                    None => Ok(()),
                    Some(missing) => Err(format!("expected {missing:?} in the error")),
                }
            },
            &[&db.pool],
            &names,
        )
        .await;
        assert_eq!(refused.outcome, Ok(()), "{}", refused.command);
        assert_eq!(
            refused.ran,
            Vec::<(String, String, bool)>::new(),
            "{}",
            refused.command
        );
        assert_eq!(
            refused.escalated,
            Vec::<String>::new(),
            "{}",
            refused.command
        );
        assert!(
            weston_tests::snapshot_files(&dir).is_empty(),
            "{} dumped",
            refused.command
        );
    }
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM weston_data._sqlx_migrations WHERE version = 8")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(pending, 0, "migrated despite the refused snapshot");
    // As the team's Alembic runs it: an app_rw member's own login (the planter's) is refused
    // alike, from the catalog every role reads.
    let options: PgConnectOptions = db.url.parse().unwrap();
    let member_url = sqlx::ConnectOptions::to_url_lossy(&options.username(&who.name)).to_string();
    let member = weston_tests::loader_command_as(&member_url, &["snapshot", "check"])
        .output()
        .unwrap();
    assert_eq!(member.status.code(), Some(2), "{}", output_text(&member));
    assert!(
        named
            .iter()
            .all(|n| String::from_utf8_lossy(&member.stderr).contains(n.as_str())),
        "{}",
        output_text(&member)
    );

    // Why: a plain dump of this database, restored by a superuser, runs the planted check
    // as that superuser.
    let admin = connect(&admin_url()).await;
    let unchecked = TestDb::empty("priv_restore_plain").await;
    weston_tests::dump_and_restore(&db, &unchecked);
    let ran = runs(&unchecked.pool).await;
    assert!(
        ran.contains(&(
            "check of app.checked".to_string(),
            "postgres".to_string(),
            true
        )),
        "the plain restore did not run the planted check as postgres: {ran:?}"
    );
    assert!(
        escalated(&admin, owner).await,
        "the plain restore did not escalate {owner}"
    );
    unchecked.pool.close().await;
    sqlx::raw_sql(&format!("DROP DATABASE {} WITH (FORCE)", unchecked.name))
        .execute(&admin)
        .await
        .unwrap();

    // Without them: the snapshot, and its rollback as printed runs nothing planted.
    sqlx::raw_sql(
        "DROP TABLE app.checked, app.amounts, app.generated, app.compared;
         DROP DOMAIN app.checked_amount; DROP FUNCTION app.planted_twice(int)",
    )
    .execute(&who.pool)
    .await
    .unwrap();
    let checked = superuser_loader(&db.url, &["snapshot", "check"], &env);
    assert_eq!(checked.status.code(), Some(0), "{}", output_text(&checked));
    let taken = superuser_loader(&db.url, &["snapshot"], &env);
    assert_eq!(taken.status.code(), Some(0), "{}", output_text(&taken));
    let rollback = String::from_utf8_lossy(&taken.stdout)
        .lines()
        .find_map(|l| {
            l.split_once("every session of the database is ended): ")
                .map(|(_, c)| c.to_string())
        })
        .unwrap_or_else(|| panic!("no rollback command: {}", output_text(&taken)));
    who.pool.close().await;
    db.pool.close().await;
    let out = std::process::Command::new("bash")
        .args(["-c", &rollback])
        .output()
        .unwrap();
    assert!(out.status.success(), "{rollback}: {}", output_text(&out));
    let back = connect(&db.url).await;
    assert_eq!(
        runs(&back).await,
        Vec::<(String, String, bool)>::new(),
        "the rollback ran planted code"
    );
    assert!(
        !escalated(&admin, owner).await,
        "the rollback escalated {owner}"
    );
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM app.accounts")
        .fetch_one(&back)
        .await
        .unwrap();
    assert_eq!(accounts, 2, "the planted table came back with its rows");
    back.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
    for sql in [
        format!("DROP DATABASE {} WITH (FORCE)", db.name),
        format!("DROP ROLE {owner}"),
    ] {
        sqlx::raw_sql(&sql).execute(&admin).await.unwrap();
    }
    admin.close().await;
}

/// A password given as `?password=` (libpq and sqlx take it) never shows: not in any
/// command's output (migrate's rollback command, scratch's owner URL, errors) nor in
/// pg_dump's argv, which `ps` shows; pg_dump gets it in PGPASSWORD.
#[tokio::test]
async fn a_password_parameter_is_never_printed_nor_in_argv() {
    const SECRET: &str = "Zq7-not-printed";
    let db = TestDb::migrated("priv_password").await;
    let with_password = |url: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}password={SECRET}")
    };
    let url = with_password(&db.url);
    // pg_dump records its argv and environment, then is the real one.
    let bindir = std::env::temp_dir().join(format!("{}-bin", db.name));
    let _ = std::fs::remove_dir_all(&bindir);
    std::fs::create_dir_all(&bindir).unwrap();
    let real = pg_config("bindir");
    let calls = bindir.join("pg_dump.calls");
    let fake = format!(
        "#!/bin/sh\n{{ for a in \"$@\"; do printf 'argv %s\\n' \"$a\"; done; \
         printf 'env PGPASSWORD=%s\\n' \"$PGPASSWORD\"; \
         printf 'env PGCONNECT_TIMEOUT=%s\\n' \"$PGCONNECT_TIMEOUT\"; }} >> {}\nexec {real}/pg_dump \"$@\"\n",
        calls.display()
    );
    std::fs::write(bindir.join("pg_dump"), fake).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            bindir.join("pg_dump"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
    }
    for program in ["psql", "pg_restore"] {
        std::os::unix::fs::symlink(Path::new(&real).join(program), bindir.join(program)).unwrap();
    }
    let snapshots = bindir.join("snapshots");
    sqlx::query("DELETE FROM weston_data._sqlx_migrations WHERE version = 8")
        .execute(&db.pool)
        .await
        .unwrap();
    let developer = format!("{}_dev", db.name);
    sqlx::query(&format!("CREATE ROLE {developer} LOGIN IN ROLE app_ro"))
        .execute(&db.pool)
        .await
        .unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("postgres://postgres@127.0.0.1:{closed_port}/weston?password={SECRET}");
    let nowhere_userinfo = format!("postgres://postgres:{SECRET}@127.0.0.1:{closed_port}/weston");
    let scratch = format!("s{}", db.name.trim_start_matches("t_"));
    let env = [
        ("WESTON_PG_BINDIR", bindir.to_str().unwrap()),
        ("WESTON_SNAPSHOT_DIR", snapshots.to_str().unwrap()),
    ];
    let outputs: Vec<(&str, Output)> = vec![
        ("migrate", superuser_loader(&url, &["migrate"], &env)),
        (
            "scratch create",
            superuser_loader(
                &url,
                &["scratch", "create", &scratch, "--owner", &developer],
                &[],
            ),
        ),
        (
            "scratch list",
            superuser_loader(&url, &["scratch", "list"], &[]),
        ),
        (
            "scratch drop",
            superuser_loader(&url, &["scratch", "drop", &scratch], &[]),
        ),
        (
            "verify --against itself",
            superuser_loader(&url, &["verify", "--against", &url], &[]),
        ),
        (
            "verify --against a closed port",
            superuser_loader(&url, &["verify", "--against", &nowhere], &[]),
        ),
        (
            "status on a closed port",
            superuser_loader(&nowhere, &["status"], &[]),
        ),
        (
            "status on a closed port (user information)",
            superuser_loader(&nowhere_userinfo, &["status"], &[]),
        ),
        (
            "a URL that does not parse",
            superuser_loader(&format!("postgres://u:{SECRET}@[x/"), &["status"], &[]),
        ),
    ];
    // verify: 0, or 1 when a test running meanwhile changed the cluster's roles.
    let expected: [&[i32]; 9] = [&[0], &[0], &[0], &[0], &[0, 1], &[2], &[2], &[2], &[2]];
    for ((what, out), codes) in outputs.iter().zip(expected) {
        let text = output_text(out);
        assert!(
            out.status.code().is_some_and(|c| codes.contains(&c)),
            "{what}: {text}"
        );
        assert!(
            !text.contains(SECRET),
            "{what} printed the password: {text}"
        );
    }
    let recorded = std::fs::read_to_string(&calls).expect("pg_dump was called");
    let argv: Vec<&str> = recorded
        .lines()
        .filter(|l| l.starts_with("argv "))
        .collect();
    assert!(argv.iter().any(|a| a.contains("--dbname")), "{recorded}");
    assert!(
        argv.iter().all(|a| !a.contains(SECRET)),
        "pg_dump's argv holds the password: {recorded}"
    );
    assert!(
        recorded.contains(&format!("env PGPASSWORD={SECRET}\n")),
        "{recorded}"
    );
    assert!(
        recorded.contains("env PGCONNECT_TIMEOUT=10\n"),
        "{recorded}"
    );
    let owner_url = String::from_utf8_lossy(&outputs[1].1.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        owner_url.starts_with(&format!("postgres://{developer}@")),
        "{owner_url}"
    );
    sqlx::query(&format!("DROP ROLE {developer}"))
        .execute(&db.pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(&bindir).unwrap();
}
