"""Fonctions utilitaires du laboratoire « Analyse d'image » (Fashion-MNIST).

Les deux carnets importent ce module :

    import fashion_utils as fu

Il suit l'ordre des carnets : les classes ; le chargement des CSV ; les réseaux du labo (pour les
scripts, les tests et les parties qui réentraînent le même réseau : le carnet, lui, les construit
dans ses cellules) ; l'évaluation et ses graphiques ; la sauvegarde et le rechargement du modèle ;
le verdict sur une photo. Ce qui va au-delà du labo est dans des modules à côté : fashion_data
(fichiers IDX, CSV, cache), tf_settings (TensorFlow réglé pour le processeur), photo_files et
photo_preparation (ouvrir et préparer une photo), fast_augmentation, photo_training, photo_results,
safe_files.
"""
import math
import warnings

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib import ticker
from sklearn import metrics

from fashion_data import IMAGE_SIZE, N_CLASSES, DataError, ensure_csv_files, load_csv  # noqa: F401
from safe_files import write_json_atomically

# TensorFlow importé sans ses lignes techniques de démarrage, et réglé pour le processeur (tf_settings.py)
import tf_settings  # noqa: F401  (avant keras)
import keras
from keras import layers

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


def to_model_input(pixels):
    """Met des pixels (n, 784) de 0 à 255 au format du réseau : (n, 28, 28, 1), float32 entre 0 et 1."""
    images = np.asarray(pixels).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1).astype("float32")
    return images / 255.0


# ---------------------------------------------------------------------------
# Les réseaux du labo, tels que classification.ipynb les construit dans ses cellules
# ---------------------------------------------------------------------------

def compile_model(model, learning_rate=0.001):
    """Compile comme le labo : entropie croisée, Adam (pas d'apprentissage par défaut de Keras), précision."""
    model.compile(loss=keras.losses.categorical_crossentropy,
                  optimizer=keras.optimizers.Adam(learning_rate),
                  metrics=["accuracy"])
    return model


def build_cnn_1conv(input_shape=INPUT_SHAPE):
    """Le réseau à une convolution du labo (693 962 paramètres), compilé."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="reseau_1_convolution")
    return compile_model(model)


def build_cnn_4conv(input_shape=INPUT_SHAPE):
    """Le réseau à quatre convolutions et BatchNormalization de la partie optionnelle, compilé."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.25),
        layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
        layers.Dense(128, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ], name="reseau_4_convolutions")
    return compile_model(model)


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


def predict_labels(model, images, batch_size=1024):
    """Probabilités (n, 10) et classe prédite (n,) pour un lot d'images."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    return probabilities, probabilities.argmax(axis=1)


def balanced_accuracy(y_true, y_pred):
    """Précision équilibrée : moyenne des précisions (rappels) des classes présentes dans y_true,
    comme sklearn.metrics.balanced_accuracy_score, sans son avertissement quand le modèle prédit
    une classe absente (un sac parmi des photos sans sac)."""
    return float(metrics.recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


def confusion_matrix_frame(y_true, y_pred, names=NOMS_COURTS):
    """Matrice de confusion (lignes : vraie classe, colonnes : classe prédite) en DataFrame."""
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=range(len(names)))
    return pd.DataFrame(matrix, index=pd.Index(names, name="vraie classe"),
                        columns=pd.Index(names, name="prédite"))


def plot_confusion_matrix(y_true, y_pred, names=NOMS_COURTS, title="Matrice de confusion"):
    """Affiche la matrice de confusion avec les noms français des classes."""
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    metrics.ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=range(len(names)), display_labels=names,
        xticks_rotation=45, cmap="Blues", colorbar=False, ax=ax)
    ax.set_xlabel("Classe prédite")
    ax.set_ylabel("Vraie classe")
    ax.set_title(title)
    fig.tight_layout()
    plt.show()
    return fig


def per_class_report(y_true, y_pred, names=NOMS_COURTS):
    """Précision, rappel et F1 par classe (scikit-learn), en DataFrame."""
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(names)), zero_division=0)
    return pd.DataFrame({"précision": precision, "rappel": recall, "F1": f1, "effectif": support},
                        index=pd.Index(names, name="classe")).round(3)


def plot_misclassified(images, y_true, probabilities, n=24, columns=8, names=NOMS_COURTS):
    """Les n erreurs les plus sûres d'elles : image, vraie classe, classe prédite et confiance."""
    y_true = np.asarray(y_true)
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    wrong = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]])][:n]
    rows = max(1, math.ceil(len(wrong) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 2.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(np.asarray(images[i]).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray_r")
        ax.set_title(f"vrai : {names[y_true[i]]}\nprédit : {names[y_pred[i]]}\n"
                     f"({french_percent(probabilities[i, y_pred[i]], 0)})", fontsize=7.5)
    fig.suptitle(f"Erreurs les plus sûres d'elles ({len(wrong)} sur {int((y_pred != y_true).sum())} erreurs)")
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


def saved_model_metrics(name, y_true, y_pred, files):
    """Le détail du modèle sauvegardé pour metrics.json : fichiers, matrice de confusion, scores par classe."""
    report = per_class_report(y_true, y_pred)
    return {"name": name, "files": [str(f) for f in files],
            "test_accuracy": round(float(metrics.accuracy_score(y_true, y_pred)), 4),
            "classes": NOMS_COURTS,
            "confusion_matrix": confusion_matrix_frame(y_true, y_pred).to_numpy().tolist(),
            "per_class": {cls: {k: float(v) for k, v in row.items()} for cls, row in report.iterrows()}}


# ---------------------------------------------------------------------------
# Le verdict sur une photo
# ---------------------------------------------------------------------------

def print_verdict(probabilities, classes=CLASSES):
    """Le verdict du labo : « Selon moi l'image est : … » puis le pourcentage de chaque classe."""
    predicted_class = int(np.argmax(probabilities))
    print(f"Selon moi l'image est : {classes[predicted_class]}\n")
    for i, class_name in enumerate(classes):
        print(f"{class_name} : {french_percent(probabilities[i])}")
    return predicted_class
