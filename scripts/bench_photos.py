"""Banc d'essai : un ou plusieurs modèles sauvegardés et préparations de photos, sur des photos réelles.

Les photos sont rangées par classe dans des dossiers nommés comme photos-dev (T-shirt_top,
Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle_boot). Pour chaque modèle,
préparation et partie : effectif et précision par classe, matrice de confusion, précision globale
et précision équilibrée (moyenne des rappels des classes présentes) ; puis un résumé.

    python scripts/bench_photos.py --model analyse_image/modele/modele \\
        --model analyse_image/modele/modele_photos --pipeline labo --pipeline premier_plan \\
        --split dev --split holdout --output analyse_image/modele/bench_photos.json

--split : partage déterministe de chaque classe en deux moitiés par empreinte SHA-256 du nom de
fichier (identique sur toutes les machines) : « dev » pour mettre au point, « holdout » à garder
pour la mesure finale, « all » pour tout.
"""
import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "analyse_image"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import error_analysis  # noqa: E402
import fashion_utils as fu  # noqa: E402
import photo_dataset  # noqa: E402
import photo_files  # noqa: E402
import photo_prediction  # noqa: E402
import photo_preparation  # noqa: E402
import photo_results  # noqa: E402
from safe_files import file_sha256, write_json_atomically  # noqa: E402

N_CLASSES = len(fu.NOMS_COURTS)
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "photos-dev"
FAILED = -1  # prédiction d'une photo que la préparation n'a pas pu traiter


# ---------------------------------------------------------------------------
# Scores (cœur testable sans modèle)
# ---------------------------------------------------------------------------

@dataclass
class Scores:
    """Résultats d'une préparation : effectifs, précisions par classe, matrice, précisions globales."""
    classes: list            # classes présentes (indices), dans l'ordre
    counts: dict             # classe -> nombre de photos
    per_class: dict          # classe -> précision (rappel) de la classe
    confusion: pd.DataFrame  # lignes : classes présentes ; colonnes : les 10 classes (+ « échec »)
    accuracy: float
    balanced_accuracy: float
    n_failed: int = 0


def score_predictions(y_true, y_pred, names=fu.NOMS_COURTS):
    """Scores de prédictions (indices ; FAILED = -1 pour une photo non traitée, comptée fausse).

    Précision équilibrée = moyenne des rappels des classes présentes (comme
    sklearn.metrics.balanced_accuracy_score).
    """
    y_true = np.asarray(y_true, dtype=int).ravel()
    y_pred = np.asarray(y_pred, dtype=int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} classes vraies pour {len(y_pred)} prédictions")
    if y_true.size == 0:
        raise ValueError("aucune photo à évaluer")
    n_classes = len(names)
    if y_true.min() < 0 or y_true.max() >= n_classes:
        raise ValueError(f"classes vraies hors de 0..{n_classes - 1}")
    if y_pred.min() < FAILED or y_pred.max() >= n_classes:
        raise ValueError(f"prédictions hors de 0..{n_classes - 1} (ou {FAILED} pour un échec)")
    present = sorted(int(c) for c in np.unique(y_true))
    columns = list(range(n_classes))
    n_failed = int((y_pred == FAILED).sum())
    if n_failed:
        columns.append(FAILED)
    matrix = np.zeros((len(present), len(columns)), dtype=int)
    col_index = {c: j for j, c in enumerate(columns)}
    for row, c in enumerate(present):
        for p in y_pred[y_true == c]:
            matrix[row, col_index[int(p)]] += 1
    col_names = [names[c] if c != FAILED else "échec" for c in columns]
    confusion = pd.DataFrame(matrix, index=pd.Index([names[c] for c in present], name="vraie classe"),
                             columns=pd.Index(col_names, name="prédite"))
    counts = {c: int((y_true == c).sum()) for c in present}
    per_class = {c: float((y_pred[y_true == c] == c).mean()) for c in present}
    return Scores(classes=present, counts=counts, per_class=per_class, confusion=confusion,
                  accuracy=float((y_true == y_pred).mean()),
                  balanced_accuracy=float(np.mean(list(per_class.values()))),
                  n_failed=n_failed)


