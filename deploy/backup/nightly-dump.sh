#!/usr/bin/env bash
# Nightly logical backup: the cluster's roles (pg_dumpall --roles-only) and the weston
# database (pg_dump -Fc), checked with pg_restore --list, kept WESTON_DUMP_RETAIN_DAYS days.
# Connection from the usual libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD or
# ~/.pgpass). Run it as a superuser: the roles file keeps the login users' password
# hashes (so a restore lets people back in), which is why every file is private (umask 077).
# With WESTON_DUMP_S3_BUCKET set, both files are also encrypted (gpg, AES-256, passphrase
# WESTON_DUMP_PASSPHRASE) and uploaded with rclone to s3://BUCKET/WESTON_DUMP_S3_PREFIX/;
# the bucket keeps WESTON_DUMP_S3_RETAIN_DAYS days of them, judged by the stamp in their
# names (docs/RUNBOOK.md, "S3 settings"). A failed upload fails the run (the local dump stays).
# With WESTON_METRICS_TEXTFILE_DIR set, writes weston_backup.pg_dump.prom for
# node_exporter's textfile collector (deploy/monitoring/alerts.yml alerts on it).
set -euo pipefail
database=${WESTON_DB:-weston}
backup_dir=${WESTON_DUMP_DIR:?set WESTON_DUMP_DIR to the directory that keeps the dumps}
retain_days=${WESTON_DUMP_RETAIN_DAYS:-14}
bindir=${WESTON_PG_BINDIR:-/usr/lib/postgresql/15/bin}
stamp=$(date -u +%Y%m%dT%H%M%SZ)

write_metrics() {
    [ -n "${WESTON_METRICS_TEXTFILE_DIR:-}" ] || return 0
    local file="$WESTON_METRICS_TEXTFILE_DIR/weston_backup.pg_dump.prom"
    {
        echo "# HELP weston_backup_last_run_failed 1 when the last backup run failed."
        echo "# TYPE weston_backup_last_run_failed gauge"
        echo "weston_backup_last_run_failed{kind=\"pg_dump\"} $1"
        echo "# HELP weston_backup_last_success_timestamp_seconds When a backup last succeeded."
        echo "# TYPE weston_backup_last_success_timestamp_seconds gauge"
        if [ "$1" = 0 ]; then
            echo "weston_backup_last_success_timestamp_seconds{kind=\"pg_dump\"} $(date +%s)"
        elif [ -f "$file" ]; then
            grep '^weston_backup_last_success_timestamp_seconds' "$file" || true
        fi
    } > "$file.tmp"
    mv "$file.tmp" "$file"   # atomic: node_exporter never reads half a file
}
step="the dump"
trap 'status=$?; write_metrics 1; echo "nightly-dump: FAILED at $step (exit $status)" >&2' ERR

umask 077
mkdir -p "$backup_dir"
partial="$backup_dir/.${database}-$stamp.partial"
"$bindir/pg_dumpall" --roles-only --file "$partial.roles.sql"
# --create at restore time brings back the database itself with its settings and ACL.
"$bindir/pg_dump" --format=custom --compress=6 --create --file "$partial.dump" "$database"
"$bindir/pg_restore" --list "$partial.dump" > /dev/null   # readable to the end
mv "$partial.roles.sql" "$backup_dir/${database}-$stamp.roles.sql"
mv "$partial.dump" "$backup_dir/${database}-$stamp.dump"

# Retention only after a good dump, and never the newest one.
step="the local retention"
find "$backup_dir" -maxdepth 1 -type f \( -name "${database}-*.dump" -o -name "${database}-*.roles.sql" \) \
     -mtime "+$((retain_days - 1))" ! -name "${database}-$stamp.*" -print -delete

if [ -n "${WESTON_DUMP_S3_BUCKET:-}" ]; then
    step="the upload to s3://$WESTON_DUMP_S3_BUCKET"
    bash "$(dirname "$0")/dump-s3.sh" upload "$backup_dir" "${database}-$stamp"
fi
write_metrics 0
echo "$backup_dir/${database}-$stamp.dump"
