"""Keep pg_weston's objects out of Alembic's autogenerate when env.py sets include_schemas=True.

pg_weston's tables live in schema `weston_data`, which no default search_path names; its
functions, and a view over each table that people read, live in `weston`, which the
database's default search_path ends in. Alembic compares "the default schema" as SQLAlchemy
reflects it: every table visible on the session's search_path, and autogenerate does not
reflect views, so an unmodified env.py, on the database's plain URL or on one whose
search_path holds only the application's schema (`?options=-csearch_path%3Dapp`), sees none
of pg_weston's tables. An env.py that compares every schema (`include_schemas=True`) sees
them, and autogenerate would propose to drop them; these filters exclude what pg_weston
manages, read from the database when env.py connects (not a list written here, so the
partitions rotation adds next month are excluded too):

- the extension's schema (weston), the schema of its tables (weston_data, which the
  extension makes) and every schema rotation archives months into
  (`weston_partition_config.archive_schema`);
- every table that belongs to an extension (pg_weston's own, pg_cron's `cron.job`, ...);
- every partition, at any depth, of a table registered in `weston_partition_config`.

In env.py's run_migrations_online():

    from weston_alembic import pg_weston_filters

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_schemas=True,
            **pg_weston_filters(connection),
        )

(copy this file next to env.py, or put the repository's python/ directory on sys.path).

`snapshot_before_upgrade(context, url)` takes a snapshot of the whole database (`weston-loader
snapshot`, pg_dump) before an online `alembic upgrade` changes anything, and prints the
rollback note for the pull request; in env.py's run_migrations_online(), before
`with connectable.connect() as connection:`

    snapshot_before_upgrade(context, connectable.url)

Nothing for offline SQL generation (`--sql`), nor for commands that change no schema; a
`downgrade` only with `on_downgrade=True`. When the snapshot cannot be taken (a role that
cannot read the whole database, the loader missing) Alembic stops with the loader's message
and the upgrade does not start.
"""

import os
import shutil
import subprocess
import tempfile

from sqlalchemy import text
from sqlalchemy.engine import make_url

_EXTENSION_SCHEMA = text(
    """SELECT n.nspname FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_weston'"""
)

# The schemas the extension made (weston_data since 0.8.0: its tables).
_EXTENSION_SCHEMAS = text(
    """SELECT n.nspname
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         JOIN pg_catalog.pg_namespace n ON n.oid = d.objid
        WHERE e.extname = 'pg_weston'
          AND d.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
          AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype = 'e'"""
)

_EXTENSION_TABLES = text(
    """SELECT n.nspname, c.relname
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_class c ON c.oid = d.objid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
          AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype = 'e'"""
)

# The schema name comes from pg_extension and is quoted by quote_ident in the query text.
_PARTITIONS = """SELECT n.nspname, c.relname
                   FROM {schema}.weston_partition_config cfg
                  CROSS JOIN LATERAL pg_catalog.pg_partition_tree(cfg.parent) t
                   JOIN pg_catalog.pg_class c ON c.oid = t.relid
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"""

_ARCHIVE_SCHEMAS = """SELECT DISTINCT archive_schema::text FROM {schema}.weston_partition_config
                       WHERE archive_schema IS NOT NULL"""


# SQLAlchemy's PostgreSQL dialect reflects "the default schema" as every table visible on the
# session's search_path (pg_table_is_visible), not only current_schema(): with the database's
# default search_path, pg_weston's tables are among them.
_VISIBLE = text(
    """SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)"""
)


