"""Réseaux du labo, augmentation, sauvegarde et rechargement du modèle, métriques."""
import json

import keras
import numpy as np
import pandas as pd
import pytest

import fashion_utils as fu


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1), dtype=np.float32)
    labels = keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
    return images, labels


@pytest.fixture(scope="module")
def trained_1conv(tiny_data):
    keras.utils.set_random_seed(1)
    model = fu.build_cnn_1conv()
    model.fit(*tiny_data, batch_size=32, epochs=1, verbose=0)
    return model


def test_1conv_has_the_lab_architecture():
    model = fu.build_cnn_1conv()
    assert model.count_params() == 693_962
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dense"]
    assert model.output_shape == (None, 10)


def test_4conv_has_four_convolutions_with_batch_normalization():
    model = fu.build_cnn_4conv()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 4
    assert kinds.count("BatchNormalization") == 6
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [32, 32, 64, 128]
    assert model.output_shape == (None, 10)


def test_json_and_weights_round_trip_gives_identical_predictions(tmp_path, trained_1conv, tiny_data):
    json_path, weights_path = fu.save_model_files(trained_1conv, tmp_path / "m.json", tmp_path / "m.weights.h5")
    reloaded = fu.load_model_files(json_path, weights_path)
    np.testing.assert_array_equal(reloaded.predict(tiny_data[0], verbose=0),
                                  trained_1conv.predict(tiny_data[0], verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.weights.h5"]


def test_a_failed_save_keeps_the_previous_model(tmp_path, trained_1conv, tiny_data, monkeypatch):
    json_path, weights_path = fu.save_model_files(trained_1conv, tmp_path / "m.json", tmp_path / "m.weights.h5")
    before = (json_path.read_bytes(), weights_path.read_bytes())
    other = fu.build_cnn_4conv()

    def crash(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half-written")
        raise OSError("disque plein")

    monkeypatch.setattr(other, "save_weights", crash)
    with pytest.raises(OSError):
        fu.save_model_files(other, json_path, weights_path)
    assert (json_path.read_bytes(), weights_path.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.weights.h5"]
    fu.load_model_files(json_path, weights_path)


def test_weights_name_must_end_with_weights_h5(tmp_path, trained_1conv):
    with pytest.raises(fu.ModelFilesError, match=r"\.weights\.h5"):
        fu.save_model_files(trained_1conv, tmp_path / "m.json", tmp_path / "m.h5")


def test_missing_model_file_says_what_to_do(tmp_path):
    with pytest.raises(fu.ModelFilesError, match="introuvable.*classification.ipynb"):
        fu.load_model_files(tmp_path / "absent.json", tmp_path / "absent.weights.h5")


def test_mismatched_json_and_weights_are_reported(tmp_path, trained_1conv):
    fu.save_model_files(trained_1conv, tmp_path / "a.json", tmp_path / "a.weights.h5")
    fu.save_model_files(fu.build_cnn_4conv(), tmp_path / "b.json", tmp_path / "b.weights.h5")
    with pytest.raises(fu.ModelFilesError, match="ne correspondent pas"):
        fu.load_model_files(tmp_path / "a.json", tmp_path / "b.weights.h5")


def test_unreadable_json_is_reported(tmp_path, trained_1conv):
    fu.save_model_files(trained_1conv, tmp_path / "a.json", tmp_path / "a.weights.h5")
    (tmp_path / "a.json").write_text("{pas du json", encoding="utf-8")
    with pytest.raises(fu.ModelFilesError, match="lisible"):
        fu.load_model_files(tmp_path / "a.json", tmp_path / "a.weights.h5")


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
    flow = fu.lab_image_generator().flow(images, labels, batch_size=32, seed=1)
    model = fu.build_cnn_1conv()
    counter = BatchCounter()
    model.fit(fu.repeat_forever(flow), steps_per_epoch=100 // 32, epochs=4, shuffle=False,
              verbose=0, callbacks=[counter])
    assert counter.per_epoch == [3, 3, 3, 3]


def test_augmented_dataset_transforms_images_in_range(tiny_data):
    images, labels = tiny_data
    batches = list(fu.augmented_dataset(images, labels, batch_size=32, seed=3))
    assert [b[0].shape[0] for b in batches] == [32, 32]
    augmented = np.concatenate([np.asarray(b[0]) for b in batches])
    assert augmented.shape == images.shape
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0 + 1e-6
    # mélangé et transformé : aucune image de sortie n'est identique à une image d'entrée
    flat_in = images.reshape(len(images), -1)
    for out in augmented.reshape(len(augmented), -1)[:8]:
        assert np.abs(flat_in - out).max(axis=1).min() > 1e-3


def test_confusion_matrix_and_per_class_report_on_known_inputs():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 1, 0]
    names = ["a", "b", "c"]
    matrix = fu.confusion_matrix_frame(y_true, y_pred, names)
    assert matrix.to_numpy().tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    report = fu.per_class_report(y_true, y_pred, names)
    assert report.loc["a", "précision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["a", "rappel"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["b", "précision"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.loc["b", "rappel"] == 1.0
    assert report.loc["c", "F1"] == 0.0
    assert report["effectif"].tolist() == [3, 2, 1]


def test_metrics_file_schema(tmp_path):
    records = [{"model": "1 convolution", "augmentation": "aucune", "epochs": 2, "test_accuracy": 0.5,
                "test_loss": 1.2, "seconds": 3.0, "seconds_per_epoch": 1.5, "params": 693962}]
    y_true = np.arange(10).repeat(2)
    y_pred = y_true.copy()
    y_pred[0] = 1
    saved = fu.saved_model_metrics("modele.json", y_true, y_pred, ["modele/modele.json"])
    fu.write_metrics(records, tmp_path / "metrics.json", saved_model=saved)
    data = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert data["schema"] == 1 and data["runs"] == records
    assert data["saved_model"]["test_accuracy"] == 0.95
    assert np.array(data["saved_model"]["confusion_matrix"]).trace() == 19
    assert set(data["saved_model"]["per_class"]) == set(fu.NOMS_COURTS)
    table = fu.results_table(records)
    assert list(table.columns) == ["modèle", "augmentation", "époques", "précision test", "erreur test",
                                   "secondes", "paramètres"]


def test_print_verdict_prints_the_lab_lines(capsys):
    probabilities = np.full(10, 0.02)
    probabilities[1] = 0.82
    assert fu.print_verdict(probabilities) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Selon moi l'image est : Un pantalon"
    assert "Un pantalon: 82.00%" in out
    assert len([line for line in out if line.endswith("%")]) == 10


def test_verdicts_table_marks_right_and_wrong(tmp_path):
    probabilities = np.eye(10)[[1, 3]]
    table = fu.verdicts_table([tmp_path / "a.jpg", tmp_path / "b.jpg"], probabilities, {"a.jpg": 1, "b.jpg": 4})
    assert table["correct"].tolist() == ["oui", "non"]
    assert table["verdict"].tolist() == ["Un pantalon", "Une robe"]
    assert isinstance(table, pd.DataFrame)


def test_augmented_dataset_with_zero_ranges_is_the_identity(tiny_data):
    images, labels = tiny_data
    dataset = fu.augmented_dataset(images, labels, batch_size=64, rotation=0, shift=0, shear=0, zoom=0)
    (batch, batch_labels), = list(dataset)
    order = np.argsort(np.asarray(batch_labels).argmax(1) * 1000 + np.asarray(batch).sum(axis=(1, 2, 3)))
    expected = np.argsort(labels.argmax(1) * 1000 + images.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(np.asarray(batch)[order], images[expected], atol=1e-5)


def test_augmented_shifts_stay_within_the_lab_range():
    square = np.zeros((200, 28, 28, 1), np.float32)
    square[:, 10:18, 10:18] = 1.0
    labels = np.zeros((200, 10), np.float32)
    batches = fu.augmented_dataset(square, labels, batch_size=100, rotation=0, shear=0, zoom=0)
    out = np.concatenate([np.asarray(b[0])[..., 0] for b in batches])
    centres = (out.sum(axis=1) * np.arange(28)).sum(axis=1) / out.sum(axis=(1, 2))
    shifts = centres - 13.5
    assert np.abs(shifts).max() <= 0.08 * 28 + 0.05      # ±2,24 pixels au plus
    assert shifts.min() < -1.5 and shifts.max() > 1.5     # et les décalages sont bien tirés
