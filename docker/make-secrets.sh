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

# For docker-compose.tls.yml: an internal CA and the certificates it issues (P-256 keys): the servers'
# (names sync-a, sync-b, localhost; for client authentication too, which the healthcheck presents),
# Odoo's and Prometheus' client certificates. The CA's key stays here, out of every container.
issue() { # name, subjectAltName, extendedKeyUsage
  [[ -s "secrets/tls_$1.crt" ]] && return
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "secrets/tls_$1.key" -out "secrets/tls_$1.csr" 2>/dev/null
  openssl x509 -req -in "secrets/tls_$1.csr" -CA secrets/tls_ca.crt -CAkey secrets/tls_ca.key \
    -CAcreateserial -days 397 -out "secrets/tls_$1.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3") 2>/dev/null
  rm -f "secrets/tls_$1.csr"
  chmod 600 "secrets/tls_$1.key"
  echo "made secrets/tls_$1.crt and .key"
}
if [[ ! -s secrets/tls_ca.crt ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=SDMK internal CA" -keyout secrets/tls_ca.key -out secrets/tls_ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  chmod 600 secrets/tls_ca.key
  echo "made secrets/tls_ca.crt"
fi
issue sync "DNS:sync-a,DNS:sync-b,DNS:localhost" "serverAuth,clientAuth"
issue odoo "DNS:odoo" "clientAuth"
issue prometheus "DNS:prometheus" "clientAuth"
