"""An unmodified `alembic init` project on the database's plain URL, driven by
tests/tests/python_clients.rs.

    alembic_plain_url.py URL WORKDIR

URL: a SQLAlchemy URL (postgresql+psycopg://...) of a migrated database as one login, with no
`options`: the session has the database's default search_path, as when the team runs its
migrations. In WORKDIR: `alembic init`, the application's model (one table, `watchlist`) as
target_metadata, and nothing else changed. `alembic revision --autogenerate` must propose
creating `watchlist` and nothing else (no removal of anything of pg_weston's); `alembic
upgrade head` applies it; `alembic check` then finds nothing.

Prints each command's output under a header, and a last line `OPERATIONS: [...]` with the
operations autogenerate proposed; exits 1 naming the first broken promise.
"""

import re
import subprocess
import sys
from pathlib import Path

url, workdir = sys.argv[1], Path(sys.argv[2])
ALEMBIC = str(Path(sys.executable).parent / "alembic")

MODELS = '''
from sqlalchemy import Column, Integer, Text
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Watchlist(Base):
    __tablename__ = "watchlist"
    id = Column(Integer, primary_key=True)
    symbol = Column(Text, nullable=False)
'''


def fail(message):
    print(f"FAILED: {message}", flush=True)
    sys.exit(1)


def alembic(*args, expect_ok=True):
    done = subprocess.run([ALEMBIC, *args], cwd=workdir, capture_output=True, text=True)
    output = done.stdout + done.stderr
    shown = output if len(output) < 4000 else output[:4000] + f"... ({len(output)} characters)\n"
    print(f"--- alembic {' '.join(args)} (exit {done.returncode})\n{shown}", flush=True)
    if expect_ok and done.returncode != 0:
        fail(f"alembic {' '.join(args)} exited {done.returncode}")
    return done.returncode, output


workdir.mkdir(parents=True, exist_ok=True)
alembic("init", "migrations")
ini = workdir / "alembic.ini"
ini.write_text("".join(
    f"sqlalchemy.url = {url.replace('%', '%%')}\n" if line.startswith("sqlalchemy.url") else line
    for line in ini.read_text().splitlines(keepends=True)))
(workdir / "app_models.py").write_text(MODELS)
env = workdir / "migrations" / "env.py"
if "target_metadata = None" not in env.read_text():
    fail("env.py of `alembic init` changed shape; update this script")
env.write_text(env.read_text().replace(
    "target_metadata = None",
    "import sys\nsys.path.insert(0, %r)\nfrom app_models import Base\ntarget_metadata = Base.metadata" % str(workdir)))

versions = workdir / "migrations" / "versions"
alembic("revision", "--autogenerate", "-m", "watchlist")
(revision,) = versions.glob("*.py")
upgrade = revision.read_text().split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]
print(f"--- upgrade() of {revision.name}\n{upgrade}", flush=True)
ops = re.findall(r"op\.(\w+)\(\s*'?([\w.]*)", upgrade)
print(f"OPERATIONS: {ops}", flush=True)
if ops != [("create_table", "watchlist")]:
    fail(f"autogenerate proposed {len(ops)} operations, not only create_table('watchlist'): {ops}")
alembic("upgrade", "head")
code, output = alembic("check", expect_ok=False)
if code != 0 or "No new upgrade operations detected" not in output:
    fail("alembic check after upgrade head found operations")
print("OK: Alembic on the plain URL sees only the application's tables", flush=True)
