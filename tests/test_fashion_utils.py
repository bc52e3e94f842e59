"""Tests de fashion_utils : classes, nombres à la française, évaluation, métriques et graphiques du labo."""
import itertools
import json
import re
import types

import error_analysis
import fashion_utils as fu
import keras
import numpy as np
import pandas as pd
import pytest
from tensorflow.keras.preprocessing.image import ImageDataGenerator

from conftest import tiny_compiled_model


# ------------------------------ les classes -----------------------------------

def test_class_names_follow_the_fashion_mnist_labels():
    assert len(fu.CLASSES) == len(fu.NOMS_COURTS) == fu.N_CLASSES == 10
    assert fu.CLASSES[0] == "Un T-shirt/haut" and fu.CLASSES[9] == "Des bottes de cheville"
    assert fu.NOMS_COURTS[2] == "Pull" and fu.NOMS_COURTS[7] == "Baskets"


# -------------------------- nombres à la française ----------------------------

@pytest.mark.parametrize("value, decimals, expected", [
    (693_962, 0, "693 962"),
    (0.90514, 4, "0,9051"),
    (1_234_567.891, 2, "1 234 567,89"),
    (-1234.5, 1, "-1 234,5"),
    (12.0, 0, "12"),
    (999.96, 1, "1 000,0"),
])
def test_french_number(value, decimals, expected):
    assert fu.french_number(value, decimals) == expected


@pytest.mark.parametrize("fraction, decimals, expected", [
    (0.9051, 2, "90,51 %"),
    (0.1234, 2, "12,34 %"),
    (1.0, 0, "100 %"),
    (0.5, 1, "50,0 %"),
    (0.0, 2, "0,00 %"),
])
def test_french_percent(fraction, decimals, expected):
    assert fu.french_percent(fraction, decimals) == expected


def test_french_table_uses_decimal_commas_and_thousand_spaces():
    frame = pd.DataFrame({"précision": [0.90514, 0.5], "paramètres": [693_962, 1_234]})
    html = fu.french_table(frame).to_html()
    for text in (">0,905<", ">0,500<", ">693 962<", ">1 234<"):
        assert text in html
    assert "0.905" not in html and "693,962" not in html
    assert ">0,91<" in fu.french_table(frame, decimals=2).to_html()


# ------------------------------ les données ------------------------------------

def test_sample_rows_keeps_everything_or_a_reproducible_sample():
    frame = pd.DataFrame({"label": range(100)})
    assert fu.sample_rows(frame, None) is frame
    assert fu.sample_rows(frame, 100) is frame
    sample = fu.sample_rows(frame, 10, seed=3)
    assert len(sample) == 10 and sample["label"].is_unique
    assert list(sample.index) == list(range(10))
    assert sample["label"].tolist() == fu.sample_rows(frame, 10, seed=3)["label"].tolist()
    assert sample["label"].tolist() != fu.sample_rows(frame, 10, seed=4)["label"].tolist()


def test_a_compiled_model_reports_its_accuracy_while_training(tiny_data):
    model = tiny_compiled_model()
    history = model.fit(*tiny_data, batch_size=32, epochs=1, verbose=0)
    assert set(history.history) == {"accuracy", "loss"}


def test_repeat_forever_yields_the_items_of_the_iterator_in_order():
    assert list(itertools.islice(fu.repeat_forever(iter(itertools.count())), 5)) == [0, 1, 2, 3, 4]


