"""Au-delà du labo : où un modèle se trompe-t-il ? Prédictions, précision équilibrée, matrice de
confusion, scores par classe et erreurs les plus sûres d'elles (scikit-learn, matplotlib).

    import error_analysis
    probabilites, predictions = error_analysis.predict_labels(modele, X_test)
    error_analysis.plot_confusion_matrix(labels_test, predictions)
"""
import math

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from sklearn import metrics

import fashion_utils as fu


def predict_labels(model, images, batch_size=1024):
    """Probabilités (n, 10) et classe prédite (n,) pour un lot d'images."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    return probabilities, probabilities.argmax(axis=1)


def balanced_accuracy(y_true, y_pred):
    """Précision équilibrée : moyenne des précisions (rappels) des classes présentes dans y_true,
    comme sklearn.metrics.balanced_accuracy_score, sans son avertissement quand le modèle prédit
    une classe absente (un sac parmi des photos sans sac)."""
    return float(metrics.recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


def confusion_matrix_frame(y_true, y_pred, names=fu.NOMS_COURTS):
    """Matrice de confusion (lignes : vraie classe, colonnes : classe prédite) en DataFrame."""
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=range(len(names)))
    return pd.DataFrame(matrix, index=pd.Index(names, name="vraie classe"),
                        columns=pd.Index(names, name="prédite"))


def plot_confusion_matrix(y_true, y_pred, names=fu.NOMS_COURTS, title="Matrice de confusion"):
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


def per_class_report(y_true, y_pred, names=fu.NOMS_COURTS):
    """Précision, rappel et F1 par classe (scikit-learn), en DataFrame."""
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(names)), zero_division=0)
    return pd.DataFrame({"précision": precision, "rappel": recall, "F1": f1, "effectif": support},
                        index=pd.Index(names, name="classe")).round(3)


def plot_misclassified(images, y_true, probabilities, n=24, columns=8, names=fu.NOMS_COURTS):
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
        ax.imshow(np.asarray(images[i]).reshape(fu.IMAGE_SIZE, fu.IMAGE_SIZE), cmap="gray_r")
        ax.set_title(f"vrai : {names[y_true[i]]}\nprédit : {names[y_pred[i]]}\n"
                     f"({fu.french_percent(probabilities[i, y_pred[i]], 0)})", fontsize=7.5)
    fig.suptitle(f"Erreurs les plus sûres d'elles ({len(wrong)} sur {int((y_pred != y_true).sum())} erreurs)")
    fig.tight_layout()
    plt.show()
    return fig


def saved_model_metrics(name, y_true, y_pred, files):
    """Le détail du modèle sauvegardé pour metrics.json : fichiers, matrice de confusion, scores par classe."""
    report = per_class_report(y_true, y_pred)
    return {"name": name, "files": [str(f) for f in files],
            "test_accuracy": round(float(metrics.accuracy_score(y_true, y_pred)), 4),
            "classes": fu.NOMS_COURTS,
            "confusion_matrix": confusion_matrix_frame(y_true, y_pred).to_numpy().tolist(),
            "per_class": {cls: {k: float(v) for k, v in row.items()} for cls, row in report.iterrows()}}
