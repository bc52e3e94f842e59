#!/usr/bin/env bash
# Vérification dans un vrai navigateur : installe l'environnement (.venv/) puis exécute test_model.ipynb
# dans JupyterLab avec Chromium sans interface (scripts/browser_check.py) ; capture dans runs/browser_check.png.
# Il faut Chromium : apt-get install chromium (Debian/Ubuntu), ou la variable CHROMIUM=/chemin/vers/chromium.
# Les arguments sont passés au script, par exemple : bash scripts/browser_check.sh --timeout 300
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec python scripts/browser_check.py "$@"
