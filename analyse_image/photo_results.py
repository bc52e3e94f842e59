"""Au-delà du labo : ce que le modèle dit des photos, en figures et en tableaux, et les scores du banc
d'essai sur de vraies photos (scripts/bench_photos.py, modele/bench_photos.json).
"""
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.ft2font import FT2Font

import fashion_utils as fu
from photo_files import readable_name, thumbnail_for_display
from safe_files import file_sha256


@functools.lru_cache(maxsize=1)
def _characters_of_the_figure_font():
    """Les caractères que la police des figures sait dessiner."""
    return set(map(chr, FT2Font(font_manager.findfont(font_manager.FontProperties())).get_charmap()))


def display_name(path):
    """Le nom d'une photo tel qu'on peut l'écrire sur une figure : readable_name, et « ? » à la place
    des caractères que la police des figures ne sait pas dessiner (émojis)."""
    known = _characters_of_the_figure_font()
    return "".join(ch if ch in known else "?" for ch in readable_name(path))


def plot_photo_predictions(paths, batch, probabilities, names=fu.NOMS_COURTS, expected=None, regions=None):
    """Pour chaque photo, une ligne : la photo (ou, si regions est donné, l'image de la région donnée
    au modèle, photo_preparation.region_picture), l'image 28 × 28 vue par le modèle, ses probabilités."""
    n = len(paths)
    fig, axes = plt.subplots(n, 3, figsize=(11, 2.6 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 2.2]})
    for row, (path, image, proba) in enumerate(zip(paths, batch, probabilities)):
        ax_photo, ax_input, ax_bars = axes[row]
        predicted = int(np.argmax(proba))
        ax_photo.imshow(thumbnail_for_display(path) if regions is None else regions[row])
        ax_photo.set_title(display_name(path) if regions is None else f"{display_name(path)}\n(région gardée encadrée)",
                           fontsize=9)
        ax_input.imshow(np.asarray(image).reshape(fu.IMAGE_SIZE, fu.IMAGE_SIZE), cmap="gray", vmin=0, vmax=1)
        ax_input.set_title("ce que voit le modèle (28 × 28)", fontsize=9)
        for ax in (ax_photo, ax_input):
            ax.set_xticks([])
            ax.set_yticks([])
        colors = ["tab:blue"] * len(names)
        truth = None if expected is None else expected[row]
        if truth is not None and truth >= 0:
            colors[truth] = "tab:green"
            if predicted != truth:
                colors[predicted] = "tab:red"
        ax_bars.barh(range(len(names)), proba * 100, color=colors)
        ax_bars.set_yticks(range(len(names)), names, fontsize=8)
        ax_bars.invert_yaxis()
        ax_bars.set_xlim(0, 100)
        ax_bars.set_xlabel("probabilité (%)", fontsize=8)
        verdict = f"{names[predicted]} ({fu.french_percent(proba[predicted], 0)})"
        if truth is not None and truth >= 0:
            verdict += " ✓" if predicted == truth else f" ✗ (attendu : {names[truth]})"
        ax_bars.set_title(verdict, fontsize=10)
    fig.tight_layout()
    plt.show()
    return fig


def verdicts_table(paths, probabilities, expected=None, names=fu.CLASSES):
    """Le tableau récapitulatif : photo, verdict, confiance (et classe attendue quand on la connaît)."""
    expected = expected or {}
    rows = []
    for path, proba in zip(paths, probabilities):
        predicted = int(np.argmax(proba))
        row = {"photo": readable_name(path), "verdict": names[predicted],
               "confiance": f"{fu.french_percent(proba[predicted], 0)}"}
        if expected:
            truth = expected.get(Path(path).name)
            row["attendu"] = names[truth] if truth is not None else "?"
            row["correct"] = "" if truth is None else ("oui" if truth == predicted else "non")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_pipeline_comparison(paths, results, expected=None, names=fu.NOMS_COURTS):
    """Pour chaque photo, une ligne : la photo puis, pour chaque préparation (et modèle), l'image
    28 × 28 vue par le modèle et son verdict. results : {nom : (lot d'images, probabilités)}."""
    n, k = len(paths), len(results)
    fig, axes = plt.subplots(n, k + 1, figsize=(2.3 * (k + 1), 2.5 * n), squeeze=False)
    for row, path in enumerate(paths):
        axes[row, 0].imshow(thumbnail_for_display(path))
        axes[row, 0].set_title(display_name(path), fontsize=8)
        truth = None if expected is None else expected[row]
        for col, (pipeline, (batch, probabilities)) in enumerate(results.items(), start=1):
            predicted = int(np.argmax(probabilities[row]))
            color = "black" if truth is None or truth < 0 else ("green" if predicted == truth else "red")
            axes[row, col].imshow(np.asarray(batch[row]).reshape(fu.IMAGE_SIZE, fu.IMAGE_SIZE),
                                  cmap="gray", vmin=0, vmax=1)
            axes[row, col].set_title(f"{pipeline}\n{names[predicted]} ({fu.french_percent(probabilities[row][predicted], 0)})",
                                     fontsize=8, color=color)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    plt.show()
    return fig


def pipelines_table(paths, results, expected=None, names=fu.CLASSES):
    """Tableau : une ligne par photo, le verdict de chaque préparation ou modèle (et la classe attendue)."""
    expected = expected or {}
    table = pd.DataFrame({"photo": [readable_name(p) for p in paths]})
    if expected:
        table["attendu"] = [names[expected[n]] if n in expected else "?" for n in table["photo"]]
    for pipeline, (_, probabilities) in results.items():
        table[pipeline] = [names[int(np.argmax(p))] for p in probabilities]
    return table


def read_photo_benchmark(path):
    """Le résumé écrit par scripts/bench_photos.py --output (None s'il n'existe pas ou s'il a été
    écrit par une ancienne version du banc, sans liste « results »)."""
    path = Path(path)
    if not path.is_file():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    return summary if isinstance(summary, dict) and "results" in summary else None


def benchmark_models_changed(benchmark, model_dir):
    """Les modèles d'un résumé de scripts/bench_photos.py dont les poids dans model_dir ne sont plus
    ceux qui ont été mesurés (réentraînés, absents, ou mesure sans empreinte)."""
    measured = benchmark.get("models", {})
    changed = []
    for name in dict.fromkeys(record["model"] for record in benchmark["results"]):
        weights = Path(model_dir) / f"{name}.weights.h5"
        fingerprint = measured.get(name, {}).get("sha256")
        if fingerprint is None or not weights.is_file() or file_sha256(weights) != fingerprint:
            changed.append(name)
    return changed


def photo_benchmark_table(benchmark, value="balanced_accuracy"):
    """Tableau d'un résumé de scripts/bench_photos.py : une ligne par modèle et préparation,
    une colonne par partie des photos (dev, holdout…), la précision équilibrée dans les cases."""
    frame = pd.DataFrame(benchmark["results"])
    table = frame.pivot_table(index=["model", "pipeline"], columns="split", values=value, sort=False)
    table.index.names, table.columns.name = ["modèle", "préparation"], "partie"
    return table
