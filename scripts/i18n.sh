#!/usr/bin/env bash
# Keep the message catalogues in step with the code (docs/translating.md).
#   scripts/i18n.sh            extract every marked sentence into explorer/locale/explorer.pot and merge it into
#                              each language's explorer.po (new sentences arrive empty, changed ones fuzzy)
#   scripts/i18n.sh init CODE  start a new language's catalogue (CODE as in es, zh_Hans, pt_BR)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel  # Babel is in requirements.txt; its pybabel is beside the venv's python
POT=explorer/locale/explorer.pot
"$PYBABEL" -q extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --add-location=file --no-wrap --sort-output \
  --project "ResNet Explorer" --copyright-holder "ResNet Explorer" --msgid-bugs-address "" \
  -c "TRANSLATORS:" -o "$POT" .
if [ "${1:-}" = "init" ]; then
  "$PYBABEL" -q init --no-wrap -D explorer -i "$POT" -d explorer/locale -l "$2"
else
  for po in explorer/locale/*/LC_MESSAGES/explorer.po; do
    [ -e "$po" ] || continue
    code=$(basename "$(dirname "$(dirname "$po")")")
    "$PYBABEL" -q update -D explorer -i "$POT" -d explorer/locale -l "$code" --no-wrap --ignore-obsolete
  done
fi