class BatchCounter(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append(self.count)


def test_image_data_generator_epochs_all_have_their_steps(tiny_data):
    # 100 images par lots de 32 : 4 lots dont un incomplet, 3 étapes par époque (comme 188 et 187).
    images = np.repeat(tiny_data[0], 2, axis=0)[:100]
    labels = np.repeat(tiny_data[1], 2, axis=0)[:100]
    generator = ImageDataGenerator(rotation_range=8, width_shift_range=0.08, shear_range=0.3,
                                   height_shift_range=0.08, zoom_range=0.08)
    flow = generator.flow(images, labels, batch_size=32, seed=1)
    model = tiny_compiled_model()
    counter = BatchCounter()
    model.fit(fu.repeat_forever(flow), steps_per_epoch=100 // 32, epochs=4, shuffle=False,
              verbose=0, callbacks=[counter])
    assert counter.per_epoch == [3, 3, 3, 3]


# ------------------------------ l'évaluation -----------------------------------

def test_evaluate_run_prints_a_french_summary_and_returns_the_record(tiny_data, capsys):
    model = tiny_compiled_model()
    images, labels = tiny_data
    loss, accuracy = model.evaluate(images, labels, verbose=0)
    history = types.SimpleNamespace(history={"loss": [2.0, 1.5, 1.2]})
    record = fu.evaluate_run(model, images, labels, history, 12.345, "minuscule", "aucune")
    assert record == {"model": "minuscule", "augmentation": "aucune", "epochs": 3,
                      "test_accuracy": round(float(accuracy), 4), "test_loss": round(float(loss), 4),
                      "seconds": 12.3, "seconds_per_epoch": 4.12, "params": 3190}
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Erreur : {fu.french_number(loss, 4)}",
        f"Précision : {fu.french_number(accuracy, 4)} ({fu.french_percent(accuracy)})",
        "Durée de l'entraînement : 12 s (3 époques, 4,1 s par époque)",
        "Paramètres : 3 190",
    ]
    assert re.fullmatch(r"Précision : 0,\d{4} \(\d{1,3},\d{2} %\)", lines[1])


def test_metrics_file_schema(tmp_path):
    records = [{"model": "1 convolution", "augmentation": "aucune", "epochs": 2, "test_accuracy": 0.5,
                "test_loss": 1.2, "seconds": 3.0, "seconds_per_epoch": 1.5, "params": 693962}]
    y_true = np.arange(10).repeat(2)
    y_pred = y_true.copy()
    y_pred[0] = 1
    saved = error_analysis.saved_model_metrics("modele.json", y_true, y_pred, ["modele/modele.json"])
    written = fu.write_metrics(records, tmp_path / "metrics.json", saved_model=saved)
    data = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert data == written
    assert data["schema"] == 1 and data["runs"] == records
    assert data["saved_model"]["files"] == ["modele/modele.json"]
    assert data["saved_model"]["test_accuracy"] == 0.95
    assert np.array(data["saved_model"]["confusion_matrix"]).trace() == 19
    assert data["saved_model"]["per_class"]["T-shirt/haut"]["rappel"] == 0.5
    assert set(data["saved_model"]["per_class"]) == set(fu.NOMS_COURTS)
    table = fu.results_table(records)
    assert list(table.columns) == ["modèle", "augmentation", "époques", "précision test", "erreur test",
                                   "secondes", "paramètres"]
    assert table.iloc[0].tolist() == ["1 convolution", "aucune", 2, 0.5, 1.2, 3.0, 693962]


def test_write_metrics_without_saved_model_and_into_a_new_folder(tmp_path):
    path = tmp_path / "modele" / "metrics.json"
    fu.write_metrics([], path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"schema": 1, "runs": []}


# ------------------------------ les graphiques ---------------------------------

def test_plot_history_and_show_class_samples_draw_their_panels(no_show):
    history = types.SimpleNamespace(history={"loss": [1.0, 0.5], "accuracy": [0.6, 0.8],
                                             "val_loss": [1.1, 0.7], "val_accuracy": [0.5, 0.7]})
    fig = fu.plot_history(history, "essai")
    assert [ax.get_title() for ax in fig.axes] == ["Précision", "Erreur"]
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    labels = np.repeat(np.arange(10), 2)
    fig = fu.show_class_samples(np.zeros((20, 784)), labels, per_class=3)
    assert len(fig.axes) == 30 and fig.axes[0].get_title(loc="left") == "T-shirt/haut"
