#!/usr/bin/env bash
# Update the Russian and English catalogues from the code and compile them (needs gettext:
# apt-get install gettext). Translate the new Russian entries in
# src/opora/locale/ru/LC_MESSAGES/django.po, then run this again to compile.
set -euo pipefail
cd "$(dirname "$0")/../src/opora"
export OPORA_VAR_DIR=${OPORA_VAR_DIR:-$(mktemp -d)}
../../.venv/bin/opora makemessages -l ru -l en --no-location \
    --ignore 'tests/*' --ignore 'testing/*' --ignore 'static/*'
../../.venv/bin/opora compilemessages --ignore '.venv'
