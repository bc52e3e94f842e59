"""Tests des réseaux du labo, de l'évaluation, des métriques, du verdict et des nombres à la française."""
import itertools
import json
import re
import types
import warnings

import fashion_utils as fu
import keras
import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from tensorflow.keras.preprocessing.image import ImageDataGenerator


def tiny_compiled_model(units=4, seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    return fu.compile_model(model)


@pytest.fixture
def no_show(monkeypatch):
    """Les fonctions de graphiques appellent plt.show() : rien ne s'affiche pendant les tests."""
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    yield
    plt.close("all")


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


def test_to_model_input_reshapes_and_scales_pixels():
    pixels = np.zeros((2, 784), dtype=np.uint8)
    pixels[0, 0], pixels[1, 783] = 255, 51
    images = fu.to_model_input(pixels)
    assert images.shape == (2, 28, 28, 1) and images.dtype == np.float32
    assert images[0, 0, 0, 0] == 1.0 and images[1, 27, 27, 0] == pytest.approx(0.2)
    assert images.sum() == pytest.approx(1.2)


# ------------------------------ les réseaux ------------------------------------

def test_1conv_has_the_lab_architecture():
    model = fu.build_cnn_1conv()
    assert model.count_params() == 693_962
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dense"]
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)


def test_4conv_has_four_convolutions_with_batch_normalization():
    model = fu.build_cnn_4conv()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 4
    assert kinds.count("BatchNormalization") == 6
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [32, 32, 64, 128]
    assert model.output_shape == (None, 10)


def test_compile_model_uses_the_lab_loss_optimizer_and_metric():
    model = tiny_compiled_model()
    assert model.loss is keras.losses.categorical_crossentropy
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    fast = fu.compile_model(tiny_compiled_model(), learning_rate=0.01)
    assert float(fast.optimizer.learning_rate) == pytest.approx(0.01)


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


def test_predict_labels_gives_probabilities_and_their_argmax(tiny_data):
    model = tiny_compiled_model()
    probabilities, labels = fu.predict_labels(model, tiny_data[0][:10], batch_size=4)
    assert probabilities.shape == (10, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))


def test_balanced_accuracy_averages_the_recall_of_the_present_classes_without_warning():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 1, 8]          # la classe 8 (un sac) est prédite mais absente des vraies classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fu.balanced_accuracy(y_true, y_pred) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert fu.balanced_accuracy([3, 3, 5], [3, 3, 5]) == 1.0


def test_confusion_matrix_and_per_class_report_on_known_inputs():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 1, 0]
    names = ["a", "b", "c"]
    matrix = fu.confusion_matrix_frame(y_true, y_pred, names)
    assert matrix.to_numpy().tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert matrix.index.name == "vraie classe" and matrix.columns.name == "prédite"
    report = fu.per_class_report(y_true, y_pred, names)
    assert list(report.columns) == ["précision", "rappel", "F1", "effectif"]
    assert report.loc["a", "précision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["a", "rappel"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["b", "précision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["b", "rappel"] == 1.0
    assert report.loc["c", "F1"] == 0.0
    assert report["effectif"].tolist() == [3, 2, 1]


def test_confusion_matrix_frame_has_all_ten_classes_by_default():
    matrix = fu.confusion_matrix_frame([0, 9], [0, 8])
    assert matrix.shape == (10, 10) and list(matrix.index) == fu.NOMS_COURTS
    assert matrix.loc["Bottes de cheville", "Sac"] == 1 and matrix.to_numpy().sum() == 2


def test_metrics_file_schema(tmp_path):
    records = [{"model": "1 convolution", "augmentation": "aucune", "epochs": 2, "test_accuracy": 0.5,
                "test_loss": 1.2, "seconds": 3.0, "seconds_per_epoch": 1.5, "params": 693962}]
    y_true = np.arange(10).repeat(2)
    y_pred = y_true.copy()
    y_pred[0] = 1
    saved = fu.saved_model_metrics("modele.json", y_true, y_pred, ["modele/modele.json"])
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

def test_plot_misclassified_shows_the_most_confident_errors_first(no_show):
    images = np.zeros((5, 784))
    y_true = np.array([0, 1, 2, 3, 4])
    probabilities = np.full((5, 10), 0.01)
    probabilities[0, 0] = 0.91                  # juste
    probabilities[1, 5] = 0.60                  # faux, sûr à 60 %
    probabilities[2, 6] = 0.90                  # faux, sûr à 90 %
    probabilities[3, 7] = 0.75                  # faux, sûr à 75 %
    probabilities[4, 4] = 0.50                  # juste
    fig = fu.plot_misclassified(images, y_true, probabilities, n=2, columns=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["vrai : Pull\nprédit : Chemise\n(90 %)", "vrai : Robe\nprédit : Baskets\n(75 %)"]
    assert fig.get_suptitle() == "Erreurs les plus sûres d'elles (2 sur 3 erreurs)"


def test_plot_history_and_show_class_samples_draw_their_panels(no_show):
    history = types.SimpleNamespace(history={"loss": [1.0, 0.5], "accuracy": [0.6, 0.8],
                                             "val_loss": [1.1, 0.7], "val_accuracy": [0.5, 0.7]})
    fig = fu.plot_history(history, "essai")
    assert [ax.get_title() for ax in fig.axes] == ["Précision", "Erreur"]
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    labels = np.repeat(np.arange(10), 2)
    fig = fu.show_class_samples(np.zeros((20, 784)), labels, per_class=3)
    assert len(fig.axes) == 30 and fig.axes[0].get_title(loc="left") == "T-shirt/haut"


# ------------------------------- le verdict ------------------------------------

def test_print_verdict_prints_the_lab_lines_in_french(capsys):
    probabilities = np.full(10, 0.01)
    probabilities[1] = 0.82
    probabilities[2] = 0.1234
    assert fu.print_verdict(probabilities) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Selon moi l'image est : Un pantalon", ""]
    assert lines[2:] == [f"{name} : {percent}" for name, percent in zip(fu.CLASSES, [
        "1,00 %", "82,00 %", "12,34 %", "1,00 %", "1,00 %", "1,00 %", "1,00 %", "1,00 %", "1,00 %", "1,00 %"])]
    assert "Un pull : 12,34 %" in lines


def test_print_verdict_accepts_other_class_names(capsys):
    assert fu.print_verdict(np.array([0.3, 0.7]), classes=["chat", "chien"]) == 1
    assert capsys.readouterr().out.splitlines() == ["Selon moi l'image est : chien", "", "chat : 30,00 %",
                                                     "chien : 70,00 %"]
