#!/usr/bin/env bash
# sysbench.sh — compare sysbench directly against MariaDB with sysbench
# through tenantproxy's MySQL front end (not a test: it measures).
#
# Runs oltp_point_select and oltp_read_only with THREADS threads, RUNS times
# each, alternating direct and proxied runs so that machine noise hits both,
# and prints the median transactions/s of each and their ratio.
#
# Environment: MYSQL_HOST (127.0.0.1), MYSQL_PORT (3306), MYSQL_USER (root),
# MYSQL_PASSWORD (""), THREADS (16), RUNS (5), TIME (10 s per run),
# TABLE_SIZE (10000), TABLES (4), POOL_SIZE (16), PROXY_PORT (16033).
set -euo pipefail

MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
THREADS=${THREADS:-16}
RUNS=${RUNS:-5}
TIME=${TIME:-10}
TABLE_SIZE=${TABLE_SIZE:-10000}
TABLES=${TABLES:-4}
POOL_SIZE=${POOL_SIZE:-16}
PROXY_PORT=${PROXY_PORT:-16033}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
db="tp_bench_$$"
proxy_pid=""
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null || true
  mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" ${MYSQL_PASSWORD:+-p"$MYSQL_PASSWORD"} \
    -e "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building tenantproxy..." >&2
(cd "$root" && go build -o "$work/tenantproxy" ./cmd/tenantproxy)

mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" ${MYSQL_PASSWORD:+-p"$MYSQL_PASSWORD"} -e "CREATE DATABASE $db"

cat > "$work/config.yaml" <<YAML
listen: {postgres: "", mysql: "127.0.0.1:$PROXY_PORT", admin: ""}
log: {level: warn}
tenants:
  - id: bench
    engine: mysql
    dsn: "$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@tcp($MYSQL_HOST:$MYSQL_PORT)/$db"
    pool: {size: $POOL_SIZE, timeout: 10s}
users:
  - {name: bench, password: bench-pw, tenants: {bench: admin}}
YAML

"$work/tenantproxy" --config "$work/config.yaml" 2>"$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 50); do
  (echo > /dev/tcp/127.0.0.1/$PROXY_PORT) 2>/dev/null && break
  sleep 0.1
done

common=(--tables="$TABLES" --table-size="$TABLE_SIZE" --mysql-ssl=off --db-ps-mode=auto)
direct=(--mysql-host="$MYSQL_HOST" --mysql-port="$MYSQL_PORT" --mysql-user="$MYSQL_USER" --mysql-db="$db")
[ -n "$MYSQL_PASSWORD" ] && direct+=(--mysql-password="$MYSQL_PASSWORD")
proxied=(--mysql-host=127.0.0.1 --mysql-port="$PROXY_PORT" --mysql-user=bench --mysql-password=bench-pw --mysql-db=bench)

echo "preparing $TABLES tables of $TABLE_SIZE rows..." >&2
sysbench oltp_read_only "${direct[@]}" "${common[@]}" prepare >/dev/null

# tps runs one sysbench run and prints its transactions per second.
tps() {
  local out
  out=$(sysbench "$@" "${common[@]}" --threads="$THREADS" --time="$TIME" run)
  if ! grep -Eq 'ignored errors:[[:space:]]+0[[:space:]]' <<<"$out"; then
    echo "sysbench reported errors:" >&2
    echo "$out" >&2
  fi
  sed -nE 's/.*transactions:[[:space:]]+[0-9]+[[:space:]]+\(([0-9.]+) per sec.*/\1/p' <<<"$out"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

printf "%-18s %14s %14s %8s   (%s threads, %s runs x %ss, pool %s)\n" test "direct tps" "proxy tps" ratio "$THREADS" "$RUNS" "$TIME" "$POOL_SIZE"
for test in oltp_point_select oltp_read_only; do
  d=(); p=()
  sysbench "$test" "${proxied[@]}" "${common[@]}" --threads="$THREADS" --time=2 run >/dev/null # warm up
  for i in $(seq "$RUNS"); do
    d+=("$(tps "$test" "${direct[@]}")")
    p+=("$(tps "$test" "${proxied[@]}")")
    echo "  $test run $i: direct ${d[-1]} proxy ${p[-1]}" >&2
  done
  dm=$(printf "%s\n" "${d[@]}" | median)
  pm=$(printf "%s\n" "${p[@]}" | median)
  printf "%-18s %14s %14s %8s\n" "$test" "$dm" "$pm" "$(awk -v a="$pm" -v b="$dm" 'BEGIN {printf "%.2f", a/b}')"
done
