#!/usr/bin/env bash
# tenantproxy against direct Postgres and PgBouncer, with the CPU each
# process spends per transaction.
#
#   bash test/bench/compare_pg.sh      # RUNS=3 DURATION=10 CLIENTS=16 POOL=20 SCALE=10
#
# Interleaves, per run and per pgbench mode (-S, -M simple then -M prepared):
# direct, PgBouncer (transaction mode for simple, session mode for prepared:
# PgBouncer 1.18 cannot serve prepared statements in transaction mode), and
# tenantproxy in each of ROLES:
#   analyst  reads everything, no row cap
#   viewer   LIMIT injected, a masked column on pgbench_accounts, which -S
#            reads: each statement has its mask lookup in the same round trip
#   reader   LIMIT injected, a masked column on pgbench_branches, which -S
#            does not read: masks configured, no lookup needed
# Each tenantproxy instance of INSTANCES is measured: tp (Go's default
# GOMAXPROCS, one per core) and tp1 (GOMAXPROCS=1, one thread running Go
# code, as PgBouncer runs one). BASE=path/to/tenantproxy adds an instance
# "base" of another binary (GOMAXPROCS=1 too), measured in the same runs.
#
# CPU per transaction is utime+stime from /proc/<pid>/stat over the run,
# divided by the transactions pgbench counted: for the proxy process, for
# PgBouncer, and for the Postgres backends of the bench database (sampled
# every 0.5 s, so a backend's last half second before it exits can be lost;
# the machine's other Postgres clients are not counted).
#
# Then: latency added at one client (p50/p99 of pgbench -l per-transaction
# logs, -M simple, vs direct), the RSS of 2,000 idle client connections, and
# the RSS delta of one 2,000,000-row result (test/bench/pgclients).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-2}
POOL=${POOL:-20}
SCALE=${SCALE:-10}
LAT_DURATION=${LAT_DURATION:-10}
IDLE_CONNS=${IDLE_CONNS:-2000}
BIG_ROWS=${BIG_ROWS:-2000000}
MODES=${MODES:-simple prepared}
ROLES=${ROLES:-analyst viewer reader}
INSTANCES=${INSTANCES:-tp tp1}
BASE_ROLES=${BASE_ROLES:-analyst}
DB=tp_bench
PGHOST=127.0.0.1
PGPORT=5432
TP_PORT=${TP_PORT:-16532}
TP_BASE_PORT=${TP_BASE_PORT:-16535}
TP1_PORT=${TP1_PORT:-16536}
TP_MEM_PORT=${TP_MEM_PORT:-16537}
BOUNCER_TX_PORT=${BOUNCER_TX_PORT:-16533}
BOUNCER_SESSION_PORT=${BOUNCER_SESSION_PORT:-16534}
HZ=$(getconf CLK_TCK)

