#!/usr/bin/env bash
# A pgBackRest backup of stanza weston (full on WESTON_BACKUP_FULL_DAY, the ISO weekday, 7 =
# Sunday by default, differential otherwise; or WESTON_BACKUP_TYPE), then `pgbackrest check`
# (archiving works end to end). pgBackRest expires what the retention of pgbackrest.conf no
# longer needs after each backup. Run as the postgres user, with the repository's secrets in
# the environment (PGBACKREST_REPO1_S3_KEY, _S3_KEY_SECRET, _CIPHER_PASS). A failure (storage
# unreachable, credentials refused, ...) exits non-zero with pgBackRest's error and a line
# saying so. With WESTON_METRICS_TEXTFILE_DIR set, writes weston_backup.pgbackrest.prom for
# node_exporter's textfile collector (the WestonBackupFailed alert reads it).
set -euo pipefail
stanza=${WESTON_PGBACKREST_STANZA:-weston}
type=${WESTON_BACKUP_TYPE:-$([ "$(date -u +%u)" = "${WESTON_BACKUP_FULL_DAY:-7}" ] && echo full || echo diff)}
pgbackrest=(pgbackrest --stanza="$stanza" ${WESTON_PGBACKREST_CONFIG:+--config="$WESTON_PGBACKREST_CONFIG"})

write_metrics() {
    [ -n "${WESTON_METRICS_TEXTFILE_DIR:-}" ] || return 0
    local file="$WESTON_METRICS_TEXTFILE_DIR/weston_backup.pgbackrest.prom"
    {
        echo "# TYPE weston_backup_last_run_failed gauge"
        echo "weston_backup_last_run_failed{kind=\"pgbackrest\"} $1"
        echo "# TYPE weston_backup_last_success_timestamp_seconds gauge"
        if [ "$1" = 0 ]; then
            echo "weston_backup_last_success_timestamp_seconds{kind=\"pgbackrest\"} $(date +%s)"
        elif [ -f "$file" ]; then
            grep '^weston_backup_last_success_timestamp_seconds' "$file" || true
        fi
    } > "$file.tmp"
    mv "$file.tmp" "$file"
}
step="$type backup"
trap 'status=$?; write_metrics 1; echo "pgbackrest-backup: FAILED: $step of stanza $stanza (exit $status; pgBackRest said why above)" >&2' ERR

"${pgbackrest[@]}" --type="$type" backup
step="check (WAL archiving to the repository)"
"${pgbackrest[@]}" check
write_metrics 0