def format_scores(scores, names=fu.NOMS_COURTS):
    """Texte du rapport d'une préparation (tableau par classe, matrice de confusion, globales)."""
    table = pd.DataFrame({"photos": [scores.counts[c] for c in scores.classes],
                          "précision": [round(scores.per_class[c], 3) for c in scores.classes]},
                         index=pd.Index([names[c] for c in scores.classes], name="classe"))
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        lines = [table.to_string(), "", "Matrice de confusion (lignes : vraie classe, colonnes : prédite)",
                 scores.confusion.to_string(), ""]
    if scores.n_failed:
        lines.append(f"Photos que la préparation n'a pas pu traiter (comptées fausses) : {scores.n_failed}")
    lines.append(f"Précision globale : {scores.accuracy:.3f}   "
                 f"précision équilibrée : {scores.balanced_accuracy:.3f}   "
                 f"({sum(scores.counts.values())} photos, hasard ≈ {1 / len(scores.classes):.2f})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Préparations et modèle
# ---------------------------------------------------------------------------

# Noms anglais acceptés en plus des noms de photo_preparation.PREPARATIONS.
PIPELINE_ALIASES = {"lab": "labo", "xiao": "fashion_mnist", "foreground": "premier_plan"}


def preparation_names():
    """Nom accepté par --pipeline -> nom de la préparation dans photo_preparation.PREPARATIONS."""
    names = {name: name for name in photo_preparation.PREPARATIONS}
    names.update({alias: name for alias, name in PIPELINE_ALIASES.items() if name in names})
    return names


def prepare_entries(entries, preparation):
    """Prépare les photos (chemin, classe) ; renvoie (images (n, 28, 28) des réussies, leurs indices
    dans entries, échecs photo_preparation.PhotoFailure)."""
    batch, ok_paths, failures = photo_preparation.prepare_photos([path for path, _ in entries], preparation)
    index = {path: i for i, (path, _) in enumerate(entries)}
    return batch[..., 0], [index[path] for path in ok_paths], failures


def predictions_with_failures(n, ok, predicted):
    """Tableau de n prédictions : celles des photos réussies, FAILED ailleurs."""
    y_pred = np.full(n, FAILED, dtype=int)
    y_pred[np.asarray(ok, dtype=int)] = predicted
    return y_pred


def model_prefix(path):
    """Le préfixe d'un modèle sauvegardé, qu'on donne le préfixe, le .json ou le .weights.h5."""
    prefix = str(path)
    for suffix in (".weights.h5", ".json"):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
    return prefix


def weights_file(path):
    """Le fichier de poids d'un modèle désigné par préfixe (voir model_prefix)."""
    return model_prefix(path) + ".weights.h5"


def load_model(path):
    """Modèle sauvegardé par préfixe : prefix.json + prefix.weights.h5 (fu.load_model_files)."""
    return fu.load_model_files(model_prefix(path) + ".json", weights_file(path))


def save_grid(out_path, entries, images, ok, predicted, per_class=4, title=""):
    """Image PNG : quelques photos par classe, chacune à côté de l'image 28 x 28 vue par le modèle."""
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".png":
        raise ValueError(f"la grille doit être un fichier .png : « {out_path} »")
    if out_path.resolve() in {Path(p).resolve() for p, _ in entries}:
        raise ValueError(f"« {out_path} » est une des photos évaluées : choisissez un autre fichier")
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    by_class = {}
    for k, i in enumerate(ok):
        by_class.setdefault(entries[i][1], []).append(k)
    classes = sorted(by_class)
    fig, axes = plt.subplots(len(classes), 2 * per_class, figsize=(2 * per_class * 1.3, len(classes) * 1.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, c in enumerate(classes):
        for j, k in enumerate(by_class[c][:per_class]):
            photo = entries[ok[k]][0]
            axes[row, 2 * j].imshow(photo_files.thumbnail_for_display(photo, 96))
            axes[row, 2 * j].set_title(fu.NOMS_COURTS[c], fontsize=7)
            axes[row, 2 * j + 1].imshow(images[k], cmap="gray", vmin=0, vmax=1)
            good = predicted[k] == c
            axes[row, 2 * j + 1].set_title(("✓ " if good else "✗ ") + fu.NOMS_COURTS[predicted[k]],
                                           fontsize=7, color="green" if good else "red")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Programme
# ---------------------------------------------------------------------------

def score_prepared(model, entries, images, ok, failures, variations=True):
    """Prédit et note des photos déjà préparées ; renvoie (scores, prédictions des réussies).

    variations : réponse moyennée sur l'image et ses copies (photo_prediction.predict_photos), comme
    test_model.ipynb le fait après toute préparation autre que celle du labo. Les photos illisibles
    sont écartées (elles le sont pour toutes les préparations) ; les échecs de la préparation
    comptent comme des erreurs.
    """
    unreadable_paths = {failure.path for failure in failures if failure.unreadable}
    kept = [i for i in range(len(entries)) if entries[i][0] not in unreadable_paths]
    predicted = np.zeros(0, dtype=int)
    if len(images):
        if variations:
            predicted = photo_prediction.predict_photos(model, images[..., None]).argmax(axis=1)
        else:
            predicted = error_analysis.predict_labels(model, images[..., None])[1]
    y_pred_all = predictions_with_failures(len(entries), ok, predicted)
    y_true = np.array([entries[i][1] for i in kept], dtype=int)
    scores = score_predictions(y_true, y_pred_all[kept]) if kept else None
    return scores, predicted


def summary_record(model_name, pipeline, split, scores, names=fu.NOMS_COURTS):
    """Une ligne du résumé JSON : scores globaux et par classe d'un modèle, d'une préparation, d'une partie."""
    return {"model": model_name, "pipeline": pipeline, "split": split,
            "n_photos": sum(scores.counts.values()),
            "accuracy": round(scores.accuracy, 3),
            "balanced_accuracy": round(scores.balanced_accuracy, 3),
            "per_class": {names[c]: round(scores.per_class[c], 3) for c in scores.classes}}


def main(argv=None):
    registry = preparation_names()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Préparations disponibles : " + ", ".join(sorted(registry)))
    parser.add_argument("--model", action="append", metavar="PREFIXE",
                        help="préfixe du modèle : PREFIXE.json + PREFIXE.weights.h5 (répétable ; "
                             "défaut : analyse_image/modele/modele)")
    parser.add_argument("--photos", default=str(DEFAULT_PHOTOS),
                        help="dossier des photos rangées par classe (défaut : ../shared/data/photos-dev, "
                             "sinon photo_dataset.find_photos_dir(analyse_image/photos_reelles))")
    parser.add_argument("--pipeline", action="append", choices=sorted(registry), metavar="NOM",
                        help="préparation à évaluer (répétable ; défaut : labo)")
    parser.add_argument("--split", action="append", choices=photo_files.SPLITS,
                        help="dev (défaut), holdout ou all (répétable)")
    parser.add_argument("--save-grid", metavar="PNG", help="grille photos / images 28 x 28 (1er modèle, 1re partie)")
    parser.add_argument("--grid-pipeline", metavar="NOM", help="préparation montrée dans la grille")
    parser.add_argument("--per-class", type=int, default=4, help="photos par classe dans la grille (4)")
    parser.add_argument("--output", metavar="JSON", help="écrit aussi le résumé des scores dans ce fichier")
    args = parser.parse_args(argv)
    pipelines = args.pipeline or ["labo"]
    splits = args.split or ["dev"]
    model_paths = args.model or [str(ROOT / "analyse_image" / "modele" / "modele")]
    if args.save_grid and not args.save_grid.lower().endswith(".png"):
        parser.error(f"--save-grid doit désigner un fichier .png (reçu : {args.save_grid})")
    if args.photos == str(DEFAULT_PHOTOS) and not DEFAULT_PHOTOS.is_dir():
        try:
            args.photos = str(photo_dataset.find_photos_dir(ROOT / "analyse_image" / "photos_reelles"))
        except photo_dataset.DataError as exc:
            print(f"Erreur : {exc}")
            return 1

    models, fingerprints = {}, {}
    for path in model_paths:
        try:
            name = Path(path).name if Path(path).name not in models else str(path)
            models[name] = load_model(path)
        except fu.ModelFilesError as exc:
            print(f"Erreur : {exc}")
            return 2
        fingerprints[name] = {"sha256": file_sha256(weights_file(path))}
    grid_name = args.grid_pipeline or pipelines[0]
    records, n_photos = [], {}
    for split in splits:
        entries, warnings = photo_files.collect_photos(args.photos, split)
        for warning in warnings:
            print(f"Attention : {warning}")
        if not entries:
            print(f"Aucune photo dans « {args.photos} » (partie {split}).")
            return 1
        n_photos[split] = len(entries)
        print(f"\nPhotos : {args.photos}   partie : {split} ({len(entries)} photos)")
        for name in pipelines:
            start = time.perf_counter()
            images, ok, failures = prepare_entries(entries, registry[name])
            seconds = time.perf_counter() - start
            for failure in failures:
                kind = "illisible" if failure.unreadable else "échec"
                print(f"  {kind} : {failure.path.parent.name}/{failure.path.name} — {failure.message}")
            for model_name, model in models.items():
                print(f"\n=== Modèle « {model_name} », préparation « {name} », partie « {split} » ===")
                scores, predicted = score_prepared(model, entries, images, ok, failures, variations=name != "labo")
                if scores is None:
                    print("Aucune photo lisible.")
                    continue
                print(format_scores(scores))
                print(f"({seconds:.1f} s de préparation)")
                records.append(summary_record(model_name, name, split, scores))
                if (args.save_grid and name == grid_name and split == splits[0]
                        and model_name == next(iter(models))):
                    save_grid(args.save_grid, entries, images, ok, predicted, args.per_class,
                              title=f"{model_name} — {name} — {split} — "
                                    f"précision équilibrée {scores.balanced_accuracy:.3f}")
                    print(f"Grille écrite : {args.save_grid}")
    if args.output:
        write_json_atomically({"photos": Path(args.photos).name, "n_photos": n_photos,
                                  "models": fingerprints, "results": records}, args.output)
        print(f"Résumé écrit : {args.output}")
    if len(records) > 1:
        print("\n=== Résumé : précision équilibrée ===")
        print(photo_results.photo_benchmark_table({"results": records}).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
