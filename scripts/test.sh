#!/usr/bin/env bash
# Installe l'environnement puis lance les tests (dont une exécution rapide des deux carnets).
# Les arguments sont passés à pytest, par exemple : bash scripts/test.sh -k donnees
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
python -m pytest tests "$@"
