"""Tests de photo_results (tableaux et figures des verdicts, résumé du banc) et de scripts/bench_photos.py."""
import json
import sys
import warnings
from pathlib import Path

import error_analysis
import fashion_utils as fu
import model_files
import numpy as np
import pandas as pd
import photo_files
import photo_prediction
import photo_preparation
import photo_results
import pytest
from conftest import block_image
from matplotlib.colors import to_hex
from PIL import Image
from safe_files import file_sha256
from sklearn.metrics import balanced_accuracy_score, confusion_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_photos as bench  # noqa: E402


def photo_files_in(folder, names, size=(40, 60)):
    paths = []
    for name in names:
        Image.new("RGB", size, (200, 200, 200)).save(folder / name)
        paths.append(folder / name)
    return paths


# ---------------------------------------------------------------- verdicts sur des photos

def test_verdicts_table_marks_right_wrong_and_unknown(tmp_path):
    probabilities = np.eye(10)[[1, 3, 8]] * 0.9 + 0.01
    paths = [tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"]
    table = photo_results.verdicts_table(paths, probabilities, {"a.jpg": 1, "b.jpg": 4})
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["photo", "verdict", "confiance", "attendu", "correct"]
    assert table["photo"].tolist() == ["a.jpg", "b.jpg", "c.jpg"]
    assert table["verdict"].tolist() == ["Un pantalon", "Une robe", "Un sac"]
    assert table["confiance"].tolist() == ["91 %"] * 3
    assert table["attendu"].tolist() == ["Un pantalon", "Un manteau", "?"]
    assert table["correct"].tolist() == ["oui", "non", ""]


def test_verdicts_table_without_expected_classes(tmp_path):
    table = photo_results.verdicts_table([tmp_path / "a.jpg"], np.eye(10)[[9]])
    assert list(table.columns) == ["photo", "verdict", "confiance"]
    assert table.iloc[0].tolist() == ["a.jpg", "Des bottes de cheville", "100 %"]


def test_pipelines_table_one_column_per_preparation(tmp_path):
    paths = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    results = {"labo": (None, np.eye(10)[[0, 1]]), "premier_plan": (None, np.eye(10)[[2, 7]])}
    table = photo_results.pipelines_table(paths, results, {"a.jpg": 2})
    assert list(table.columns) == ["photo", "attendu", "labo", "premier_plan"]
    assert table["attendu"].tolist() == ["Un pull", "?"]
    assert table["labo"].tolist() == ["Un T-shirt/haut", "Un pantalon"]
    assert table["premier_plan"].tolist() == ["Un pull", "Des baskets"]
    assert list(photo_results.pipelines_table(paths, results).columns) == ["photo", "labo", "premier_plan"]


def test_plot_photo_predictions_titles_and_colours(tmp_path, no_show):
    paths = photo_files_in(tmp_path, ["a.png", "b.png"])
    batch = np.zeros((2, 28, 28, 1), np.float32)
    probabilities = np.full((2, 10), 0.02)
    probabilities[0, 1], probabilities[1, 3] = 0.82, 0.82
    fig = photo_results.plot_photo_predictions(paths, batch, probabilities, expected=[1, 4])
    axes = np.asarray(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[:, 0]] == ["a.png", "b.png"]
    assert axes[0, 2].get_title() == "Pantalon (82 %) ✓"
    assert axes[1, 2].get_title() == "Robe (82 %) ✗ (attendu : Manteau)"
    colours = [to_hex(bar.get_facecolor()) for bar in axes[1, 2].patches]
    assert colours[4] == to_hex("tab:green") and colours[3] == to_hex("tab:red")   # attendu, prédit
    assert set(colours[:3] + colours[5:]) == {to_hex("tab:blue")}
    assert [bar.get_width() for bar in axes[1, 2].patches] == pytest.approx(probabilities[1] * 100)


def test_plot_photo_predictions_can_show_the_region_given_to_the_model(tmp_path, no_show):
    paths = photo_files_in(tmp_path, ["a.png"])
    region = photo_preparation.region_picture(paths[0], "premier_plan")
    fig = photo_results.plot_photo_predictions(paths, np.zeros((1, 28, 28, 1), np.float32), np.eye(10)[[2]],
                                               regions=[region])
    photo_axis = fig.axes[0]
    assert photo_axis.get_title() == "a.png\n(région gardée encadrée)"
    np.testing.assert_array_equal(photo_axis.get_images()[0].get_array(), np.asarray(region))


def test_plot_pipeline_comparison_one_column_per_preparation(tmp_path, no_show):
    paths = photo_files_in(tmp_path, ["a.png"])
    batch = np.zeros((1, 28, 28, 1), np.float32)
    results = {"labo": (batch, np.eye(10)[[1]]), "premier_plan": (batch, np.eye(10)[[9]])}
    fig = photo_results.plot_pipeline_comparison(paths, results, expected=[9])
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["a.png", "labo\nPantalon (100 %)",
                                                  "premier_plan\nBottes de cheville (100 %)"]
    assert fig.axes[1].title.get_color() == "red" and fig.axes[2].title.get_color() == "green"


# ---------------------------------------------------------------- résumé du banc (modele/bench_photos.json)

def test_photo_benchmark_table_one_row_per_model_and_preparation():
    results = [
        {"model": "modele", "pipeline": "labo", "split": "dev", "balanced_accuracy": 0.2, "accuracy": 0.3},
        {"model": "modele", "pipeline": "labo", "split": "holdout",
         "balanced_accuracy": 0.25, "accuracy": 0.4},
        {"model": "photos", "pipeline": "premier_plan", "split": "dev",
         "balanced_accuracy": 0.5, "accuracy": 0.6},
    ]
    table = photo_results.photo_benchmark_table({"results": results})
    assert list(table.index) == [("modele", "labo"), ("photos", "premier_plan")]
    assert table.index.names == ["modèle", "préparation"] and table.columns.name == "partie"
    assert list(table.columns) == ["dev", "holdout"]
    assert table.loc[("modele", "labo"), "holdout"] == 0.25
    assert np.isnan(table.loc[("photos", "premier_plan"), "holdout"])
    accuracy = photo_results.photo_benchmark_table({"results": results}, value="accuracy")
    assert accuracy.loc[("photos", "premier_plan"), "dev"] == 0.6


def test_benchmark_models_changed_compares_the_weights_fingerprints(tmp_path):
    for name, content in (("a", b"poids a"), ("b", b"poids b")):
        (tmp_path / f"{name}.weights.h5").write_bytes(content)
    summary = {"models": {name: {"sha256": file_sha256(tmp_path / f"{name}.weights.h5")} for name in "ab"},
               "results": [{"model": model, "pipeline": "labo", "split": split}
                           for split in ("dev", "holdout") for model in "ab"]}
    assert photo_results.benchmark_models_changed(summary, tmp_path) == []
    (tmp_path / "b.weights.h5").write_bytes(b"poids b, reentraine")
    assert photo_results.benchmark_models_changed(summary, tmp_path) == ["b"]
    (tmp_path / "a.weights.h5").unlink()
    assert photo_results.benchmark_models_changed(summary, tmp_path) == ["a", "b"]


def test_read_photo_benchmark_reads_the_bench_summary(tmp_path):
    summary = {"photos": "photos-dev", "n_photos": {"dev": 3}, "models": {},
               "results": [{"model": "modele", "pipeline": "labo", "split": "dev", "balanced_accuracy": 0.5}]}
    path = tmp_path / "banc.json"
    path.write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    assert photo_results.read_photo_benchmark(path) == summary


def test_read_photo_benchmark_ignores_missing_and_old_summaries(tmp_path):
    assert photo_results.read_photo_benchmark(tmp_path / "absent.json") is None
    old = tmp_path / "ancien.json"
    old.write_text('{"model": "modele", "split": "holdout", "n_photos": 142, "pipelines": {}}', encoding="utf-8")
    assert photo_results.read_photo_benchmark(old) is None


def test_balanced_accuracy_is_sklearns_without_the_warning():
    rng = np.random.default_rng(0)
    y_true = rng.choice([0, 1, 3, 9], size=60)                     # pas de sac (8) parmi les photos
    y_pred = np.where(rng.random(60) < 0.5, y_true, rng.integers(0, 10, size=60))
    assert 8 in y_pred
    with pytest.warns(UserWarning):
        expected = balanced_accuracy_score(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert error_analysis.balanced_accuracy(y_true, y_pred) == pytest.approx(expected)


# ---------------------------------------------------------------- banc d'essai : scores

@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_scores_on_a_small_known_case():
    y_true = [0, 0, 0, 1, 1, 5]
    y_pred = [0, 0, 1, 1, 3, 5]
    scores = bench.score_predictions(y_true, y_pred)
    assert scores.classes == [0, 1, 5]
    assert scores.counts == {0: 3, 1: 2, 5: 1}
    assert scores.per_class == pytest.approx({0: 2 / 3, 1: 1 / 2, 5: 1.0})
    assert scores.accuracy == pytest.approx(4 / 6)
    assert scores.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert scores.balanced_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert list(scores.confusion.index) == [fu.NOMS_COURTS[0], fu.NOMS_COURTS[1], fu.NOMS_COURTS[5]]
    assert list(scores.confusion.columns) == fu.NOMS_COURTS
    expected = np.zeros((3, 10), int)
    expected[0, 0], expected[0, 1] = 2, 1
    expected[1, 1], expected[1, 3] = 1, 1
    expected[2, 5] = 1
    np.testing.assert_array_equal(scores.confusion.to_numpy(), expected)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_scores_match_sklearn_on_random_predictions():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 10, 300)
    y_true[y_true == 8] = 2                              # une classe absente, comme Sac
    y_pred = rng.integers(0, 10, 300)
    scores = bench.score_predictions(y_true, y_pred)
    assert scores.balanced_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    full = confusion_matrix(y_true, y_pred, labels=range(10))
    np.testing.assert_array_equal(scores.confusion.to_numpy(), full[scores.classes])


def test_failed_photos_count_as_errors_in_their_own_column():
    scores = bench.score_predictions([2, 2, 7, 7], [2, bench.FAILED, 7, 7])
    assert scores.n_failed == 1
    assert scores.per_class == {2: 0.5, 7: 1.0}
    assert scores.accuracy == pytest.approx(0.75)
    assert scores.confusion.columns[-1] == "échec"
    assert scores.confusion.loc[fu.NOMS_COURTS[2], "échec"] == 1
    text = bench.format_scores(scores)
    assert "0.750" in text and "0.750" in text.splitlines()[-1]


def test_scores_refuse_mismatched_or_empty_input():
    with pytest.raises(ValueError):
        bench.score_predictions([0, 1], [0])
    with pytest.raises(ValueError):
        bench.score_predictions([], [])
    with pytest.raises(ValueError):
        bench.score_predictions([0], [10])


def test_bench_prepare_entries_reports_unreadable_and_failing(tmp_path, monkeypatch):
    good, other = tmp_path / "bon.png", tmp_path / "autre.png"
    block_image((30, 20)).save(good)
    block_image((20, 30), fg=220, bg=20).save(other)
    bad = tmp_path / "abime.jpg"
    bad.write_bytes(b"\xff\xd8 pas un jpeg")
    entries = [(good, 0), (bad, 0), (other, 1)]
    images, ok, failures = bench.prepare_entries(entries, "labo")
    assert ok == [0, 2] and images.shape == (2, 28, 28)
    np.testing.assert_array_equal(images[1], photo_preparation.prepare_lab(other))
    assert [(failure.path, failure.unreadable) for failure in failures] == [(bad, True)]

    def broken(path):
        raise RuntimeError("boum")
    monkeypatch.setitem(photo_preparation.PREPARATIONS, "cassee", broken)
    _, ok, failures = bench.prepare_entries(entries[:1], "cassee")
    assert ok == [] and failures[0].unreadable is False and "boum" in failures[0].message


class FakeModel:
    """Modèle factice : prédit la classe écrite dans le pixel (0, 0) (valeur / 10)."""

    def predict(self, batch, batch_size=None, verbose=0):
        labels = np.rint(batch[:, 0, 0, 0] * 10).astype(int)
        return np.eye(10)[labels]


def test_score_prepared_with_a_fake_model(tmp_path, monkeypatch):
    entries = []
    for i, truth in enumerate([0, 0, 1, 1, 0]):
        path = tmp_path / f"{i}.png"
        block_image((8, 8)).save(path)
        entries.append((path, truth))
    bad = tmp_path / "abime.png"
    bad.write_bytes(b"rien")
    entries.append((bad, 1))
    guesses = {entries[i][0]: g for i, g in enumerate([0, 3, 1, 1])}

    def guess(path):
        photo_files.open_photo(path)
        image = np.zeros((28, 28), np.float32)
        image[0, 0] = guesses[path] / 10                 # KeyError pour 4.png : la préparation échoue
        image[14, 14] = 1.0                              # un « vêtement » : l'image n'est pas unie
        return image

    monkeypatch.setitem(photo_preparation.PREPARATIONS, "devine", guess)
    images, ok, failures = bench.prepare_entries(entries, "devine")
    scores, predicted = bench.score_prepared(FakeModel(), entries, images, ok, failures, variations=False)
    assert ok == [0, 1, 2, 3] and list(predicted) == [0, 3, 1, 1]
    _, averaged = bench.score_prepared(FakeModel(), entries, images, ok, failures)   # comme test_model.ipynb
    expected = photo_prediction.predict_photos(FakeModel(), images[..., None]).argmax(axis=1)
    assert list(averaged) == list(expected) and list(averaged) != list(predicted)
    assert [(failure.path.name, failure.unreadable) for failure in failures] == [("4.png", False),
                                                                                ("abime.png", True)]
    assert scores.counts == {0: 3, 1: 2}                 # la photo illisible est écartée...
    assert scores.n_failed == 1                          # ...l'échec de la préparation compte faux
    assert scores.per_class == pytest.approx({0: 1 / 3, 1: 1.0})
    assert scores.balanced_accuracy == pytest.approx(2 / 3)


def test_save_grid_refuses_to_overwrite_a_photo(tmp_path):
    photo = tmp_path / "a.png"
    Image.new("RGB", (20, 20), "white").save(photo)
    before = photo.read_bytes()
    images = np.zeros((1, 28, 28), np.float32)
    with pytest.raises(ValueError, match="photos évaluées"):
        bench.save_grid(photo, [(photo, 0)], images, [0], np.array([0]))
    with pytest.raises(ValueError, match=".png"):
        bench.save_grid(tmp_path / "grille.jpg", [(photo, 0)], images, [0], np.array([0]))
    assert photo.read_bytes() == before
    out = tmp_path / "grille.png"
    bench.save_grid(out, [(photo, 0)], images, [0], np.array([0]))
    assert out.is_file() and photo.read_bytes() == before


def constant_model(label):
    """Petit modèle Keras qui répond toujours `label` (poids nuls, biais)."""
    import keras
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")], name=f"toujours_{label}")
    kernel, bias = model.layers[-1].get_weights()
    bias[:] = 0.0
    bias[label] = 10.0
    model.layers[-1].set_weights([np.zeros_like(kernel), bias])
    return model


def test_bench_main_scores_several_models_and_splits(tmp_path, capsys):
    photos = tmp_path / "photos"
    for folder in ("Trouser", "Ankle_boot"):
        (photos / folder).mkdir(parents=True)
        for i in range(2):
            block_image((40, 60), mode="RGB", fg=(60, 60, 60), bg=(200, 200, 200)).save(photos / folder / f"{folder}_{i}.png")
    prefixes = []
    for label in (1, 9):
        prefix = tmp_path / f"toujours_{label}"
        model_files.save_model_files(constant_model(label), f"{prefix}.json", f"{prefix}.weights.h5")
        prefixes.append(str(prefix))
    out = tmp_path / "banc.json"
    code = bench.main(["--photos", str(photos), "--model", prefixes[0], "--model", prefixes[1],
                       "--pipeline", "labo", "--split", "dev", "--split", "holdout", "--output", str(out)])
    assert code == 0
    summary = photo_results.read_photo_benchmark(out)
    assert summary["n_photos"] == {"dev": 2, "holdout": 2}
    assert [(r["model"], r["split"]) for r in summary["results"]] == [
        ("toujours_1", "dev"), ("toujours_9", "dev"), ("toujours_1", "holdout"), ("toujours_9", "holdout")]
    first = summary["results"][0]
    assert first["per_class"] == {"Pantalon": 1.0, "Bottes de cheville": 0.0}
    assert first["balanced_accuracy"] == 0.5 and first["accuracy"] == 0.5
    table = photo_results.photo_benchmark_table(summary)
    assert table.shape == (2, 2) and list(table.columns) == ["dev", "holdout"]
    assert table.loc[("toujours_9", "labo"), "holdout"] == 0.5
    assert "Résumé : précision équilibrée" in capsys.readouterr().out
    assert photo_results.benchmark_models_changed(summary, tmp_path) == []
    # toujours_9 réentraîné : ses poids ne sont plus ceux qui ont été mesurés
    model_files.save_model_files(constant_model(5), f"{prefixes[1]}.json", f"{prefixes[1]}.weights.h5")
    assert photo_results.benchmark_models_changed(summary, tmp_path) == ["toujours_9"]
    Path(f"{prefixes[0]}.weights.h5").unlink()
    assert photo_results.benchmark_models_changed(summary, tmp_path) == ["toujours_1", "toujours_9"]


def test_benchmark_without_fingerprints_counts_as_changed(tmp_path):
    summary = {"results": [{"model": "modele", "pipeline": "labo", "split": "dev", "balanced_accuracy": 0.2}]}
    model_files.save_model_files(constant_model(1), tmp_path / "modele.json", tmp_path / "modele.weights.h5")
    assert photo_results.benchmark_models_changed(summary, tmp_path) == ["modele"]


def test_bench_main_reports_missing_model(tmp_path, capsys):
    (tmp_path / "Trouser").mkdir()
    Image.new("RGB", (40, 60), "white").save(tmp_path / "Trouser" / "a.png")
    assert bench.main(["--photos", str(tmp_path), "--model", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().out


def test_photo_names_that_are_not_utf8_or_have_emoji_can_be_drawn_and_tabulated(tmp_path):
    import os
    raw = os.fsdecode(b"pull_caf\xe9_\xf0\x9f\x91\x95.png")              # « é » en Latin-1, puis un émoji
    assert photo_results.readable_name(raw) == "pull_caf\ufffd_\U0001F455.png"
    assert photo_results.display_name(raw) == "pull_caf\ufffd_?.png" or "\ufffd" not in photo_results._characters_of_the_figure_font()
    assert "?" in photo_results.display_name(raw) and "\U0001F455" not in photo_results.display_name(raw)
    table = photo_results.verdicts_table([raw], np.eye(10)[[2]])
    table.to_json()                                                       # aucun caractère impossible à écrire
    assert table["photo"].tolist() == ["pull_caf\ufffd_\U0001F455.png"]
