#!/usr/bin/env bash
# The Odoo addon's own tests (TransactionCase, HttpCase, the Sync-now tour) in a real Odoo 17, against the
# real RegNakes Sync server and simulator started here. Odoo is not part of this repository: name an
# Odoo 17.0 source tree with ODOO_SRC (and its Python with ODOO_PYTHON). Without ODOO_SRC it says it
# skipped and exits 0, so CI (which cannot fetch Odoo) runs the static checks and client tests only.
#
#   ODOO_SRC=/path/to/odoo17 ODOO_PYTHON=/path/to/venv/bin/python ./scripts/odoo-addon-tests.sh
#
# Odoo connects to PostgreSQL as ODOO_DB_USER (default: odoo; Odoo refuses the `postgres` superuser) on
# 127.0.0.1:5432 and uses a throw-away database, ODOO_TEST_DB (default: regnakes_addon_test).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${ODOO_SRC:-}" ]]; then
  echo "odoo-addon-tests: skipped (set ODOO_SRC to an Odoo 17.0 source tree to run them)"
  exit 0
fi
ODOO_PYTHON="${ODOO_PYTHON:-python3}"
ODOO_DB_USER="${ODOO_DB_USER:-odoo}"
ODOO_DB_PASSWORD="${ODOO_DB_PASSWORD:-odoo}"
ODOO_TEST_DB="${ODOO_TEST_DB:-regnakes_addon_test}"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
# Odoo's Ed25519 key pair (the server holds only the public key), an old shared secret the server no
# longer accepts, and the notification's own secret.
openssl genpkey -algorithm ed25519 -out "$WORK/odoo-private.pem"
PUBLIC_KEY="$(openssl pkey -in "$WORK/odoo-private.pem" -pubout)"
OLD_SECRET="addon-tests-old-secret-$(openssl rand -hex 16)"
NOTIFY_SECRET="addon-tests-notify-$(openssl rand -hex 16)"

cargo build -q -p regnakes-sync -p regnakes-sim

./target/debug/regnakes-sim --listen 127.0.0.1:0 --records 400 --bad-share 0.1 --seed 5 2>"$WORK/sim.log" &
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/sim.log" && break; sleep 0.1; done
SIM_URL="$(sed -n 's/^regnakes-sim listening on \([^ ]*\).*/\1/p' "$WORK/sim.log")"

env -i PATH="$PATH" DATABASE_URL="sqlite://$WORK/server.db?mode=rwc" LISTEN_ADDR=127.0.0.1:0 \
  REGNAKES_BASE_URL="$SIM_URL" REGNAKES_CLIENT_ID=sdmk-etl REGNAKES_CLIENT_SECRET=sim-secret \
  REGNAKES_PAGE_SIZE=100 RETRY_BASE_DELAY_MS=20 RPC_JWT_PUBLIC_KEY="$PUBLIC_KEY" ODOO_NOTIFY_SECRET="$NOTIFY_SECRET" SYNC_SCHEDULE=off SYNC_FULL_SCHEDULE=off RUST_LOG=warn \
  NIK_INDEX_KEY=addon-tests-index-key-addon-tests-index-key NIK_ENCRYPTION_KEY="t1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" \
  ./target/debug/regnakes-sync serve >"$WORK/server.log" 2>&1 &
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
SERVER_URL="$(sed -n "s/^regnakes-sync listening on \(.*\)$/\1/p" "$WORK/server.log")"
echo "odoo-addon-tests: simulator $SIM_URL, server $SERVER_URL"

dropdb -h 127.0.0.1 -U "$ODOO_DB_USER" --if-exists "$ODOO_TEST_DB"
# The live-dashboard tests start, restart and kill servers of their own (tests/processes.py).
REGNAKES_TEST_SERVER_BIN="$PWD/target/debug/regnakes-sync" REGNAKES_TEST_SIM_BIN="$PWD/target/debug/regnakes-sim" \
  REGNAKES_TEST_URL="$SERVER_URL" REGNAKES_TEST_PRIVATE_KEY_FILE="$WORK/odoo-private.pem" \
  REGNAKES_TEST_SECRET="$OLD_SECRET" REGNAKES_TEST_NOTIFY_SECRET="$NOTIFY_SECRET" \
  "$ODOO_PYTHON" "$ODOO_SRC/odoo-bin" \
  --addons-path="$ODOO_SRC/odoo/addons,$PWD/odoo_addon" \
  --db_host=127.0.0.1 --db_port=5432 --db_user="$ODOO_DB_USER" --db_password="$ODOO_DB_PASSWORD" \
  -d "$ODOO_TEST_DB" --db-filter="^${ODOO_TEST_DB}\$" --http-interface=127.0.0.1 --http-port="${ODOO_HTTP_PORT:-8069}" \
  --without-demo=all -i sdmk_integration_regnakes --test-tags="${ODOO_TEST_TAGS:-/sdmk_integration_regnakes}" \
  --stop-after-init --log-level=test 2>&1 | tee "$WORK/odoo.log"

# Odoo exits 0 even when tests fail: judge by its log. Any warning from the module counts too.
if grep -E "(ERROR|CRITICAL) .*|FAIL:|[0-9]+ failed, [0-9]+ error" "$WORK/odoo.log" | grep -v " 0 failed, 0 error" >/dev/null; then
  echo "odoo-addon-tests: FAILED (see the errors above)"
  exit 1
fi
if grep -E "WARNING .*sdmk_integration_regnakes" "$WORK/odoo.log" | grep -v "notification refused" >/dev/null; then
  echo "odoo-addon-tests: FAILED: the module logged warnings"
  exit 1
fi
echo "odoo-addon-tests: passed"
