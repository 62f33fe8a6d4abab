#!/usr/bin/env bash
# pgbench -S through tenantproxy, side by side with direct Postgres and PgBouncer.
#
#   bash test/bench/pgbench.sh            # RUNS=5 DURATION=10 CLIENTS=16 POOL=16
#
# Interleaves, per run: direct, PgBouncer, tenantproxy, in -M simple (PgBouncer
# in transaction mode) and -M prepared (PgBouncer in session mode, since
# PgBouncer before 1.21 cannot serve prepared statements in transaction mode;
# tenantproxy stays in transaction mode). Prints medians and ratios.
# PgBouncer in session mode needs a pool at least as large as CLIENTS.
# Extra: ROLE=viewer runs tenantproxy with the viewer role (LIMIT injection on).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-2}
POOL=${POOL:-16}
SCALE=${SCALE:-10}
ROLES=${ROLES:-admin}
DB=tp_bench
PGHOST=127.0.0.1
PGPORT=5432
TP_PORT=${TP_PORT:-16532}
BOUNCER_TX_PORT=${BOUNCER_TX_PORT:-16533}
BOUNCER_SESSION_PORT=${BOUNCER_SESSION_PORT:-16534}

work=$(mktemp -d)
chmod 755 "$work"; chown postgres "$work" 2>/dev/null || true
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/bouncer-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

command -v pgbench >/dev/null || { echo "pgbench is required"; exit 1; }
BOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$BOUNCER" ] || { echo "pgbouncer is required (apt-get install pgbouncer)"; exit 1; }

echo "preparing $DB (scale $SCALE)"
psql -h $PGHOST -p $PGPORT -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
pgbench -h $PGHOST -p $PGPORT -U postgres -i -s "$SCALE" -q "$DB" >/dev/null 2>&1

go build -o "$work/tenantproxy" ./cmd/tenantproxy
cat > "$work/tp.yaml" <<YAML
listen: {postgres: "127.0.0.1:$TP_PORT", mysql: "", admin: ""}
log: {level: warn}
tenants:
  - id: bench
    engine: postgres
    dsn: "postgres://postgres@$PGHOST:$PGPORT/$DB?sslmode=disable"
    pool: {size: $POOL, timeout: 30s}
users:
  - {name: admin, password: bench, tenants: {bench: admin}}
  - {name: viewer, password: bench, tenants: {bench: viewer}}
YAML
"$work/tenantproxy" --config "$work/tp.yaml" 2>"$work/tp.log" &
pids+=($!)

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
max_client_conn = 1000
unix_socket_dir =
logfile = $work/bouncer-$mode.log
pidfile = $work/bouncer-$mode.pid
INI
  echo '"postgres" ""' > "$work/users.txt"
  chmod 644 "$work"/*
  su postgres -s /bin/sh -c "$BOUNCER -q $work/bouncer-$mode.ini" &
  pids+=($!)
done
sleep 1

tps() { # target mode
  local target=$1 mode=$2 out
  case $target in
    direct)   out=$(pgbench -h $PGHOST -p $PGPORT -U postgres -n -S -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" "$DB" 2>&1) ;;
    bouncer)  local p=$BOUNCER_TX_PORT; [ "$mode" = prepared ] && p=$BOUNCER_SESSION_PORT
              out=$(pgbench -h 127.0.0.1 -p "$p" -U postgres -n -S -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" "$DB" 2>&1) ;;
    tp-*)     out=$(PGPASSWORD=bench pgbench -h 127.0.0.1 -p "$TP_PORT" -U "${target#tp-}" -n -S -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" bench 2>&1) ;;
  esac
  local failed
  failed=$(grep -oE 'number of failed transactions: [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo "?")
  [ "$failed" = 0 ] || { echo "$target $mode: failed transactions: $failed" >&2; echo "$out" >&2; }
  grep -oE 'tps = [0-9.]+' <<<"$out" | head -1 | grep -oE '[0-9.]+'
}

declare -A results
targets=(direct bouncer)
for r in $ROLES; do targets+=("tp-$r"); done
for run in $(seq 1 "$RUNS"); do
  for mode in simple prepared; do
    for target in "${targets[@]}"; do
      v=$(tps "$target" "$mode")
      results[$target.$mode]+="$v "
      printf 'run %d  %-8s %-12s %10.0f tps\n' "$run" "$mode" "$target" "$v"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "pgbench -S, $CLIENTS clients, $THREADS threads, ${DURATION}s x $RUNS runs, pool $POOL, scale $SCALE; medians"
printf '| mode | direct | PgBouncer | %s |\n' "$(printf '%s | ' "${targets[@]:2}" | sed 's/ | $//')"
for mode in simple prepared; do
  d=$(echo "${results[direct.$mode]}" | median)
  b=$(echo "${results[bouncer.$mode]}" | median)
  row="| -M $mode | $(printf '%.0f' "$d") | $(printf '%.0f' "$b") |"
  for target in "${targets[@]:2}"; do
    t=$(echo "${results[$target.$mode]}" | median)
    row+=" $(printf '%.0f (%.2fx direct, %.2fx PgBouncer)' "$t" "$(echo "$t/$d" | bc -l)" "$(echo "$t/$b" | bc -l)") |"
  done
  echo "$row"
done
echo "(PgBouncer: transaction mode for -M simple, session mode for -M prepared)"
