#!/usr/bin/env bash
# Writes the compose stack's secrets into docker/secrets/ (never committed), keeping any that exist:
# the simulator's client secret, Odoo's Ed25519 token key pair (the server gets only the public key),
# the notification secret, the NIK keys, and a Slack webhook placeholder (replace it with your
# incoming-webhook URL to receive alerts). Every key has at least 32 bytes.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
chmod 700 secrets
write() { [[ -s "secrets/$1" ]] || { printf '%s' "$2" > "secrets/$1"; chmod 600 "secrets/$1"; echo "made secrets/$1"; }; }
write regnakes_client_secret "sim-secret"
if [[ ! -s secrets/odoo_token_private_key ]]; then
  openssl genpkey -algorithm ed25519 -out secrets/odoo_token_private_key && chmod 600 secrets/odoo_token_private_key
  echo "made secrets/odoo_token_private_key"
fi
write rpc_jwt_public_key "$(openssl pkey -in secrets/odoo_token_private_key -pubout)"
write odoo_notify_secret "$(openssl rand -hex 32)"
write nik_encryption_key "$(date +%Y)a:$(openssl rand -base64 32)"
write nik_index_key "$(openssl rand -hex 32)"
write slack_webhook_url "http://127.0.0.1:9/slack-webhook-not-configured"
