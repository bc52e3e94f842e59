#!/usr/bin/env bash
# Installe l'environnement, obtient les données, puis exécute les deux carnets sans interface
# (classification.ipynb, le banc photos si PHOTOS_REFERENCE ou ../shared/data/photos-dev existe, puis
# test_model.ipynb) avec les valeurs du labo : environ 1 h 30 sur 2 cœurs.
# Les carnets exécutés sont écrits dans analyse_image/essais/ (que JupyterLab, lancé depuis
# analyse_image/, sait ouvrir) ; en exécution complète, chacun remplace ensuite celui du dépôt,
# seulement si toute son exécution a réussi, et les modèles sont écrits dans analyse_image/modele/.
#
#   bash scripts/run.sh            exécution complète (valeurs du labo)
#   bash scripts/run.sh --rapide   essai de quelques minutes (échantillon, 2 époques, sans partie
#                                  optionnelle) : carnets et modèles dans analyse_image/essais/, rien d'autre n'est touché
#   bash scripts/run.sh --banc     remesure seulement modele/bench_photos.json (modèles de analyse_image/modele/)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

mode="${1:-complet}"
essais="analyse_image/essais"
mkdir -p "$essais"
if [ "$mode" = "--rapide" ]; then
    params=(-p LIGNES_ENTRAINEMENT 3000 -p LIGNES_TEST 1000 -p EPOQUES 2 -p EPOQUES_AUGMENTATION 2 -p EPOQUES_PHOTOS 2
            -p EPOQUES_AFFINAGE 2 -p PARTIE_OPTIONNELLE False -p DOSSIER_MODELE essais/modele)
    photo_params=(-p DOSSIER_MODELE essais/modele)
elif [ "$mode" = "complet" ] || [ "$mode" = "--banc" ]; then
    params=(); photo_params=()
else
    echo "Option inconnue : $mode (attendu : rien, --rapide ou --banc)" >&2; exit 2
fi

# Le tableau des scores sur photos de test_model.ipynb vient de modele/bench_photos.json : on le
# remesure avec les modèles de analyse_image/modele/, si le dossier de photos rangées par classe est là.
photos_ref="${PHOTOS_REFERENCE:-../shared/data/photos-dev}"
measure_photos() {  # measure_photos : écrit modele/bench_photos.json
    echo "=== Banc photos sur $photos_ref : $(date '+%H:%M:%S')"
    python scripts/bench_photos.py --photos "$photos_ref" \
        --model analyse_image/modele/modele --model analyse_image/modele/modele_photos \
        --model analyse_image/modele/modele_photos_affine \
        --pipeline labo --pipeline fashion_mnist --pipeline premier_plan --pipeline vetement_seul --split dev --split holdout \
        --output analyse_image/modele/bench_photos.json
}
no_photos="Pas de dossier $photos_ref (photos rangées par classe ; variable PHOTOS_REFERENCE)"
# Les mêmes photos servent à l'affinage (leur moitié « dev »). Par défaut, le carnet les cherche
# déjà au même endroit (../../shared/data/photos-dev depuis analyse_image/) : on ne passe le
# paramètre que pour un autre dossier, pour que le carnet enregistré ne garde pas un chemin de machine.
if [ -n "${PHOTOS_REFERENCE:-}" ] && [ -d "$photos_ref" ]; then
    params+=(-p DOSSIER_PHOTOS_REELLES "$(cd "$photos_ref" && pwd)")
elif [ ! -d "$photos_ref" ] && [ "$mode" = "--rapide" ]; then  # pas d'affinage : modèle non affiné
    photo_params+=(-p NOM_MODELE modele_photos)
fi
if [ "$mode" = "--banc" ]; then
    [ -d "$photos_ref" ] || { echo "$no_photos" >&2; exit 1; }
    measure_photos
    exit
fi

explain_failure() {  # explain_failure NOTEBOOK : résumé en français de l'échec d'un carnet exécuté
    python - "$1" <<'EOF' >&2
import json, sys
path = sys.argv[1]
try:
    cells = json.load(open(path, encoding="utf-8"))["cells"]
except (OSError, ValueError):
    sys.exit(f"\n=== Échec avant l'écriture de {path} : voir les messages ci-dessus.")
code = [cell for cell in cells if cell["cell_type"] == "code" and "injected-parameters" not in cell["metadata"].get("tags", [])]
for number, cell in enumerate(code, start=1):
    errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    if errors:
        first_line = "".join(cell["source"]).strip().splitlines()[0] if cell["source"] else ""
        print(f"\n=== Échec dans la cellule de code n° {number} ({first_line[:70]}) : "
              f"{errors[0]['ename']} : {errors[0]['evalue'][:300]}")
        break
print(f"=== Le carnet exécuté jusqu'à l'erreur est dans {path} (dossier essais/ dans JupyterLab).")
EOF
}

execute() {  # execute NOTEBOOK PARAMS... : exécute analyse_image/NOTEBOOK dans essais/, puis le remet en place
    local nb="$1"; shift
    echo "=== Exécution de $nb ($mode) : $(date '+%H:%M:%S')"
    if ! python -m papermill "analyse_image/$nb" "$essais/$nb" --cwd analyse_image --log-output --no-progress-bar "$@"; then
        explain_failure "$essais/$nb"
        exit 1
    fi
    if [ "$mode" = "complet" ]; then
        cp "$essais/$nb" "analyse_image/$nb"
        echo "=== $nb mis à jour avec les résultats de cette exécution"
    fi
}
execute classification.ipynb "${params[@]}"
if [ "$mode" = "complet" ] && [ -d "$photos_ref" ]; then
    measure_photos
elif [ "$mode" = "complet" ]; then
    echo "=== $no_photos : modele/bench_photos.json n'est pas remesuré"
fi
execute test_model.ipynb "${photo_params[@]}"
echo "Terminé : $(date '+%H:%M:%S')"
echo "Carnets exécutés : $essais/classification.ipynb et $essais/test_model.ipynb (dans JupyterLab lancé depuis analyse_image/ : dossier essais/)."
