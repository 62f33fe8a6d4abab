#!/usr/bin/env bash
# System calls of tenantproxy per round trip at one client, counted with
# strace over a fixed number of round trips: pgbench -S -M simple (analyst
# and viewer) on the Postgres front end, and a prepared point select
# (test/bench/myclient) on the MySQL front end.
#
#   bash test/bench/syscalls.sh      # N=3000
#
# The relay's own share is read and write: one write per direction and one
# successful read per direction is the least a relay can do; a read that
# fails with EAGAIN is Go's poller finding the socket empty before it parks
# the goroutine. epoll_pwait, futex and nanosleep are the Go scheduler's
# (netpoll, waking threads, sysmon); strace slows every call, so their
# counts under strace are only indicative. The MySQL count includes the
# client's 500 warm-up selects.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-3000}
PG_DB=tp_sysc_pg
MY_DB=tp_sysc_my
PORT_PG=${PORT_PG:-16642}
PORT_MY=${PORT_MY:-16643}

for tool in strace pgbench psql mariadb go; do
  command -v $tool >/dev/null || { echo "$tool is required"; exit 1; }
done

work=$(mktemp -d)
tp=""
cleanup() {
  [ -n "$tp" ] && kill "$tp" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $MY_DB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB"
pgbench -h 127.0.0.1 -U postgres -i -s 1 -q $PG_DB >/dev/null 2>&1
mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $MY_DB; CREATE DATABASE $MY_DB"
mariadb -h 127.0.0.1 -u root $MY_DB -e "CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL);
  INSERT INTO sbtest1 SELECT seq, seq*7, CONCAT('c-', seq), CONCAT('pad-', seq) FROM seq_1_to_10000;"

go build -o "$work/tenantproxy" ./cmd/tenantproxy
go build -o "$work/myclient" ./test/bench/myclient
cat > "$work/tp.yaml" <<YAML
listen: {postgres: "127.0.0.1:$PORT_PG", mysql: "127.0.0.1:$PORT_MY", admin: ""}
log: {level: warn}
tenants:
  - id: bench
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/$PG_DB?sslmode=disable"
    pool: {size: 4, timeout: 30s}
    roles:
      viewer: {masked_columns: [pgbench_accounts.filler]}
  - {id: my, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/$MY_DB", pool: {size: 4, timeout: 3s}}
users:
  - {name: analyst, password: bench, tenants: {bench: analyst, my: analyst}}
  - {name: viewer, password: bench, tenants: {bench: viewer}}
YAML
"$work/tenantproxy" --config "$work/tp.yaml" 2>"$work/tp.log" &
tp=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT_MY) 2>/dev/null && break; sleep 0.1; done

# count LABEL ROUNDTRIPS COMMAND...: the proxy's system calls while COMMAND runs.
count() {
  local label=$1 n=$2; shift 2
  strace -f -c -p "$tp" -o "$work/strace.out" 2>/dev/null &
  local st=$!
  sleep 1
  "$@" >/dev/null 2>&1
  sleep 0.3
  kill -INT $st; wait $st 2>/dev/null || true
  printf '%s (%d round trips):' "$label" "$n"
  awk -v n="$n" 'NR > 2 && $NF != "total" && $4 ~ /^[0-9]+$/ {
      err = ($5 ~ /^[0-9]+$/) ? $5 : 0
      if ($NF == "read") printf "  read %.2f (EAGAIN %.2f)", $4/n, err/n
      else if ($NF ~ /^(write|epoll_pwait|futex|nanosleep)$/) printf "  %s %.2f", $NF, $4/n
    } END {print ""}' "$work/strace.out"
}

for role in analyst viewer; do
  # warm-up: pool connection, policy cache
  PGPASSWORD=bench pgbench -n -S -M simple -c 1 -t 200 -h 127.0.0.1 -p $PORT_PG -U $role bench >/dev/null 2>&1
  count "postgres $role, per transaction" "$N" env PGPASSWORD=bench pgbench -n -S -M simple -c 1 -t "$N" -h 127.0.0.1 -p $PORT_PG -U $role bench
done
count "mysql analyst, per statement" $((N + 500)) "$work/myclient" lat -dsn "analyst:bench@tcp(127.0.0.1:$PORT_MY)/my" -n "$N" -rows 10000
