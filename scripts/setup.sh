# À « sourcer » depuis la racine du dépôt : crée .venv/ et y installe requirements.txt si besoin,
# puis active l'environnement. Variable PYTHON : l'interpréteur à utiliser (python3 par défaut).
if [ ! -x .venv/bin/python ]; then
    echo "Création de l'environnement virtuel .venv/ ..."
    "${PYTHON:-python3}" -m venv .venv || {
        echo "Impossible de créer .venv/ : installez Python 3.10 à 3.13 avec le module venv (Debian/Ubuntu : apt-get install python3-venv)." >&2
        return 1 2>/dev/null || exit 1
    }
fi
stamp=".venv/.requirements.sha256"
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "Installation des dépendances (requirements.txt) dans .venv/ ..."
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements.txt || {
        echo "L'installation des dépendances a échoué : voir les messages de pip ci-dessus." >&2
        return 1 2>/dev/null || exit 1
    }
    echo "$wanted" > "$stamp"
fi
# shellcheck disable=SC1091
. .venv/bin/activate
