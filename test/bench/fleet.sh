#!/usr/bin/env bash
# fleet.sh — what the fleet's cluster-wide limits cost on the statement path.
#
#   bash test/bench/fleet.sh        # RUNS=3 DURATION=10 CLIENTS=8 POOL=8
#
# pgbench -S (point selects), interleaved runs, medians, three legs:
#   alone      one proxy, no limits configured
#   member     one proxy of a three-proxy fleet (Redis), with qps and
#              max_client_connections configured (set far above the load,
#              so that what is measured is their cost, not their effect)
#   fleet-lb   the same three proxies behind HAProxy in TCP mode, round robin
#              (needs haproxy: apt-get install haproxy)
# Prints tps and p50 latency per leg and the member/alone ratio. Every leg
# is plaintext (sslmode=disable).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
POOL=${POOL:-8}
SCALE=${SCALE:-5}
DB=tp_bench_fleet
BASE=${BASE_PORT:-17400}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  rm -rf "$work"
}
trap cleanup EXIT

command -v pgbench >/dev/null || { echo "pgbench is required (apt-get install postgresql-client)"; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)"; exit 1; }

echo "preparing $DB (scale $SCALE)" >&2
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
pgbench -h 127.0.0.1 -U postgres -i -s "$SCALE" -q "$DB" >/dev/null 2>&1
echo "building tenantproxy" >&2
go build -o "$work/tenantproxy" ./cmd/tenantproxy

redis_port=$((BASE + 99))
redis-server --bind 127.0.0.1 --port $redis_port --save "" --appendonly no >/dev/null &
pids+=($!)

tenant() { # limits
  cat <<YAML
tenants:
  - id: bench
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
    pool: {size: $POOL, timeout: 30s}
    $1
users:
  - {name: app, password: bench, tenants: {bench: analyst}}
YAML
}

cat > "$work/alone.yaml" <<YAML
listen: {postgres: "127.0.0.1:$BASE", mysql: "", admin: ""}
log: {level: warn}
$(tenant "")
YAML
"$work/tenantproxy" --config "$work/alone.yaml" 2>"$work/alone.log" &
pids+=($!)

for i in 1 2 3; do
  cat > "$work/m$i.yaml" <<YAML
listen: {postgres: "127.0.0.1:$((BASE + i))", mysql: "", admin: ""}
log: {level: warn}
redis: {addr: "127.0.0.1:$redis_port"}
fleet: {enabled: true, peer_listen: "127.0.0.1:$((BASE + 10 + i))", secret: "bench-fleet-secret-0123456789"}
$(tenant "limits: {qps: 10000000, max_client_connections: 100000}")
YAML
  "$work/tenantproxy" --config "$work/m$i.yaml" 2>"$work/m$i.log" &
  pids+=($!)
done

legs=(alone member)
if command -v haproxy >/dev/null; then
  cat > "$work/haproxy.cfg" <<CFG
defaults
  mode tcp
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend pg
  bind 127.0.0.1:$((BASE + 20))
  default_backend members
backend members
  balance roundrobin
  server m1 127.0.0.1:$((BASE + 1))
  server m2 127.0.0.1:$((BASE + 2))
  server m3 127.0.0.1:$((BASE + 3))
CFG
  haproxy -f "$work/haproxy.cfg" -db >/dev/null 2>&1 &
  pids+=($!)
  legs+=(fleet-lb)
else
  echo "haproxy not installed: the fleet-lb leg is left out" >&2
fi
sleep 1.5

port() { case $1 in alone) echo $BASE ;; member) echo $((BASE + 1)) ;; fleet-lb) echo $((BASE + 20)) ;; esac; }
declare -A tps lat
for run in $(seq 1 "$RUNS"); do
  for leg in "${legs[@]}"; do
    rm -f "$work"/lat.*
    out=$(cd "$work" && PGPASSWORD=bench pgbench -h 127.0.0.1 -p "$(port "$leg")" -U app -n -S -c "$CLIENTS" -j "$THREADS" \
      -T "$DURATION" -M simple -l --sampling-rate 0.2 --log-prefix lat bench 2>&1)
    t=$(grep -oE 'tps = [0-9.]+' <<<"$out" | head -1 | grep -oE '[0-9.]+')
    # p50 of the sampled per-transaction latencies (third field, µs), in ms
    l=$(cat "$work"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}')
    failed=$(grep -oE 'number of failed transactions: [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo "?")
    [ "$failed" = 0 ] || { echo "$leg: failed transactions: $failed" >&2; echo "$out" >&2; }
    tps[$leg]+="$t "
    lat[$leg]+="$l "
    printf 'run %d  %-9s %9.0f tps  %6.3f ms\n' "$run" "$leg" "$t" "$l" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "pgbench -S -M simple, $CLIENTS clients, ${DURATION}s x $RUNS runs, pool $POOL; medians (latency: p50 of a 20% sample of transactions)"
echo "| leg | tps | p50 ms |"
echo "|---|---|---|"
for leg in "${legs[@]}"; do
  printf '| %s | %.0f | %.3f |\n' "$leg" "$(echo "${tps[$leg]}" | median)" "$(echo "${lat[$leg]}" | median)"
done
a=$(echo "${tps[alone]}" | median); m=$(echo "${tps[member]}" | median)
la=$(echo "${lat[alone]}" | median); lm=$(echo "${lat[member]}" | median)
printf 'fleet member with limits / one proxy without: %.3fx tps, %.3fx p50\n' "$(echo "$m/$a" | bc -l)" "$(echo "$lm/$la" | bc -l)"
