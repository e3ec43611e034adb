#!/usr/bin/env bash
# Writes the compose stack's secrets into docker/secrets/ (never committed), keeping any that exist:
# the simulator's client secret, the RPC secret Odoo shares, the NIK keys, and a Slack webhook
# placeholder (replace it with your incoming-webhook URL to receive alerts).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
chmod 700 secrets
write() { [[ -s "secrets/$1" ]] || { printf '%s' "$2" > "secrets/$1"; chmod 600 "secrets/$1"; echo "made secrets/$1"; }; }
write regnakes_client_secret "sim-secret"
write rpc_jwt_secret "$(openssl rand -hex 32)"
write nik_encryption_key "$(date +%Y)a:$(openssl rand -base64 32)"
write nik_index_key "$(openssl rand -hex 32)"
write slack_webhook_url "http://127.0.0.1:9/slack-webhook-not-configured"
