"""An unmodified `alembic init` project on the database's plain URL, driven by
tests/tests/python_clients.rs.

    alembic_plain_url.py URL WORKDIR

URL: a SQLAlchemy URL (postgresql+psycopg://...) of a migrated database as one login, with no
`options`: the session has the database's default search_path, as when the team runs its
migrations. In WORKDIR: `alembic init`, the application's model (one table, `watchlist`) as
target_metadata, and nothing else changed. `alembic revision --autogenerate` must propose
creating `watchlist` and nothing else (no removal of anything of pg_weston's); `alembic
upgrade head` applies it; `alembic check` then finds nothing.

Prints each command's output under a header, and a line `OPERATIONS: [...]` with the
operations autogenerate proposed; exits 1 naming the first broken promise.
"""

import sys

from alembic_project import Project, fail, operations

url, workdir = sys.argv[1], sys.argv[2]
project = Project(workdir)
project.init(url)
ops = operations(project.autogenerate("watchlist"))
print(f"OPERATIONS: {ops}", flush=True)
if ops != [("create_table", "watchlist")]:
    fail(f"autogenerate proposed {len(ops)} operations, not only create_table('watchlist'): {ops}")
project.alembic("upgrade", "head")
code, output = project.alembic("check", expect_ok=False)
if code != 0 or "No new upgrade operations detected" not in output:
    fail("alembic check after upgrade head found operations")
print("OK: Alembic on the plain URL sees only the application's tables", flush=True)
