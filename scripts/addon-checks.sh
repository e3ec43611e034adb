#!/usr/bin/env bash
# The Odoo addon's checks that need no Odoo: pylint-odoo, the OCA module and .po checks, and the client
# library's pytest suite against the real server and simulator (built by scripts/test.sh). The tools
# live in a virtualenv under target/ (pinned here), so a fresh machine needs only Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/addon-venv
if [[ ! -x "$VENV/bin/pytest" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    pytest==9.2.0 requests==2.34.2 cryptography==46.0.3 pylint==4.0.10 pylint-odoo==10.0.12 \
    oca-odoo-pre-commit-hooks==0.2.27 polib==1.2.0
fi

cd odoo_addon
echo "addon: pylint-odoo"
# odoo_addon/.pylintrc names this project's author for the manifest-required-author check.
"../$VENV/bin/pylint" --load-plugins=pylint_odoo -d all -e odoolint --valid-odoo-versions=17.0 \
  sdmk_integration_regnakes
echo "addon: oca-checks-odoo-module"
"../$VENV/bin/oca-checks-odoo-module" sdmk_integration_regnakes/__manifest__.py
echo "addon: oca-checks-po"
"../$VENV/bin/oca-checks-po" sdmk_integration_regnakes/i18n/*.po sdmk_integration_regnakes/i18n/*.pot
echo "addon: client library against the real server and simulator"
"../$VENV/bin/pytest" -q -p no:cacheprovider client_tests
