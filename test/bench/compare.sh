#!/usr/bin/env bash
# The relay's cost on both engines in one run, every leg plaintext:
# Postgres (pgbench -S) next to direct and PgBouncer, then MySQL (sysbench
# oltp_point_select and oltp_read_only) next to direct and HAProxy in TCP
# mode. Each script starts and stops its anchors and prints medians of
# interleaved runs, ratios, CPU microseconds per transaction of every
# process (from /proc), the latency added at one client, the RSS of 2,000
# idle connections and of a 2,000,000-row result.
#
#   bash test/bench/compare.sh     # settings: see compare_pg.sh and compare_mysql.sh
set -euo pipefail
cd "$(dirname "$0")"
echo "== Postgres =="
bash ./compare_pg.sh
echo
echo "== MySQL =="
# With BASE (an earlier build, as compare_pg.sh takes it), the MySQL side's
# second tenantproxy is that build, with Go's default GOMAXPROCS as the
# first; without, it is this build with GOMAXPROCS=1.
if [ -n "${BASE:-}" ]; then
  TP2_ENV=${TP2_ENV:-} TP2_BIN=$BASE bash ./compare_mysql.sh
else
  TP2_ENV=${TP2_ENV:-GOMAXPROCS=1} bash ./compare_mysql.sh
fi
