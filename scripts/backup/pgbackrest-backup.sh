#!/usr/bin/env bash
# A pgBackRest backup of stanza weston (full on Sundays, differential otherwise, or
# WESTON_BACKUP_TYPE), then `pgbackrest check` (archiving works end to end). Run as the
# postgres user. With WESTON_METRICS_TEXTFILE_DIR set, writes weston_backup.pgbackrest.prom
# for node_exporter's textfile collector.
set -euo pipefail
stanza=${WESTON_PGBACKREST_STANZA:-weston}
type=${WESTON_BACKUP_TYPE:-$([ "$(date -u +%u)" = 7 ] && echo full || echo diff)}
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
trap 'write_metrics 1' ERR

"${pgbackrest[@]}" --type="$type" backup
"${pgbackrest[@]}" check
write_metrics 0
