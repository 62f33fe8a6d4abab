#!/usr/bin/env bash
# compare_mysql.sh — MySQL relay cost of tenantproxy next to HAProxy in TCP
# mode and next to MariaDB itself (not a test: it measures).
#
# Legs: direct (MariaDB), haproxy (TCP mode, a byte relay: no pooling, no
# policy), tp-analyst and tp-viewer (tenantproxy with a read role and with
# the viewer role: LIMIT injected, masks decided per result). For
# oltp_point_select and oltp_read_only it interleaves RUNS runs of TIME
# seconds of every leg, so that the noise of a shared machine hits all of
# them, and prints per leg the median queries/s, its ratio to haproxy and
# to direct, and the CPU microseconds per query of tenantproxy, haproxy and
# mariadbd over the run (utime+stime from /proc/<pid>/stat ÷ queries).
#
# Then, on one connection, the round-trip latency p50/p99 of a prepared
# point select, and what each proxy adds to direct; the RSS of tenantproxy
# holding IDLE idle client connections (total, and the delta); the RSS
# growth of tenantproxy while a client reads a ROWS-row result.
#
# Environment: MYSQL_HOST (127.0.0.1), MYSQL_PORT (3306), MYSQL_USER (root),
# THREADS (16), RUNS (3), TIME (10), TABLE_SIZE (10000), TABLES (4),
# POOL_SIZE (20), PROXY_PORT (16033), HAPROXY_PORT (16034), IDLE (2000),
# ROWS (2000000), LAT_N (20000 round trips), TP_BIN (a tenantproxy binary
# to measure instead of building this tree), TP_ENV (environment for it,
# e.g. "GOMAXPROCS=2"), TP2_ENV (when set, or TP2_BIN is, a second tenantproxy with this
# environment, e.g. "GOMAXPROCS=1", on PROXY_PORT+2, measured as one more
# leg, tp2-analyst, interleaved with the others), TP2_BIN (the binary of
# that second tenantproxy, e.g. an earlier build to compare against; this
# tree's by default).
set -euo pipefail

MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
THREADS=${THREADS:-16}
RUNS=${RUNS:-3}
TIME=${TIME:-10}
TABLE_SIZE=${TABLE_SIZE:-10000}
TABLES=${TABLES:-4}
POOL_SIZE=${POOL_SIZE:-20}
PROXY_PORT=${PROXY_PORT:-16033}
HAPROXY_PORT=${HAPROXY_PORT:-16034}
IDLE=${IDLE:-2000}
ROWS=${ROWS:-2000000}
LAT_N=${LAT_N:-20000}
TP_ENV=${TP_ENV:-}
TP2_ENV=${TP2_ENV:-}
TP2_BIN=${TP2_BIN:-}
PROXY2_PORT=$((PROXY_PORT + 2))

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
db="tp_cmp_$$"
tp_pid="" tp2_pid="" ha_pid="" idle_pid=""
mysql_() { mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$@"; }
cleanup() {
  for p in $idle_pid $tp_pid $tp2_pid $ha_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  mysql_ -e "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in haproxy sysbench mariadb go; do
  command -v "$tool" >/dev/null || { echo "compare_mysql.sh: $tool is not installed" >&2; exit 1; }
done
md_pid=$(pgrep -o -x mariadbd || pgrep -o -x mysqld || true)
[ -n "$md_pid" ] || { echo "compare_mysql.sh: no mariadbd process to measure" >&2; exit 1; }

echo "building..." >&2
if [ -n "${TP_BIN:-}" ]; then cp "$TP_BIN" "$work/tenantproxy"; else (cd "$root" && go build -o "$work/tenantproxy" ./cmd/tenantproxy); fi
(cd "$root" && go build -o "$work/myclient" ./test/bench/myclient)

mysql_ -e "CREATE DATABASE $db"
cat > "$work/config.yaml" <<YAML
listen: {postgres: "", mysql: "127.0.0.1:$PROXY_PORT", admin: ""}
log: {level: warn}
tenants:
  - id: bench
    engine: mysql
    dsn: "$MYSQL_USER@tcp($MYSQL_HOST:$MYSQL_PORT)/$db"
    pool: {size: $POOL_SIZE, timeout: 10s}
users:
  - {name: analyst, password: bench-pw, tenants: {bench: analyst}}
  - {name: viewer, password: bench-pw, tenants: {bench: viewer}}
YAML
cat > "$work/haproxy.cfg" <<CFG
global
    maxconn 8192
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen mysql
    bind 127.0.0.1:$HAPROXY_PORT
    server db $MYSQL_HOST:$MYSQL_PORT
CFG

wait_port() {
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "compare_mysql.sh: nothing listens on port $1" >&2; exit 1
}
start_tp() {
  env $TP_ENV "$work/tenantproxy" --config "$work/config.yaml" 2>>"$work/proxy.log" &
  tp_pid=$!
  wait_port "$PROXY_PORT"
}
stop_tp() { kill "$tp_pid" 2>/dev/null || true; wait "$tp_pid" 2>/dev/null || true; tp_pid=""; }
if [ -n "$TP2_ENV$TP2_BIN" ]; then
  sed "s/127.0.0.1:$PROXY_PORT/127.0.0.1:$PROXY2_PORT/" "$work/config.yaml" >"$work/config2.yaml"
  env $TP2_ENV "${TP2_BIN:-$work/tenantproxy}" --config "$work/config2.yaml" 2>>"$work/proxy2.log" &
  tp2_pid=$!
  wait_port "$PROXY2_PORT"
fi
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
ha_pid=$!
wait_port "$HAPROXY_PORT"
start_tp

common=(--tables="$TABLES" --table-size="$TABLE_SIZE" --mysql-ssl=off --db-ps-mode=auto)
declare -A leg_args=(
  [direct]="--mysql-host=$MYSQL_HOST --mysql-port=$MYSQL_PORT --mysql-user=$MYSQL_USER --mysql-db=$db"
  [haproxy]="--mysql-host=127.0.0.1 --mysql-port=$HAPROXY_PORT --mysql-user=$MYSQL_USER --mysql-db=$db"
  [tp-analyst]="--mysql-host=127.0.0.1 --mysql-port=$PROXY_PORT --mysql-user=analyst --mysql-password=bench-pw --mysql-db=bench"
  [tp-viewer]="--mysql-host=127.0.0.1 --mysql-port=$PROXY_PORT --mysql-user=viewer --mysql-password=bench-pw --mysql-db=bench"
)
legs=(direct haproxy tp-analyst tp-viewer)
if [ -n "$TP2_ENV$TP2_BIN" ]; then
  leg_args[tp2-analyst]="--mysql-host=127.0.0.1 --mysql-port=$PROXY2_PORT --mysql-user=analyst --mysql-password=bench-pw --mysql-db=bench"
  legs+=(tp2-analyst)
fi

echo "preparing $TABLES tables of $TABLE_SIZE rows..." >&2
# shellcheck disable=SC2086
sysbench oltp_read_only ${leg_args[direct]} "${common[@]}" prepare >/dev/null

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
declare -A qps cpu_tp cpu_ha cpu_md

# run TEST LEG: one sysbench run; records queries/s and CPU µs per query.
run() {
  local test=$1 leg=$2 out t0 h0 m0 t1 h1 m1 q tp=$tp_pid
  [ "$leg" = tp2-analyst ] && tp=$tp2_pid
  t0=$(ticks "$tp") h0=$(ticks "$ha_pid") m0=$(ticks "$md_pid")
  # shellcheck disable=SC2086
  out=$(sysbench "$test" ${leg_args[$leg]} "${common[@]}" --threads="$THREADS" --time="$TIME" run)
  t1=$(ticks "$tp") h1=$(ticks "$ha_pid") m1=$(ticks "$md_pid")
  if ! grep -Eq 'ignored errors:[[:space:]]+0[[:space:]]' <<<"$out"; then
    echo "sysbench reported errors on $leg:" >&2
    echo "$out" >&2
  fi
  q=$(sed -nE 's/.*queries:[[:space:]]+([0-9]+).*/\1/p' <<<"$out")
  local k="$test/$leg"
  qps[$k]+="$(sed -nE 's/.*queries:[[:space:]]+[0-9]+[[:space:]]+\(([0-9.]+) per sec.*/\1/p' <<<"$out") "
  us() { awk -v d="$1" -v q="$q" -v hz="$hz" 'BEGIN {printf "%.1f", d*1e6/hz/q}'; }
  cpu_tp[$k]+="$(us $((t1 - t0))) "
  cpu_ha[$k]+="$(us $((h1 - h0))) "
  cpu_md[$k]+="$(us $((m1 - m0))) "
  echo "  $test $leg: $(awk '{print $NF}' <<<"${qps[$k]}") q/s" >&2
}
med() { tr ' ' '\n' <<<"$1" | grep . | median; }

echo
printf "sysbench, %s threads, %s x %s rows, %s runs x %ss interleaved, pool %s, tenantproxy env: %s%s\n" \
  "$THREADS" "$TABLES" "$TABLE_SIZE" "$RUNS" "$TIME" "$POOL_SIZE" "${TP_ENV:-(none)}" "${TP2_ENV:+, tp2 env: $TP2_ENV}${TP2_BIN:+, tp2 binary: $TP2_BIN}"
printf "CPU: microseconds of process time per query over the run (utime+stime); tp us/q is the tenantproxy of the leg\n"
for test in oltp_point_select oltp_read_only; do
  for leg in "${legs[@]}"; do # warm up every path and the buffer pool
    # shellcheck disable=SC2086
    sysbench "$test" ${leg_args[$leg]} "${common[@]}" --threads="$THREADS" --time=2 run >/dev/null
  done
  for i in $(seq "$RUNS"); do
    for leg in "${legs[@]}"; do run "$test" "$leg"; done
  done
  printf "\n%-18s %-11s %12s %9s %9s %12s %12s %12s\n" test leg "queries/s" "/haproxy" "/direct" "tp us/q" "haproxy us/q" "mariadb us/q"
  dq=$(med "${qps[$test/direct]}") hq=$(med "${qps[$test/haproxy]}")
  for leg in "${legs[@]}"; do
    k="$test/$leg" m=$(med "${qps[$test/$leg]}")
    printf "%-18s %-11s %12s %9s %9s %12s %12s %12s\n" "$test" "$leg" "$m" \
      "$(awk -v a="$m" -v b="$hq" 'BEGIN {printf "%.2f", a/b}')" \
      "$(awk -v a="$m" -v b="$dq" 'BEGIN {printf "%.2f", a/b}')" \
      "$(med "${cpu_tp[$k]}")" "$(med "${cpu_ha[$k]}")" "$(med "${cpu_md[$k]}")"
  done
done

echo
echo "latency of one prepared point select on one connection, $LAT_N round trips (us)"
declare -A lat_dsn=(
  [direct]="$MYSQL_USER@tcp($MYSQL_HOST:$MYSQL_PORT)/$db"
  [haproxy]="$MYSQL_USER@tcp(127.0.0.1:$HAPROXY_PORT)/$db"
  [tp-analyst]="analyst:bench-pw@tcp(127.0.0.1:$PROXY_PORT)/bench"
)
declare -A p50s p99s
for i in $(seq "$RUNS"); do
  for leg in direct haproxy tp-analyst; do
    read -r a b < <("$work/myclient" lat -dsn "${lat_dsn[$leg]}" -n "$LAT_N" -rows "$TABLE_SIZE")
    p50s[$leg]+="$a " p99s[$leg]+="$b "
  done
done
d50=$(med "${p50s[direct]}") d99=$(med "${p99s[direct]}")
printf "%-11s %9s %9s %12s %12s\n" leg p50 p99 "p50 added" "p99 added"
for leg in direct haproxy tp-analyst; do
  a=$(med "${p50s[$leg]}") b=$(med "${p99s[$leg]}")
  printf "%-11s %9s %9s %12s %12s\n" "$leg" "$a" "$b" \
    "$(awk -v a="$a" -v b="$d50" 'BEGIN {printf "%.1f", a-b}')" "$(awk -v a="$b" -v b="$d99" 'BEGIN {printf "%.1f", a-b}')"
done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

echo
echo "memory of tenantproxy (MB of RSS)"
# A fresh process for each figure, so that one measurement's peak is not
# the next one's baseline.
stop_tp; start_tp
"$work/myclient" lat -dsn "${lat_dsn[tp-analyst]}" -n 100 -rows "$TABLE_SIZE" >/dev/null # a session ran once
before=$(rss_kb "$tp_pid")
fifo="$work/idle.fifo"
mkfifo "$fifo"
"$work/myclient" idle -dsn "${lat_dsn[tp-analyst]}" -n "$IDLE" <"$fifo" >"$work/idle.out" &
idle_pid=$!
exec 9>"$fifo"
for _ in $(seq 600); do grep -q ready "$work/idle.out" 2>/dev/null && break; kill -0 "$idle_pid" 2>/dev/null || break; sleep 0.2; done
grep -q ready "$work/idle.out" || { echo "compare_mysql.sh: the idle connections did not open" >&2; exit 1; }
sleep 1
held=$(rss_kb "$tp_pid")
exec 9>&-
wait "$idle_pid" || true
idle_pid=""
printf "%-40s %8.1f (before %.1f, +%.1f; %.1f KB per connection)\n" "$IDLE idle client connections, total" \
  "$(bc -l <<<"$held/1024")" "$(bc -l <<<"$before/1024")" "$(bc -l <<<"($held-$before)/1024")" "$(bc -l <<<"($held-$before)/$IDLE")"

stop_tp; start_tp
"$work/myclient" lat -dsn "${lat_dsn[tp-analyst]}" -n 100 -rows "$TABLE_SIZE" >/dev/null
before=$(rss_kb "$tp_pid")
# ROWS rows: sbtest1 crossed with enough rows of sbtest2.
per=$(( (ROWS + TABLE_SIZE - 1) / TABLE_SIZE ))
n=$("$work/myclient" rows -dsn "${lat_dsn[tp-analyst]}" \
  -query "SELECT a.id, a.c FROM sbtest1 a CROSS JOIN (SELECT id FROM sbtest2 WHERE id <= $per) b LIMIT $ROWS")
peak=$(hwm_kb "$tp_pid")
printf "%-40s %8.1f (before %.1f, peak +%.1f)\n" "$n-row result, peak" \
  "$(bc -l <<<"$peak/1024")" "$(bc -l <<<"$before/1024")" "$(bc -l <<<"($peak-$before)/1024")"