class Managed:
    """What pg_weston manages in one database, read once."""

    def __init__(self, connection):
        self.default_schema = connection.dialect.default_schema_name
        self.visible = {t: s for s, t in connection.execute(_VISIBLE)}
        self.schemas = set()
        self.tables = {(s, t) for s, t in connection.execute(_EXTENSION_TABLES)}
        home = connection.execute(_EXTENSION_SCHEMA).scalar()
        if home is not None:
            data = [s for (s,) in connection.execute(_EXTENSION_SCHEMAS)]
            # weston_partition_config is in the tables' schema once there is one.
            config = data[0] if data else home
            quoted = connection.execute(text("SELECT pg_catalog.quote_ident(:s)"), {"s": config}).scalar()
            self.schemas.add(home)
            self.schemas.update(data)
            self.schemas.update(s for (s,) in connection.execute(text(_ARCHIVE_SCHEMAS.format(schema=quoted))))
            self.tables.update((s, t) for s, t in connection.execute(text(_PARTITIONS.format(schema=quoted))))

    def has_table(self, schema, name):
        if schema is None or schema == self.default_schema:
            schema = self.visible.get(name, self.default_schema)
        return schema in self.schemas or (schema, name) in self.tables

    def include_name(self, name, type_, parent_names):
        """Alembic's include_name: skips pg_weston's schemas before they are reflected."""
        if type_ == "schema":
            return name not in self.schemas
        if type_ == "table":
            return not self.has_table(parent_names.get("schema_name"), name)
        return True

    def include_object(self, obj, name, type_, reflected, compare_to):
        """Alembic's include_object: a reflected table pg_weston manages is never compared."""
        if type_ == "table" and reflected and compare_to is None:
            return not self.has_table(obj.schema, name)
        return True


def pg_weston_filters(connection):
    """The keyword arguments for context.configure(): include_name and include_object."""
    # The reads begin a transaction (SQLAlchemy 2 autobegins). Left open, Alembic would take
    # it for the caller's and never commit the migration: end it when it is ours.
    ours = not connection.in_transaction()
    managed = Managed(connection)
    if ours:
        connection.commit()
    return {"include_name": managed.include_name, "include_object": managed.include_object}


def _command(context):
    """The Alembic command running env.py ("upgrade", "downgrade", ...), None when unknown."""
    env = getattr(context, "_proxy", context)
    fn = getattr(env, "context_opts", {}).get("fn")
    if fn is not None:
        return fn.__name__
    cmd = getattr(getattr(context.config, "cmd_opts", None), "cmd", None)
    return cmd[0].__name__ if cmd else None


def snapshot_before_upgrade(context, url=None, *, loader=None, note_file=None, on_downgrade=False):
    """Runs `weston-loader snapshot --note` before an online upgrade; returns the note (None
    when no snapshot was due). `url`: the engine's URL (default: sqlalchemy.url), handed to the
    loader in its environment only. `loader`: the program (default: $WESTON_LOADER_BIN, else
    weston-loader on the PATH); its settings (WESTON_SNAPSHOT_DIR, WESTON_PG_BINDIR, ...) come
    from the environment. `note_file`: also keep the note there."""
    from alembic.util import CommandError

    if context.is_offline_mode():
        return None
    command = _command(context)
    if command != "upgrade" and not (on_downgrade and command == "downgrade"):
        return None
    url = make_url(url if url is not None else context.config.get_main_option("sqlalchemy.url"))
    libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    program = loader or os.environ.get("WESTON_LOADER_BIN") or shutil.which("weston-loader")
    if not program:
        raise CommandError(
            "no snapshot before the upgrade: weston-loader is not found "
            "(set WESTON_LOADER_BIN or put it on the PATH); the upgrade did not start")
    with tempfile.TemporaryDirectory() as scratch:
        note_path = note_file or os.path.join(scratch, "rollback-note.md")
        done = subprocess.run(
            [program, "snapshot", "--note", str(note_path)],
            env={**os.environ, "DATABASE_URL": libpq_url},
            stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            said = [line for line in done.stderr.splitlines() if line.startswith("weston-loader:")]
            why = said[-1] if said else done.stderr.strip() or f"exit {done.returncode}"
            raise CommandError(f"no snapshot before the {command}, so it did not start: {why}")
        with open(note_path, encoding="utf-8") as f:
            note = f.read()
    print(done.stdout, end="", flush=True)
    print(note, flush=True)
    return note
