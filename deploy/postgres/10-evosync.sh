#!/bin/sh
# Runs once, on the first start of an empty data directory: evosync's ledger gets a database and
# a role of its own beside Evolution's.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$EVOSYNC_DB_PASSWORD" <<'SQL'
create role evosync login password :'pw';
create database evosync owner evosync;
SQL
