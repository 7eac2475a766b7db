#!/usr/bin/env bash
# Stops the cluster scripts/cluster_up.sh started: HAProxy, the nodes (SIGTERM: they drain),
# the S3 server, PostgreSQL. `--wipe` also removes its folder (database, files, logs).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=$(realpath -m "${KINO_CLUSTER_DIR:-data/cluster}")
[ -e "$DIR/pids" ] || { echo "cluster_down: nothing running in $DIR" >&2; exit 0; }

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$PG_BIN" ] || PG_BIN=$(dirname "$(command -v pg_ctl)")
AS=()
if [ "$(id -u)" -eq 0 ]; then
    AS=(runuser -u "$(stat -c %U "$DIR/pg/data")" --)
fi

# Balancer first, then the nodes (they finish what they have), then what they stand on.
for what in haproxy node1 node2 s3 pg; do
    while read -r name arg; do
        [ "$name" = "$what" ] || continue
        if [ "$name" = pg ]; then
            "${AS[@]}" "$PG_BIN/pg_ctl" -D "$arg" -m fast -w stop >/dev/null || true
        else
            kill -TERM "$arg" 2>/dev/null || true
            for _ in $(seq 100); do kill -0 "$arg" 2>/dev/null || break; sleep 0.1; done
        fi
    done < "$DIR/pids"
done
rm -f "$DIR/pids"
[ "${1:-}" = "--wipe" ] && rm -rf "$DIR"
echo "Kino cluster in $DIR stopped"
