#!/bin/sh
# First start of an empty PostgreSQL volume only (docker-entrypoint-initdb.d): the ITR read
# model gets its own role and database beside Temporal's (auto-setup creates `temporal` and
# `temporal_visibility` itself as POSTGRES_USER).
set -eu
: "${ITR_DB_PASSWORD:?set ITR_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v itr_password="$ITR_DB_PASSWORD" <<'SQL'
CREATE ROLE itr LOGIN PASSWORD :'itr_password';
CREATE DATABASE itr OWNER itr;
SQL
