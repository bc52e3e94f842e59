"""Tests d'error_analysis : prédictions, précision équilibrée, matrice de confusion, scores par classe,
erreurs les plus sûres d'elles."""
import warnings

import numpy as np
import pytest

import error_analysis
import fashion_utils as fu
from conftest import tiny_compiled_model


def test_predict_labels_gives_probabilities_and_their_argmax(tiny_data):
    model = tiny_compiled_model()
    probabilities, labels = error_analysis.predict_labels(model, tiny_data[0][:10], batch_size=4)
    assert probabilities.shape == (10, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))


def test_balanced_accuracy_averages_the_recall_of_the_present_classes_without_warning():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 1, 8]          # la classe 8 (un sac) est prédite mais absente des vraies classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert error_analysis.balanced_accuracy(y_true, y_pred) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert error_analysis.balanced_accuracy([3, 3, 5], [3, 3, 5]) == 1.0


def test_confusion_matrix_and_per_class_report_on_known_inputs():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 1, 0]
    names = ["a", "b", "c"]
    matrix = error_analysis.confusion_matrix_frame(y_true, y_pred, names)
    assert matrix.to_numpy().tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert matrix.index.name == "vraie classe" and matrix.columns.name == "prédite"
    report = error_analysis.per_class_report(y_true, y_pred, names)
    assert list(report.columns) == ["précision", "rappel", "F1", "effectif"]
    assert report.loc["a", "précision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["a", "rappel"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["b", "précision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["b", "rappel"] == 1.0
    assert report.loc["c", "F1"] == 0.0
    assert report["effectif"].tolist() == [3, 2, 1]


def test_confusion_matrix_frame_has_all_ten_classes_by_default():
    matrix = error_analysis.confusion_matrix_frame([0, 9], [0, 8])
    assert matrix.shape == (10, 10) and list(matrix.index) == fu.NOMS_COURTS
    assert matrix.loc["Bottes de cheville", "Sac"] == 1 and matrix.to_numpy().sum() == 2


def test_plot_misclassified_shows_the_most_confident_errors_first(no_show):
    images = np.zeros((5, 784))
    y_true = np.array([0, 1, 2, 3, 4])
    probabilities = np.full((5, 10), 0.01)
    probabilities[0, 0] = 0.91                  # juste
    probabilities[1, 5] = 0.60                  # faux, sûr à 60 %
    probabilities[2, 6] = 0.90                  # faux, sûr à 90 %
    probabilities[3, 7] = 0.75                  # faux, sûr à 75 %
    probabilities[4, 4] = 0.50                  # juste
    fig = error_analysis.plot_misclassified(images, y_true, probabilities, n=2, columns=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["vrai : Pull\nprédit : Chemise\n(90 %)", "vrai : Robe\nprédit : Baskets\n(75 %)"]
    assert fig.get_suptitle() == "Erreurs les plus sûres d'elles (2 sur 3 erreurs)"
