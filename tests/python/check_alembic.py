"""Real Alembic next to pg_weston, driven by tests/tests/python_clients.rs.

    check_alembic.py URL WORKDIR HOOK_DIR

URL: a SQLAlchemy URL (postgresql+psycopg://...) of a migrated database, as a login of the
application's role app_rw. In WORKDIR, an `alembic init` project with the application's model:

A. env.py as `alembic init` wrote it (only target_metadata set, as every project does), on a
   connection whose search_path is the application's schema (`options=-csearch_path=app` in
   the URL): autogenerate proposes the application's table and nothing else; after
   `upgrade head`, `alembic check` finds nothing.
A2. The same env.py on a session with the database's default search_path (which ends in
   weston): SQLAlchemy reflects every visible table as the default schema's, and weston holds
   only views of pg_weston's tables (which autogenerate does not reflect), the tables being in
   weston_data, off the path: `alembic check` finds nothing there either.
B. include_schemas=True without a filter: `alembic check` reports pg_weston's tables (in
   weston_data: every schema is compared).
C. include_schemas=True with weston_alembic.pg_weston_filters (from HOOK_DIR) and a second
   application table, with the database's default search_path: autogenerate proposes that
   table only; `alembic check` after the upgrade finds nothing.

Prints each command's output under a header; exits 1 naming the first broken promise.
"""

import re
import sys
from pathlib import Path

from alembic_project import MODELS, Project, fail, operations

url, workdir, hook_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
PG_WESTON_NAMES = re.compile(
    r"prices_daily|securities|splits|dividends|etl_run|weston_|_sqlx_migrations|price_archive"
)

SECOND_MODEL = '''

class PriceAlert(Base):
    __tablename__ = "price_alert"
    id = Column(Integer, primary_key=True)
    symbol = Column(Text, nullable=False)
'''

CONFIGURE = """        context.configure(
            connection=connection, target_metadata=target_metadata
        )"""


project = Project(workdir)
alembic, autogenerate, set_url = project.alembic, project.autogenerate, project.set_url


APP_ONLY = url + ("&" if "?" in url else "?") + "options=-csearch_path%3Dapp"


def set_configure(replacement):
    env = workdir / "migrations" / "env.py"
    source = env.read_text()
    current = source[source.index("        context.configure(\n            connection=connection"):]
    current = current[: current.index(")\n") + 1]
    env.write_text(source.replace(current, replacement))


project.init(APP_ONLY)
env = workdir / "migrations" / "env.py"
if CONFIGURE not in env.read_text():
    fail("env.py of `alembic init` changed shape; update this script")

# A. The default schema only.
ops = operations(autogenerate("watchlist"))
if ops != [("create_table", "watchlist")]:
    fail(f"A: autogenerate with an unmodified env.py proposed {ops}, not only create_table('watchlist')")
alembic("upgrade", "head")
code, output = alembic("check", expect_ok=False)
if code != 0 or "No new upgrade operations detected" not in output:
    fail("A: alembic check after upgrade head found operations")

# A2. The same, on the database's default search_path: nothing of pg_weston's is seen.
set_url(url)
code, output = alembic("check", expect_ok=False)
if code != 0 or "No new upgrade operations detected" not in output or PG_WESTON_NAMES.search(output):
    fail("A2: on the database's default search_path, alembic check reported operations")
set_url(APP_ONLY)

# B. Every schema, no filter: pg_weston's objects are seen (this is what the hook is for).
set_configure("""        context.configure(
            connection=connection, target_metadata=target_metadata,
            include_schemas=True,
        )""")
code, output = alembic("check", expect_ok=False)
if code == 0 or "weston_data" not in output or "prices_daily" not in output:
    fail("B: with include_schemas=True and no filter, alembic check did not report pg_weston's tables in weston_data")

# C. Every schema, with the hook, a new application table, the database's default search_path.
set_url(url)
set_configure(f"""        import sys
        sys.path.insert(0, {str(hook_dir)!r})
        from weston_alembic import pg_weston_filters

        context.configure(
            connection=connection, target_metadata=target_metadata,
            include_schemas=True,
            **pg_weston_filters(connection),
        )""")
(workdir / "app_models.py").write_text(MODELS + SECOND_MODEL)
upgrade = autogenerate("price alert")
ops = operations(upgrade)
if ops != [("create_table", "price_alert")] or PG_WESTON_NAMES.search(upgrade):
    fail(f"C: autogenerate with include_schemas=True and the hook proposed {ops}, not only create_table('price_alert')")
alembic("upgrade", "head")
code, output = alembic("check", expect_ok=False)
if code != 0 or "No new upgrade operations detected" not in output:
    fail("C: alembic check with the hook after upgrade head found operations")
print("OK: Alembic sees only the application's tables", flush=True)