work=$(mktemp -d)
chmod 755 "$work"; chown postgres "$work" 2>/dev/null || true
cleanup() {
  for p in "${pidof[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/bouncer-*.pid; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

command -v pgbench >/dev/null || { echo "pgbench is required"; exit 1; }
BOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$BOUNCER" ] || { echo "pgbouncer is required (apt-get install pgbouncer)"; exit 1; }
ulimit -n 20000 2>/dev/null || true

echo "preparing $DB (scale $SCALE)"
psql -h $PGHOST -p $PGPORT -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null 2>&1
pgbench -h $PGHOST -p $PGPORT -U postgres -i -s "$SCALE" -q "$DB" >/dev/null 2>&1

go build -o "$work/tenantproxy" ./cmd/tenantproxy
go build -o "$work/pgclients" ./test/bench/pgclients

# tp_config PORT: a tenant with the bench database and the roles above.
tp_config() {
  cat <<YAML
listen: {postgres: "127.0.0.1:$1", mysql: "", admin: ""}
log: {level: warn}
tenants:
  - id: bench
    engine: postgres
    dsn: "postgres://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
    pool: {size: $POOL, timeout: 30s}
    roles:
      viewer: {masked_columns: [pgbench_accounts.filler]}
      reader: {access: read, max_rows: 1000, masked_columns: [pgbench_branches.filler]}
users:
  - {name: analyst, password: bench, tenants: {bench: analyst}}
  - {name: viewer, password: bench, tenants: {bench: viewer}}
  - {name: reader, password: bench, tenants: {bench: reader}}
YAML
}
declare -A pidof portof binof procsof
# Each front end runs only while it is measured: Postgres allows 100
# connections, and every pool of 20 kept open would count against it.
define_tp() { # name binary port [GOMAXPROCS]
  tp_config "$3" > "$work/$1.yaml"
  binof[$1]=$2; portof[$1]=$3; procsof[$1]=${4:-}
}
start_tp() { # name
  local n=$1
  if [ -n "${procsof[$n]}" ]; then
    GOMAXPROCS=${procsof[$n]} "${binof[$n]}" --config "$work/$n.yaml" 2>>"$work/$n.log" &
  else
    "${binof[$n]}" --config "$work/$n.yaml" 2>>"$work/$n.log" &
  fi
  pidof[$n]=$!
  wait_port "${portof[$n]}"
}
stop_pid() { kill "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.1; done; }
wait_port() { for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on port $1" >&2; return 1; }
for inst in $INSTANCES; do
  case $inst in
    tp)  define_tp tp "$work/tenantproxy" "$TP_PORT" ;;
    tp1) define_tp tp1 "$work/tenantproxy" "$TP1_PORT" 1 ;;
  esac
done
if [ -n "${BASE:-}" ]; then define_tp base "$BASE" "$TP_BASE_PORT" 1; fi

echo '"postgres" ""' > "$work/users.txt"
for mode in transaction session; do
  port=$BOUNCER_TX_PORT; [ $mode = session ] && port=$BOUNCER_SESSION_PORT
  cat > "$work/bouncer-$mode.ini" <<INI
[databases]
$DB = host=$PGHOST port=$PGPORT dbname=$DB user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = trust
auth_file = $work/users.txt
pool_mode = $mode
default_pool_size = $POOL
max_client_conn = $((IDLE_CONNS + 100))
unix_socket_dir =
logfile = $work/bouncer-$mode.log
pidfile = $work/bouncer-$mode.pid
INI
  chmod 644 "$work"/*.ini "$work"/users.txt
done
start_bouncer() { # mode
  su postgres -s /bin/sh -c "ulimit -n 20000 2>/dev/null; $BOUNCER -d -q $work/bouncer-$1.ini"
  local port=$BOUNCER_TX_PORT; [ "$1" = session ] && port=$BOUNCER_SESSION_PORT
  wait_port "$port"
  # The daemon may write its pid file just after it listens.
  for _ in $(seq 50); do [ -s "$work/bouncer-$1.pid" ] && break; sleep 0.1; done
  pidof[bouncer-$1]=$(cat "$work/bouncer-$1.pid")
}
# up TARGET MODE / down: the front end TARGET needs, started and stopped.
running=""
up() {
  case $1 in
    direct) running="" ;;
    bouncer) local m=transaction; [ "$2" = prepared ] && m=session
             start_bouncer $m; running=${pidof[bouncer-$m]} ;;
    *-*) start_tp "${1%%-*}"; running=${pidof[${1%%-*}]} ;;
  esac
}
down() { [ -n "$running" ] && stop_pid "$running"; running=""; }

cpu_of() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# backends_cpu: "pid ticks" of every backend of the bench database.
backends_cpu() {
  for p in $(pgrep -f "^postgres: .*postgres $DB " || true); do
    echo "$p $(cpu_of "$p")"
  done
}

# conn TARGET MODE: host/port/user/db arguments of pgbench, and the
# process whose CPU is measured.
conn() {
  case $1 in
    direct)  echo "-h $PGHOST -p $PGPORT -U postgres $DB" ;;
    bouncer) if [ "$2" = prepared ]; then echo "-h 127.0.0.1 -p $BOUNCER_SESSION_PORT -U postgres $DB"; else echo "-h 127.0.0.1 -p $BOUNCER_TX_PORT -U postgres $DB"; fi ;;
    *-*)     echo "-h 127.0.0.1 -p ${portof[${1%%-*}]} -U ${1#*-} bench" ;;
  esac
}
proc_of() {
  case $1 in
    direct) echo "" ;;
    bouncer) if [ "$2" = prepared ]; then echo "${pidof[bouncer-session]}"; else echo "${pidof[bouncer-transaction]}"; fi ;;
    *-*) echo "${pidof[${1%%-*}]}" ;;
  esac
}

# measure TARGET MODE: prints "tps proxy_us_per_txn backend_us_per_txn"
measure() {
  local target=$1 mode=$2 proc out p0=0 p1=0
  up "$target" "$mode"
  proc=$(proc_of "$target" "$mode")
  # shellcheck disable=SC2046
  PGPASSWORD=bench pgbench -n -S -c "$CLIENTS" -j "$THREADS" -T 1 -M "$mode" $(conn "$target" "$mode") >/dev/null 2>&1 || true
  declare -A first last
  while read -r p v; do [ -n "$p" ] && first[$p]=$v; done < <(backends_cpu)
  [ -n "$proc" ] && p0=$(cpu_of "$proc")
  # shellcheck disable=SC2046
  PGPASSWORD=bench pgbench -n -S -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" $(conn "$target" "$mode") >"$work/out" 2>&1 &
  local bench=$!
  while kill -0 $bench 2>/dev/null; do
    while read -r p v; do [ -n "$p" ] && last[$p]=$v; done < <(backends_cpu)
    sleep 0.5
  done
  wait $bench || true
  [ -n "$proc" ] && p1=$(cpu_of "$proc")
  while read -r p v; do [ -n "$p" ] && last[$p]=$v; done < <(backends_cpu)
  down
  out=$(cat "$work/out")
  local failed tx tps bt=0
  failed=$(grep -oE 'number of failed transactions: [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo "?")
  [ "$failed" = 0 ] || { echo "$target $mode: failed transactions: $failed" >&2; echo "$out" >&2; }
  tx=$(grep -oE 'number of transactions actually processed: [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo 0)
  tps=$(grep -oE 'tps = [0-9.]+' <<<"$out" | head -1 | grep -oE '[0-9.]+' || echo 0)
  for p in "${!last[@]}"; do bt=$((bt + last[$p] - ${first[$p]:-0})); done
  [ "$tx" -gt 0 ] || tx=1
  echo "$tps $(echo "($p1-$p0)*1000000/$HZ/$tx" | bc -l) $(echo "$bt*1000000/$HZ/$tx" | bc -l)"
}

declare -A tps_r cpu_r be_r
targets=(direct bouncer)
for inst in $INSTANCES; do for role in $ROLES; do targets+=("$inst-$role"); done; done
if [ -n "${BASE:-}" ]; then for role in $BASE_ROLES; do targets+=("base-$role"); done; fi
for run in $(seq 1 "$RUNS"); do
  for mode in $MODES; do
    for target in "${targets[@]}"; do
      read -r t c b < <(measure "$target" "$mode")
      tps_r[$target.$mode]+="$t "; cpu_r[$target.$mode]+="$c "; be_r[$target.$mode]+="$b "
      printf 'run %d  %-8s %-16s %8.0f tps  proxy %5.1f us/txn  backends %5.1f us/txn\n' "$run" "$mode" "$target" "$t" "$c" "$b"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "pgbench -S, $CLIENTS clients, $THREADS threads, ${DURATION}s x $RUNS runs, pool $POOL, scale $SCALE; medians"
echo "(PgBouncer $("$BOUNCER" --version | head -1 | awk '{print $2}'): transaction mode for -M simple, session mode for -M prepared)"
echo "| mode | target | tps | vs direct | vs PgBouncer | proxy CPU us/txn | backends CPU us/txn |"
echo "|---|---|---|---|---|---|---|"
for mode in $MODES; do
  d=$(echo "${tps_r[direct.$mode]}" | median)
  b=$(echo "${tps_r[bouncer.$mode]}" | median)
  for target in "${targets[@]}"; do
    t=$(echo "${tps_r[$target.$mode]}" | median)
    c=$(echo "${cpu_r[$target.$mode]}" | median)
    be=$(echo "${be_r[$target.$mode]}" | median)
    proxy=$(printf '%.1f' "$c"); [ "$target" = direct ] && proxy=-
    printf '| -M %s | %s | %.0f | %.2fx | %.2fx | %s | %.1f |\n' "$mode" "$target" "$t" "$(echo "$t/$d" | bc -l)" "$(echo "$t/$b" | bc -l)" "$proxy" "$be"
  done
done

# Latency at one client: per-transaction latencies (us, third column of
# pgbench -l), p50 and p99, and what each front end adds to direct.
echo
echo "latency at 1 client, pgbench -S -M simple, ${LAT_DURATION}s each (us per round trip)"
pct() { sort -n "$1" | awk -v q="$2" '{a[NR]=$1} END {i=int(NR*q); if (i<1) i=1; print a[i]}'; }
declare -A p50 p99
lat_targets=("${targets[@]}")
for target in "${lat_targets[@]}"; do
  rm -f "$work"/lat.*
  up "$target" simple
  # shellcheck disable=SC2046
  PGPASSWORD=bench pgbench -n -S -c 1 -j 1 -T "$LAT_DURATION" -M simple -l --log-prefix="$work/lat" $(conn "$target" simple) >"$work/lat.out" 2>&1 || { echo "$target: pgbench failed" >&2; cat "$work/lat.out" >&2; }
  down
  cat "$work"/lat.[0-9]* | awk '{print $3}' > "$work/lat.all"
  p50[$target]=$(pct "$work/lat.all" 0.50); p99[$target]=$(pct "$work/lat.all" 0.99)
done
echo "| target | p50 | p99 | p50 added | p99 added |"
echo "|---|---|---|---|---|"
for target in "${lat_targets[@]}"; do
  printf '| %s | %d | %d | %+d | %+d |\n' "$target" "${p50[$target]}" "${p99[$target]}" \
    $((p50[$target] - p50[direct])) $((p99[$target] - p99[direct]))
done

# Memory. The big result first, on a fresh process's RSS, then the idle
# connections (PgBouncer beside it for reference).
echo
echo "memory"
# A fresh tenantproxy (Go's default GOMAXPROCS), nothing run on it before.
define_tp mem "$work/tenantproxy" "$TP_MEM_PORT"
start_tp mem
sleep 1
printf 'tenantproxy at start: %s\n' "$(grep VmRSS "/proc/${pidof[mem]}/status" | tr -s ' \t' ' ')"
printf 'tenantproxy, %d-row result (analyst): ' "$BIG_ROWS"
"$work/pgclients" -dsn "postgres://analyst:bench@127.0.0.1:$TP_MEM_PORT/bench?sslmode=disable" -pid "${pidof[mem]}" -n "$BIG_ROWS" rows
printf 'tenantproxy, %d idle client connections: ' "$IDLE_CONNS"
"$work/pgclients" -dsn "postgres://analyst:bench@127.0.0.1:$TP_MEM_PORT/bench?sslmode=disable" -pid "${pidof[mem]}" -n "$IDLE_CONNS" idle
stop_pid "${pidof[mem]}"
start_bouncer transaction
printf 'PgBouncer (transaction mode), %d idle client connections: ' "$IDLE_CONNS"
"$work/pgclients" -dsn "postgres://postgres@127.0.0.1:$BOUNCER_TX_PORT/$DB?sslmode=disable" -pid "${pidof[bouncer-transaction]}" -n "$IDLE_CONNS" idle
