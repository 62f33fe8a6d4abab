#!/usr/bin/env bash
# Installs the client matrix's drivers: Debian packages for the Python
# drivers, the JDBC jars and a headless JRE; npm for the Node drivers (into
# test/clients/node). Fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")"

pkgs=(python3 python3-pymysql python3-mysqldb python3-psycopg python3-asyncpg
  libpostgresql-jdbc-java libmariadb-java default-jre-headless mariadb-client nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JRE or Node.js installed another way is fine.
if command -v java >/dev/null 2>&1; then missing=("${missing[@]/default-jre-headless}"); fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f node/node_modules/mysql2/package.json ] || [ ! -f node/node_modules/pg/package.json ]; then
  echo "installing: npm mysql2 pg"
  (cd node && npm install --no-audit --no-fund --silent)
fi
