#!/usr/bin/env bash
# The nightly dumps in S3-compatible storage: encrypted on this host (gpg, AES-256: the roles
# file holds password hashes and the bucket is someone else's computer), copied with rclone.
#   dump-s3.sh upload DIR NAME   DIR/NAME.dump and DIR/NAME.roles.sql up, then the retention
#   dump-s3.sh list              the dump files in the bucket, oldest first
#   dump-s3.sh fetch NAME DIR    NAME.dump and NAME.roles.sql down into DIR, decrypted
# Settings (environment; docs/RUNBOOK.md, "S3 settings"):
#   WESTON_DUMP_S3_BUCKET (required), WESTON_DUMP_S3_ENDPOINT (host[:port], https; default
#   s3.us-east-1.amazonaws.com), WESTON_DUMP_S3_REGION (us-east-1), WESTON_DUMP_S3_PREFIX
#   (dumps), WESTON_DUMP_S3_CA_FILE (a private CA; default the system's), WESTON_DUMP_S3_RETAIN_DAYS
#   (default WESTON_DUMP_RETAIN_DAYS, else 14: names whose UTC stamp is older are deleted).
#   Secrets: WESTON_DUMP_S3_KEY and WESTON_DUMP_S3_KEY_SECRET (default pgBackRest's
#   PGBACKREST_REPO1_S3_KEY and PGBACKREST_REPO1_S3_KEY_SECRET), WESTON_DUMP_PASSPHRASE
#   (default PGBACKREST_REPO1_CIPHER_PASS). Nothing is uploaded unencrypted.
set -euo pipefail
command=${1:?usage: dump-s3.sh upload DIR NAME | list | fetch NAME DIR}
bucket=${WESTON_DUMP_S3_BUCKET:?set WESTON_DUMP_S3_BUCKET}
prefix=${WESTON_DUMP_S3_PREFIX:-dumps}
retain_days=${WESTON_DUMP_S3_RETAIN_DAYS:-${WESTON_DUMP_RETAIN_DAYS:-14}}
passphrase=${WESTON_DUMP_PASSPHRASE:-${PGBACKREST_REPO1_CIPHER_PASS:-}}
[ -n "$passphrase" ] || { echo "dump-s3: set WESTON_DUMP_PASSPHRASE (or PGBACKREST_REPO1_CIPHER_PASS)" >&2; exit 2; }

# rclone reads the remote "dumps" from these variables: no configuration file, no secret on a
# command line. Retries are few and short so that an unreachable store fails the run in seconds.
export RCLONE_CONFIG_DUMPS_TYPE=s3 RCLONE_CONFIG_DUMPS_PROVIDER=Other RCLONE_CONFIG_DUMPS_ENV_AUTH=false \
    RCLONE_CONFIG_DUMPS_REGION=${WESTON_DUMP_S3_REGION:-us-east-1} \
    RCLONE_CONFIG_DUMPS_ENDPOINT=https://${WESTON_DUMP_S3_ENDPOINT:-s3.us-east-1.amazonaws.com} \
    RCLONE_CONFIG_DUMPS_FORCE_PATH_STYLE=true RCLONE_CONFIG_DUMPS_NO_CHECK_BUCKET=true \
    RCLONE_CONFIG_DUMPS_ACCESS_KEY_ID=${WESTON_DUMP_S3_KEY:-${PGBACKREST_REPO1_S3_KEY:-}} \
    RCLONE_CONFIG_DUMPS_SECRET_ACCESS_KEY=${WESTON_DUMP_S3_KEY_SECRET:-${PGBACKREST_REPO1_S3_KEY_SECRET:-}}
# A private CA replaces the system's (Go's SSL_CERT_FILE). rclone 1.60's S3 backend fails on
# AWS_CA_BUNDLE and on --ca-cert ("unsupported transport"), so neither is used.
unset AWS_CA_BUNDLE
if [ -n "${WESTON_DUMP_S3_CA_FILE:-}" ]; then export SSL_CERT_FILE=$WESTON_DUMP_S3_CA_FILE; fi
rclone=(rclone -q --retries 2 --low-level-retries 2 --contimeout 10s --timeout 60s)
remote="dumps:$bucket/$prefix"

# gpg runs with a throw-away home (its agent is stopped when done).
gnupg=$(mktemp -d)
trap 'gpgconf --homedir "$gnupg" --kill gpg-agent 2>/dev/null || true; rm -rf "$gnupg"' EXIT
gpg_with_passphrase() { gpg --batch --quiet --homedir "$gnupg" --pinentry-mode loopback --passphrase-fd 3 "$@" 3<<<"$passphrase"; }

case "$command" in
upload)
    dir=${2:?DIR}; name=${3:?NAME}
    umask 077
    for file in "$name.dump" "$name.roles.sql"; do
        gpg_with_passphrase --symmetric --cipher-algo AES256 --output "$dir/.$file.gpg" "$dir/$file"
        "${rclone[@]}" copyto "$dir/.$file.gpg" "$remote/$file.gpg"
        rm -f "$dir/.$file.gpg"
    done
    # Retention: by the UTC stamp in the name (the store's own dates can be a copy's), never
    # the dump just uploaded.
    cutoff=$(date -u -d "$retain_days days ago" +%Y%m%dT%H%M%SZ)
    "${rclone[@]}" lsf --files-only "$remote/" | while read -r key; do
        key_stamp=$(sed -n 's/^.*-\([0-9]\{8\}T[0-9]\{6\}Z\)\.\(dump\|roles\.sql\)\.gpg$/\1/p' <<<"$key")
        if [ -n "$key_stamp" ] && [[ "$key_stamp" < "$cutoff" ]] && [[ "$key" != "$name".* ]]; then
            "${rclone[@]}" deletefile "$remote/$key"
            echo "deleted s3://$bucket/$prefix/$key"
        fi
    done
    ;;
list) "${rclone[@]}" lsf --files-only "$remote/" | sort -t- -k2 ;;
fetch)
    name=${2:?NAME}; dir=${3:?DIR}
    umask 077
    for file in "$name.dump" "$name.roles.sql"; do
        "${rclone[@]}" copyto "$remote/$file.gpg" "$dir/.$file.gpg"
        gpg_with_passphrase --decrypt --output "$dir/$file" "$dir/.$file.gpg"
        rm -f "$dir/.$file.gpg"
    done
    ;;
*) echo "dump-s3: unknown command $command" >&2; exit 2 ;;
esac
