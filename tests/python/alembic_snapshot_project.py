"""An `alembic init` project whose env.py takes a snapshot before every upgrade, driven by
tests/tests/python_clients.rs.

    alembic_snapshot_project.py URL WORKDIR PYTHON_DIR

URL: a SQLAlchemy URL (postgresql+psycopg://...) of a migrated database. In WORKDIR: `alembic
init`, env.py with the three lines the developers' guide gives (PYTHON_DIR on sys.path, the
import, the call before connecting) and the schema's `SET ROLE app_rw`, and two revisions: `a1_add_watchlist` creates the
application's table `watchlist`, `b2_drop_watchlist` drops it. The test runs `alembic upgrade`
itself, with the loader's settings in the environment.
"""

import sys

from alembic_project import Project, fail

ADD = '''"""add watchlist"""
import sqlalchemy as sa
from alembic import op

revision = "a1_add_watchlist"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("watchlist", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("symbol", sa.Text, nullable=False))


def downgrade():
    op.drop_table("watchlist")
'''

DROP = '''"""drop watchlist"""
import sqlalchemy as sa
from alembic import op

revision = "b2_drop_watchlist"
down_revision = "a1_add_watchlist"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("watchlist")


def downgrade():
    op.create_table("watchlist", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("symbol", sa.Text, nullable=False))
'''

# The schema's convention (migration 0006): objects in `app` are created as app_rw, so that
# every member (the backend's login, a dba who is one) can use, and dump, what another created.
SET_ROLE = """        connection.exec_driver_sql("SET ROLE app_rw")
        connection.commit()
"""

url, workdir, python_dir = sys.argv[1], sys.argv[2], sys.argv[3]
project = Project(workdir)
project.init(url)
env = project.workdir / "migrations" / "env.py"
text = env.read_text()
connect = "    with connectable.connect() as connection:\n"
if "from alembic import context\n" not in text or text.count(connect) != 1:
    fail("env.py of `alembic init` changed shape; update this script")
text = text.replace(
    "from alembic import context\n",
    "from alembic import context\n"
    f"import sys; sys.path.insert(0, {python_dir!r})\n"
    "from weston_alembic import snapshot_before_upgrade\n")
text = text.replace(connect, "    snapshot_before_upgrade(context, connectable.url)\n\n" + connect + SET_ROLE)
env.write_text(text)
versions = project.workdir / "migrations" / "versions"
(versions / "a1_add_watchlist.py").write_text(ADD)
(versions / "b2_drop_watchlist.py").write_text(DROP)
print(f"--- env.py\n{text}", flush=True)
