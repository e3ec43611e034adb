#!/usr/bin/env bash
# The whole test suite, on a fresh machine: starts PostgreSQL if it is not up, installs what the tests
# need, then runs every Rust test (unit + end-to-end on SQLite and PostgreSQL) and the Odoo addon's checks.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"

start_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return; fi
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p 5432 -q && return
    sleep 0.5
  done
  echo "PostgreSQL did not become ready" >&2
  exit 1
}

drop_old_test_databases() {
  psql "$TEST_POSTGRES_URL/postgres" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'rs_test_%'" 2>/dev/null |
    while read -r db; do psql "$TEST_POSTGRES_URL/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
}

start_postgres
drop_old_test_databases

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# Prometheus (its promtool, and the server the monitoring test scrapes with) and docker-compose.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null || ! command -v docker-compose >/dev/null; then
  echo "installing prometheus and docker-compose (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus docker-compose >/dev/null
fi

# The server's shape (README, "How data flows"): function length, import cycles, pure rules.
python3 scripts/architecture-checks.py

# The crash test runs the server as a separate process (and kills it), and the addon's client tests run
# both binaries: build them first.
cargo build -p regnakes-sync -p regnakes-sim --bins
cargo nextest run --workspace --no-fail-fast "$@"

# The monitoring files: Prometheus config and alert rules (with their unit tests), and the compose stack.
(cd docker/prometheus && promtool check config prometheus.yml && promtool test rules rules.test.yml)
# The TLS variant names certificate files that exist only inside its containers: syntax only.
(cd docker/prometheus && promtool check config --syntax-only prometheus-tls.yml)
docker-compose -f docker/docker-compose.yml config -q && echo "docker-compose config: valid"
docker-compose -f docker/docker-compose.yml -f docker/docker-compose.tls.yml config -q &&
  echo "docker-compose config with TLS: valid"

# The Odoo addon: static checks and its client library against the real server (no Odoo needed), then
# its Odoo tests when ODOO_SRC names an Odoo 17 tree (skipped otherwise; see scripts/odoo-addon-tests.sh).
./scripts/addon-checks.sh
./scripts/odoo-addon-tests.sh

