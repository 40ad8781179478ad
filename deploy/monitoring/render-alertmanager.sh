#!/bin/sh
# render-alertmanager.sh TEMPLATE OUTPUT: writes TEMPLATE with every ${NAME} replaced by the
# environment variable NAME (an empty value is kept: e.g. no SMTP login), quotes doubled for
# YAML single-quoted strings. Fails, naming the variables, if one is unset or holds a line
# break. POSIX sh and awk, so it runs in the Alertmanager image (busybox) before Alertmanager.
set -eu
umask 077   # the output holds the SMTP password and the Slack webhook URL
template=${1:?usage: render-alertmanager.sh TEMPLATE OUTPUT}
output=${2:?usage: render-alertmanager.sh TEMPLATE OUTPUT}
awk '
/^[ \t]*#/ { print; next }   # comments stay as written
{
    rest = $0; out = ""
    while (match(rest, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
        name = substr(rest, RSTART + 2, RLENGTH - 3)
        if (!(name in ENVIRON)) {
            printf "render-alertmanager: %s is not set (deploy/.env)\n", name > "/dev/stderr"; bad = 1
        }
        value = ENVIRON[name]
        if (value ~ /\n/) {
            printf "render-alertmanager: %s holds a line break\n", name > "/dev/stderr"; bad = 1
        }
        gsub(/\047/, "\047\047", value)
        out = out substr(rest, 1, RSTART - 1) value
        rest = substr(rest, RSTART + RLENGTH)
    }
    print out rest
}
END { exit bad }' "$template" > "$output.tmp" || { rm -f "$output.tmp"; exit 1; }
mv "$output.tmp" "$output"
