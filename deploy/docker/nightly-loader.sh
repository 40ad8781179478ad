#!/bin/bash
# The compose "loader" service: runs `weston-loader run` once a day at WESTON_LOADER_AT
# (UTC, default 05:00: after the US close and the providers' end-of-day files), forever.
# Exit status 75 (another run holds the lock) is not an error.
set -uo pipefail
at=${WESTON_LOADER_AT:-05:00}
while true; do
    now=$(date -u +%s)
    next=$(date -u -d "today $at" +%s)
    [ "$next" -gt "$now" ] || next=$(date -u -d "tomorrow $at" +%s)
    sleep $((next - now))
    weston-loader run "$@"
    status=$?
    case $status in
        0|75) ;;
        *) echo "weston-nightly-loader: weston-loader run exited with $status (etl_run says why)" >&2 ;;
    esac
done
