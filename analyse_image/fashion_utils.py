"""Fonctions utilitaires du laboratoire « Analyse d'image » (Fashion-MNIST).

Les deux carnets importent ce module :

    import fashion_utils as fu

Il suit l'ordre des carnets : les classes ; le chargement des CSV ; l'évaluation et ses graphiques ;
la sauvegarde et le rechargement du modèle. Ce qui va au-delà du labo est dans des modules à côté,
chacun nommé pour son rôle : fashion_data (fichiers IDX, CSV, cache), tf_settings (TensorFlow réglé
pour le processeur), lab_networks (les réseaux du labo, pour les parties qui les réentraînent),
error_analysis (où un modèle se trompe), fast_augmentation, photo_files, photo_preparation,
photo_training, photo_results, model_files et safe_files.
"""
import warnings

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib import ticker

from fashion_data import IMAGE_SIZE, N_CLASSES, DataError, ensure_csv_files, load_csv  # noqa: F401
from safe_files import write_json_atomically

# TensorFlow importé sans ses lignes techniques de démarrage, et réglé pour le processeur (tf_settings.py)
import tf_settings  # noqa: F401

# Keras 3 avertit que « shuffle=True » (sa valeur par défaut) est ignoré quand fit() reçoit un
# générateur ou un tf.data.Dataset : ces lots sont déjà mélangés, l'avertissement n'apprend rien.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored", category=UserWarning)

# Sauvegarde et rechargement sûrs du modèle (JSON + poids) : voir model_files.py
from model_files import (INPUT_SHAPE, ModelFilesError, check_model_folder_writable, load_model_files,  # noqa: E402,F401
                         model_files_for_saving, save_model_files)

# ---------------------------------------------------------------------------
# Les classes de Fashion-MNIST
# ---------------------------------------------------------------------------

#: Noms des classes tels que le carnet test_model.ipynb les affiche (ordre des labels 0 à 9).
CLASSES = ["Un T-shirt/haut", "Un pantalon", "Un pull", "Une robe", "Un manteau",
           "Des sandales", "Une chemise", "Des baskets", "Un sac", "Des bottes de cheville"]

#: Noms courts, pour les axes des graphiques (la liste des labels du labo).
NOMS_COURTS = ["T-shirt/haut", "Pantalon", "Pull", "Robe", "Manteau",
               "Sandales", "Chemise", "Baskets", "Sac", "Bottes de cheville"]


def french_number(value, decimals=0):
    """Nombre à la française : 693 962 ; 0,9051 (decimals chiffres après la virgule)."""
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",")


def french_percent(fraction, decimals=2):
    """Fraction en pourcentage à la française : 0.9051 -> « 90,51 % »."""
    return f"{french_number(100 * fraction, decimals)} %"


def french_table(frame, decimals=3):
    """Un tableau pandas affiché à la française (virgule décimale, espace entre les milliers)."""
    return frame.style.format(decimal=",", thousands=" ", precision=decimals)


# ---------------------------------------------------------------------------
# Les données du labo
# ---------------------------------------------------------------------------

def sample_rows(df, n_rows, seed=13):
    """Garde n_rows lignes tirées au hasard (toutes si n_rows est None ou trop grand)."""
    if n_rows is None or n_rows >= len(df):
        return df
    return df.sample(n=n_rows, random_state=seed).reset_index(drop=True)


def repeat_forever(iterator):
    """Parcourt sans fin un itérateur de flow() pour que chaque époque fasse bien steps_per_epoch lots.

    Avec Keras 3, un flow() passé tel quel à fit() avec steps_per_epoch plus petit que son
    nombre de lots alterne des époques complètes et des époques d'un seul lot.
    """
    while True:
        yield next(iterator)


# ---------------------------------------------------------------------------
# Évaluation et graphiques
# ---------------------------------------------------------------------------

def evaluate_run(model, X_test, y_test, history, seconds, name, augmentation):
    """Évalue sur le jeu de test, affiche le bilan en français et renvoie une ligne du tableau de résultats."""
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    epochs = len(history.history["loss"])
    record = {"model": name, "augmentation": augmentation, "epochs": epochs,
              "test_accuracy": round(float(accuracy), 4), "test_loss": round(float(loss), 4),
              "seconds": round(float(seconds), 1),
              "seconds_per_epoch": round(float(seconds) / max(epochs, 1), 2),
              "params": int(model.count_params())}
    print(f"Erreur : {french_number(loss, 4)}")
    print(f"Précision : {french_number(accuracy, 4)} ({french_percent(accuracy)})")
    print(f"Durée de l'entraînement : {french_number(seconds)} s ({epochs} époques, "
          f"{french_number(record['seconds_per_epoch'], 1)} s par époque)")
    print(f"Paramètres : {french_number(record['params'])}")
    return record


def plot_history(history, title):
    """Courbes de précision et d'erreur (apprentissage et validation) sur une figure à deux panneaux."""
    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, label in ((ax_acc, "accuracy", "Précision"), (ax_loss, "loss", "Erreur")):
        ax.plot(epochs, h[key], label="Apprentissage")
        if "val_" + key in h:
            ax.plot(epochs, h["val_" + key], label="Validation")
        ax.set_xlabel("Époque")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}".replace(".", ",")))
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    return fig


def show_class_samples(pixels, labels, per_class=6):
    """Grille d'exemples : une ligne par classe, avec son nom en français."""
    fig, axes = plt.subplots(N_CLASSES, per_class, figsize=(per_class * 1.1, 12))
    for label in range(N_CLASSES):
        indices = np.flatnonzero(np.asarray(labels) == label)[:per_class]
        for col in range(per_class):
            ax = axes[label, col]
            ax.axis("off")
            if col < len(indices):
                ax.imshow(np.asarray(pixels[indices[col]]).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray_r")
        axes[label, 0].set_title(NOMS_COURTS[label], loc="left", fontsize=9)
    fig.tight_layout()
    plt.show()
    return fig


def results_table(records):
    """Le tableau comparatif de tous les entraînements du carnet, avec des en-têtes en français."""
    columns = {"model": "modèle", "augmentation": "augmentation", "epochs": "époques",
               "test_accuracy": "précision test", "test_loss": "erreur test",
               "seconds": "secondes", "params": "paramètres"}
    return pd.DataFrame(records)[list(columns)].rename(columns=columns)


def write_metrics(records, path, saved_model=None):
    """Écrit modele/metrics.json : tous les entraînements et le détail du modèle sauvegardé."""
    data = {"schema": 1, "runs": list(records)}
    if saved_model is not None:
        data["saved_model"] = saved_model
    write_json_atomically(data, path)
    return data
