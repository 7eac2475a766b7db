#!/usr/bin/env bash
# A local Kino cluster to try by hand: one PostgreSQL, one S3 server (s3s-fs), two kino-server
# nodes on them, HAProxy in front with deploy/haproxy.cfg. Everything lives in one folder
# (default ./data/cluster) and listens on 127.0.0.1 only; scripts/cluster_down.sh stops it.
#
#   scripts/cluster_up.sh            # then: kino --addr 127.0.0.1:1690
#   KINO_CLUSTER_DIR=/tmp/k KINO_CLUSTER_PORT=1700 scripts/cluster_up.sh
#
# Needs: PostgreSQL binaries (Debian `postgresql`), `haproxy`, `s3s-fs`
# (`cargo install s3s-fs@0.14.1 --features binary --locked`); .ci/run installs the same.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=$(realpath -m "${KINO_CLUSTER_DIR:-data/cluster}")
FRONT=${KINO_CLUSTER_PORT:-1690}
PG_PORT=$((FRONT + 1)); S3_PORT=$((FRONT + 2)); NODE1=$((FRONT + 3)); NODE2=$((FRONT + 4))
S3_KEY=kinolocal; S3_SECRET=kinolocalsecret

die() { echo "cluster_up: $*" >&2; exit 1; }
[ -e "$DIR/pids" ] && die "$DIR is running; scripts/cluster_down.sh first"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$PG_BIN" ] || PG_BIN=$(dirname "$(command -v initdb || die 'PostgreSQL is not installed')")
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HAPROXY" ] || die "haproxy is not installed (apt-get install haproxy)"
S3FS=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")
[ -x "$S3FS" ] || die "s3s-fs is not installed (cargo install s3s-fs@0.14.1 --features binary --locked)"

# KINO_SERVER_BIN: an already built kino-server (e.g. target/debug/kino-server) instead.
SERVER=${KINO_SERVER_BIN:-target/release/kino-server}
[ -n "${KINO_SERVER_BIN:-}" ] || cargo build --release --bin kino-server

mkdir -p "$DIR"/{pg,s3/kino,node1,node2}
: > "$DIR/pids"

# PostgreSQL refuses to run as root: run it as `postgres` (or `nobody`) then.
AS=()
if [ "$(id -u)" -eq 0 ]; then
    USER_PG=$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)
    chown -R "$USER_PG" "$DIR/pg"
    AS=(runuser -u "$USER_PG" --)
fi
"${AS[@]}" "$PG_BIN/initdb" -D "$DIR/pg/data" -U kino -A trust -E UTF8 --locale=C >"$DIR/pg/initdb.log"
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w \
    -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1" start >/dev/null
echo "pg $DIR/pg/data" >> "$DIR/pids"
"$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U kino -d postgres -qc "CREATE DATABASE kino" >/dev/null
DATABASE="postgres://kino@127.0.0.1:$PG_PORT/kino"

"$S3FS" --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_KEY" --secret-key "$S3_SECRET" \
    "$DIR/s3" >"$DIR/s3.log" 2>&1 &
echo "s3 $!" >> "$DIR/pids"
BLOBS="s3://kino?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1"

# The S3 credentials go in each node's config file, never on a command line (ps shows those).
for n in 1 2; do
    port_var=NODE$n
    cat > "$DIR/node$n/kino.toml" <<EOF
database = "$DATABASE"
blobs = "$BLOBS"
aws-access-key-id = "$S3_KEY"
aws-secret-access-key = "$S3_SECRET"
proxy-protocol-from = ["127.0.0.1/32"]
EOF
    chmod 600 "$DIR/node$n/kino.toml"
    "$SERVER" --listen "127.0.0.1:${!port_var}" --data "$DIR/node$n" \
        --config "$DIR/node$n/kino.toml" >"$DIR/node$n/out" 2>"$DIR/node$n/log" &
    echo "node$n $!" >> "$DIR/pids"
done

KINO_FRONTEND=127.0.0.1:$FRONT KINO_NODE1=127.0.0.1:$NODE1 KINO_NODE2=127.0.0.1:$NODE2 \
    "$HAPROXY" -db -f deploy/haproxy.cfg >"$DIR/haproxy.log" 2>&1 &
echo "haproxy $!" >> "$DIR/pids"

for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$FRONT") 2>/dev/null && break
    sleep 0.2
done
cat <<EOF
Kino cluster up in $DIR:
  balancer   127.0.0.1:$FRONT   (kino --addr 127.0.0.1:$FRONT)
  nodes      127.0.0.1:$NODE1, 127.0.0.1:$NODE2   (logs: $DIR/node*/log)
  database   $DATABASE
  blobs      $BLOBS
First admin: $SERVER --data $DIR/node1 --config $DIR/node1/kino.toml user add root --admin
Stop:        scripts/cluster_down.sh
EOF
