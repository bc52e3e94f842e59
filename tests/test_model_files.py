"""Tests de la sauvegarde sûre du modèle (JSON + poids) et de son rechargement, avec des messages en français."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import model_files
import numpy as np
import pytest
from conftest import dead_pid
from model_files import ModelFilesError, load_model_files, save_model_files
from safe_files import file_sha256

ANALYSE_DIR = Path(__file__).resolve().parents[1] / "analyse_image"
RESTORE_HINT = "git checkout -- analyse_image/modele"


# ------------------------------- outils ------------------------------------

def tiny_model(units, seed, input_shape=(28, 28, 1)):
    """Un tout petit réseau d'entrée 28 × 28 × 1 et de 10 sorties : units fixe son architecture."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def assert_same_model(actual, expected):
    assert dense_units(actual) == dense_units(expected)
    actual_weights, expected_weights = actual.get_weights(), expected.get_weights()
    assert len(actual_weights) == len(expected_weights)
    for got, want in zip(actual_weights, expected_weights):
        np.testing.assert_array_equal(got, want)


def folder_names(folder):
    return sorted(path.name for path in Path(folder).iterdir())


@pytest.fixture(scope="module")
def old_model():
    return tiny_model(4, seed=1)


@pytest.fixture(scope="module")
def new_model():
    return tiny_model(6, seed=2)


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "m.json", tmp_path / "m.weights.h5"


@pytest.fixture
def old_saved(paths, old_model):
    """Un ancien modèle déjà sauvegardé sous les noms où l'on va sauvegarder le nouveau."""
    save_model_files(old_model, *paths)
    return paths


class Killed(BaseException):
    """Le processus arrêté net au milieu de la sauvegarde (ni Exception ni OSError : rien ne le rattrape)."""


def count_replaces(monkeypatch, fail_at=None, after=False, error=None):
    """Remplace os.replace pour les appels venant de model_files : note la destination de chaque
    renommage et lève error au renommage numéro fail_at (avant ou après l'avoir fait)."""
    real_replace = os.replace
    destinations = []

    def replace(src, dst, *args, **kwargs):
        if sys._getframe(1).f_globals.get("__name__") != "model_files":
            return real_replace(src, dst, *args, **kwargs)
        destinations.append(Path(dst).name)
        failing = len(destinations) == fail_at
        if failing and not after:
            raise error
        real_replace(src, dst, *args, **kwargs)
        if failing and after:
            raise error

    monkeypatch.setattr(model_files.os, "replace", replace)
    return destinations


def raising(error):
    def fail(*args, **kwargs):
        raise error
    return fail


# ------------------------ sauvegarde et rechargement ---------------------------

def test_json_and_weights_round_trip_gives_identical_predictions(paths, old_model):
    json_path, weights_path = save_model_files(old_model, *paths)
    assert (json_path, weights_path) == paths
    reloaded = load_model_files(json_path, weights_path)
    images = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0), old_model.predict(images, verbose=0))
    assert folder_names(json_path.parent) == ["m.json", "m.weights.h5"]


def test_the_json_records_the_fingerprint_of_its_weights(old_saved):
    json_path, weights_path = old_saved
    description = json.loads(json_path.read_text(encoding="utf-8"))
    assert description[model_files.WEIGHTS_FINGERPRINT_KEY] == file_sha256(weights_path)
    assert description["class_name"] == "Sequential"


def test_saving_over_an_old_model_replaces_it_and_leaves_only_the_two_files(old_saved, new_model, capsys):
    save_model_files(new_model, *old_saved)
    assert_same_model(load_model_files(*old_saved), new_model)
    assert folder_names(old_saved[0].parent) == ["m.json", "m.weights.h5"]
    assert capsys.readouterr().out == ""


def test_the_renames_are_previous_weights_then_weights_then_json(old_saved, new_model, monkeypatch):
    # Les étapes numérotées des tests d'interruption ci-dessous supposent cet ordre.
    destinations = count_replaces(monkeypatch)
    save_model_files(new_model, *old_saved)
    previous = model_files._previous_weights_path(old_saved[1])
    assert previous.parent == old_saved[1].parent and previous.name.startswith(".m.") and previous.name.endswith(".weights.h5")
    assert destinations == [previous.name, "m.weights.h5", "m.json"]


def test_model_files_for_saving_gives_two_hidden_temporaries_beside_the_final_files(paths, old_model):
    with model_files.model_files_for_saving(*paths) as (tmp_json, tmp_weights):
        assert tmp_json.parent == tmp_weights.parent == paths[0].parent
        assert tmp_json.name.startswith(".m.json.") and tmp_weights.name.startswith(".m.weights.h5.")
        assert tmp_weights.name.endswith(".weights.h5")
        tmp_json.write_text(old_model.to_json(), encoding="utf-8")
        old_model.save_weights(tmp_weights)
    assert not tmp_json.exists() and not tmp_weights.exists()
    assert_same_model(load_model_files(*paths), old_model)


def test_legacy_json_without_fingerprint_still_loads(paths, old_model):
    # Les modèles fournis avec le dépôt ont été sauvegardés avant l'empreinte des poids.
    json_path, weights_path = paths
    json_path.write_text(old_model.to_json(), encoding="utf-8")
    old_model.save_weights(weights_path)
    assert_same_model(load_model_files(json_path, weights_path), old_model)


@pytest.mark.parametrize("name", ["modele", "modele_4conv", "modele_photos", "modele_photos_affine"])
def test_the_models_of_the_repository_load(name):
    json_path = ANALYSE_DIR / "modele" / f"{name}.json"
    weights_path = ANALYSE_DIR / "modele" / f"{name}.weights.h5"
    if not (json_path.is_file() and weights_path.is_file()):
        pytest.skip(f"{name} n'est pas dans analyse_image/modele")
    model = load_model_files(json_path, weights_path)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)


def test_weights_name_must_end_with_weights_h5(tmp_path, old_model):
    with pytest.raises(ModelFilesError, match=r"« \.weights\.h5 ».*renommez « m\.h5 »"):
        save_model_files(old_model, tmp_path / "m.json", tmp_path / "m.h5")
    assert folder_names(tmp_path) == []


def test_missing_model_file_says_what_to_do(tmp_path):
    with pytest.raises(ModelFilesError, match="introuvable.*classification.ipynb") as error:
        load_model_files(tmp_path / "absent.json", tmp_path / "absent.weights.h5")
    assert RESTORE_HINT in str(error.value)


def test_a_model_with_the_wrong_input_is_refused_before_replacing_the_old_one(old_saved, old_model):
    before = [path.read_bytes() for path in old_saved]
    with pytest.raises(ModelFilesError, match=r"il faut une entrée \(28, 28, 1\) et 10 classes"):
        save_model_files(tiny_model(4, seed=3, input_shape=(32, 32, 1)), *old_saved)
    assert [path.read_bytes() for path in old_saved] == before
    assert folder_names(old_saved[0].parent) == ["m.json", "m.weights.h5"]


# ------------------- fichiers qui ne vont pas ensemble ---------------------------

def test_weights_of_another_save_with_the_same_architecture_are_detected(tmp_path, old_model):
    save_model_files(old_model, tmp_path / "a.json", tmp_path / "a.weights.h5")
    save_model_files(tiny_model(4, seed=9), tmp_path / "b.json", tmp_path / "b.weights.h5")
    with pytest.raises(ModelFilesError, match="ne sont pas ceux enregistrés") as error:
        load_model_files(tmp_path / "a.json", tmp_path / "b.weights.h5")
    assert RESTORE_HINT in str(error.value)


def test_legacy_json_with_weights_of_another_architecture_is_reported(tmp_path, old_model, new_model):
    (tmp_path / "a.json").write_text(old_model.to_json(), encoding="utf-8")
    save_model_files(new_model, tmp_path / "b.json", tmp_path / "b.weights.h5")
    with pytest.raises(ModelFilesError, match="ne correspondent pas à l'architecture"):
        load_model_files(tmp_path / "a.json", tmp_path / "b.weights.h5")


# ---------------- une sauvegarde qui échoue ou qui est tuée en route -----------------

def _fail_fingerprint(monkeypatch, error):
    monkeypatch.setattr(model_files, "file_sha256", raising(error))


def _fail_reading_back(monkeypatch, error):
    monkeypatch.setattr(model_files, "load_model_files", raising(error))


def _fail_keeping_previous(monkeypatch, error):
    monkeypatch.setattr(model_files, "_keep_previous_weights", raising(error))


def _fail_replace(number, after):
    def setup(monkeypatch, error):
        count_replaces(monkeypatch, fail_at=number, after=after, error=error)
    return setup



#: (étape où la sauvegarde s'arrête, modèle qu'on doit retrouver, message « interrompue » attendu)
INTERRUPTIONS = [
    pytest.param(_fail_fingerprint, "ancien", False, id="empreinte-des-poids"),
    pytest.param(_fail_reading_back, "ancien", False, id="relecture"),
    pytest.param(_fail_keeping_previous, "ancien", False, id="garde-des-anciens-poids"),
    pytest.param(_fail_replace(1, after=False), "ancien", False, id="avant-copie-des-anciens-poids"),
    pytest.param(_fail_replace(1, after=True), "ancien", False, id="apres-copie-des-anciens-poids"),
    pytest.param(_fail_replace(2, after=False), "ancien", False, id="avant-renommage-des-poids"),
    pytest.param(_fail_replace(2, after=True), "ancien", True, id="poids-renommes-json-pas-encore"),
    pytest.param(_fail_replace(3, after=False), "ancien", True, id="avant-renommage-du-json"),
    pytest.param(_fail_replace(3, after=True), "nouveau", False, id="json-renomme"),
]
ERRORS = [pytest.param(Killed, id="tuee"), pytest.param(OSError, id="OSError")]


@pytest.mark.parametrize("error_type", ERRORS)
@pytest.mark.parametrize("interrupt, survivor, announced", INTERRUPTIONS)
def test_an_interrupted_save_leaves_a_complete_model(old_saved, old_model, new_model, monkeypatch, capsys,
                                                     interrupt, survivor, announced, error_type):
    error = Killed() if error_type is Killed else OSError(errno.EIO, "Input/output error")
    interrupt(monkeypatch, error)
    with pytest.raises(Killed if error_type is Killed else ModelFilesError):
        save_model_files(new_model, *old_saved)
    monkeypatch.undo()
    capsys.readouterr()

    loaded = load_model_files(*old_saved)
    assert_same_model(loaded, old_model if survivor == "ancien" else new_model)
    out = capsys.readouterr().out
    if announced:
        assert out == ("La dernière sauvegarde de « m.json » a été interrompue : le modèle précédent, "
                       "complet, est utilisé.\n")
    else:
        assert out == ""

    # La sauvegarde suivante réussit et ne garde pas d'anciens poids à côté.
    save_model_files(new_model, *old_saved)
    assert_same_model(load_model_files(*old_saved), new_model)
    assert not model_files._previous_weights_path(old_saved[1]).exists()


@pytest.mark.parametrize("interrupt", [
    pytest.param(_fail_fingerprint, id="empreinte-des-poids"),
    pytest.param(_fail_reading_back, id="relecture"),
    pytest.param(_fail_replace(1, after=False), id="avant-copie-des-anciens-poids"),
    pytest.param(_fail_replace(2, after=False), id="avant-renommage-des-poids"),
])
def test_a_failed_save_leaves_no_temporary_behind(old_saved, new_model, monkeypatch, interrupt):
    interrupt(monkeypatch, OSError(errno.EIO, "Input/output error"))
    with pytest.raises(ModelFilesError):
        save_model_files(new_model, *old_saved)
    monkeypatch.undo()
    leftovers = [name for name in folder_names(old_saved[0].parent) if ".tmp" in name]
    assert leftovers == []


def test_weights_renamed_but_json_not_falls_back_on_the_kept_previous_weights(old_saved, old_model, new_model,
                                                                            monkeypatch, capsys):
    json_path, weights_path = old_saved
    old_json = json_path.read_bytes()
    count_replaces(monkeypatch, fail_at=3, after=False, error=Killed())
    with pytest.raises(Killed):
        save_model_files(new_model, json_path, weights_path)
    monkeypatch.undo()
    # l'état exact laissé sur le disque : l'ancien JSON, les nouveaux poids, les anciens poids gardés à côté
    assert json_path.read_bytes() == old_json
    previous = model_files._previous_weights_path(weights_path)
    assert previous.is_file()
    fingerprint = json.loads(old_json)[model_files.WEIGHTS_FINGERPRINT_KEY]
    assert file_sha256(previous) == fingerprint != file_sha256(weights_path)
    capsys.readouterr()
    assert_same_model(load_model_files(json_path, weights_path), old_model)
    assert "a été interrompue : le modèle précédent, complet, est utilisé." in capsys.readouterr().out


def test_two_interrupted_saves_in_a_row_still_leave_a_complete_model(old_saved, old_model, new_model, monkeypatch):
    count_replaces(monkeypatch, fail_at=3, after=False, error=Killed())      # poids renommés, JSON pas encore
    with pytest.raises(Killed):
        save_model_files(new_model, *old_saved)
    monkeypatch.undo()
    count_replaces(monkeypatch, fail_at=2, after=False, error=Killed())      # anciens poids gardés, rien renommé
    with pytest.raises(Killed):
        save_model_files(tiny_model(6, seed=3), *old_saved)
    monkeypatch.undo()
    assert_same_model(load_model_files(*old_saved), old_model)


def test_an_interrupted_save_over_a_legacy_model_leaves_a_complete_model(paths, old_model, new_model, monkeypatch):
    json_path, weights_path = paths
    json_path.write_text(old_model.to_json(), encoding="utf-8")           # sans empreinte, comme le dépôt
    old_model.save_weights(weights_path)
    count_replaces(monkeypatch, fail_at=3, after=False, error=Killed())
    with pytest.raises(Killed):
        save_model_files(new_model, json_path, weights_path)
    monkeypatch.undo()
    assert_same_model(load_model_files(json_path, weights_path), old_model)


CHILD_KILLED_BETWEEN_RENAMES = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    import keras
    import model_files

    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if os.path.basename(dst) == "m.weights.h5":          # nouveaux poids en place, JSON pas encore
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(6, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model_files.save_model_files(model, sys.argv[2], sys.argv[3])
""")


def test_a_process_really_killed_while_saving_leaves_the_old_model_and_its_temporaries_are_removed(
        old_saved, old_model, new_model, capsys):
    json_path, weights_path = old_saved
    child = subprocess.Popen([sys.executable, "-c", CHILD_KILLED_BETWEEN_RENAMES, str(ANALYSE_DIR),
                              str(json_path), str(weights_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, stderr
    left = folder_names(json_path.parent)
    # les deux temporaires de la sauvegarde tuée : le JSON (les poids, eux, ont déjà été renommés)
    assert [name for name in left if ".tmp" in name] == [name for name in left
                                                         if name.startswith(f".m.json.{child.pid}-")]
    assert any(name.startswith(f".m.json.{child.pid}-") for name in left)
    assert model_files._previous_weights_path(weights_path).name in left

    capsys.readouterr()
    assert_same_model(load_model_files(json_path, weights_path), old_model)
    assert "a été interrompue" in capsys.readouterr().out

    save_model_files(new_model, json_path, weights_path)
    assert folder_names(json_path.parent) == ["m.json", "m.weights.h5"]
    assert_same_model(load_model_files(json_path, weights_path), new_model)


# --------------------- fichiers temporaires d'un processus mort ---------------------

def test_the_next_save_removes_temporaries_left_by_a_dead_process(old_saved, new_model):
    folder = old_saved[0].parent
    dead = dead_pid()
    stale = [f".m.json.{dead}-abcdef12.tmp", f".m.weights.h5.{dead}-abcdef12.tmp.weights.h5",
             f".m.weights.h5.{dead}-0123abcd.tmp"]
    for name in stale:
        (folder / name).write_bytes(b"reste d'une sauvegarde tuee")
    save_model_files(new_model, *old_saved)
    assert folder_names(folder) == ["m.json", "m.weights.h5"]
    assert_same_model(load_model_files(*old_saved), new_model)


def test_a_save_keeps_the_temporaries_of_the_running_process(old_saved, new_model):
    folder = old_saved[0].parent
    mine = model_files.temporary_path_beside(old_saved[0])
    mine.write_bytes(b"sauvegarde en cours")
    save_model_files(new_model, *old_saved)
    assert mine.read_bytes() == b"sauvegarde en cours"
    assert folder_names(folder) == sorted([mine.name, "m.json", "m.weights.h5"])


# ----------------------------- fichiers abîmés ---------------------------------

def _empty(data):
    return b""


def _truncated(data):
    return data[:len(data) // 2]


def _not_hdf5(data):
    return b"ceci n'est pas un fichier HDF5\n" * 100



@pytest.mark.parametrize("damage, fingerprinted", [
    pytest.param(_empty, False, id="vide-ancien-json"),
    pytest.param(_truncated, False, id="tronque-ancien-json"),
    pytest.param(_not_hdf5, False, id="pas-hdf5-ancien-json"),
    pytest.param(_empty, True, id="vide"),
    pytest.param(_truncated, True, id="tronque"),
    pytest.param(_not_hdf5, True, id="pas-hdf5"),
])
def test_damaged_weights_are_reported_as_damaged(old_saved, old_model, damage, fingerprinted):
    json_path, weights_path = old_saved
    if not fingerprinted:
        json_path.write_text(old_model.to_json(), encoding="utf-8")
    weights_path.write_bytes(damage(weights_path.read_bytes()))
    with pytest.raises(ModelFilesError, match="est abîmé") as error:
        load_model_files(json_path, weights_path)
    assert RESTORE_HINT in str(error.value)


def test_unreadable_json_is_reported(old_saved):
    json_path, weights_path = old_saved
    for content in (b"{pas du json", b"\xff\xfe\x00 binaire"):
        json_path.write_bytes(content)
        with pytest.raises(ModelFilesError, match="n'est pas un JSON lisible") as error:
            load_model_files(json_path, weights_path)
        assert RESTORE_HINT in str(error.value)


@pytest.mark.parametrize("content", [
    "{}", "[]", "null", '"modele"', "42",
    json.dumps({"schema": 1, "runs": [{"model": "1 convolution", "test_accuracy": 0.9}],
                "saved_model": {"name": "modele.json", "files": ["modele/modele.json"]}}),
])
def test_a_json_that_is_not_a_model_description_is_reported(old_saved, content):
    json_path, weights_path = old_saved
    json_path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFilesError, match="pas la description d'un modèle Keras") as error:
        load_model_files(json_path, weights_path)
    assert RESTORE_HINT in str(error.value)


@pytest.mark.parametrize("content", [
    '{"class_name": "Sequential", "config": 5}',
    '{"class_name": "Dense", "config": {"units": 3}}',
    '{"class_name": "PasUneCouche", "config": {}}',
])
def test_a_model_description_keras_cannot_use_is_reported(old_saved, content):
    json_path, weights_path = old_saved
    json_path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFilesError) as error:
        load_model_files(json_path, weights_path)
    assert RESTORE_HINT in str(error.value)


def _widen(model, layer_class, key):
    description = json.loads(model.to_json())
    layer = next(layer for layer in description["config"]["layers"] if layer["class_name"] == layer_class)
    layer["config"][key] = 50_000
    return json.dumps(description)


@pytest.mark.parametrize("layer_class, key", [("Dense", "units"), ("Conv2D", "filters")])
def test_a_json_describing_a_huge_layer_is_refused_without_building_it(old_saved, monkeypatch, layer_class, key):
    json_path, weights_path = old_saved
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(4), keras.layers.Dense(10, activation="softmax")])
    json_path.write_text(_widen(model, layer_class, key), encoding="utf-8")
    built = []
    monkeypatch.setattr(keras.models, "model_from_json", lambda *args, **kwargs: built.append(args))
    start = time.perf_counter()
    with pytest.raises(ModelFilesError, match=r"couche de 50000 neurones.*au plus 8192") as error:
        load_model_files(json_path, weights_path)
    assert time.perf_counter() - start < 2
    assert built == []
    assert RESTORE_HINT in str(error.value)


# -------------------- dossier où l'on ne peut pas écrire ----------------------

def test_check_model_folder_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    folder = tmp_path / "a" / "modele"
    assert model_files.check_model_folder_writable(str(folder)) == folder
    assert folder.is_dir() and folder_names(folder) == []


def test_a_folder_under_a_regular_file_is_reported_in_french(tmp_path):
    (tmp_path / "fichier").write_text("pas un dossier", encoding="utf-8")
    folder = tmp_path / "fichier" / "modele"
    with pytest.raises(ModelFilesError, match="Impossible d'écrire dans le dossier des modèles") as error:
        model_files.check_model_folder_writable(folder)
    assert f"« {folder} »" in str(error.value)
    assert "DOSSIER_MODELE" in str(error.value)


def test_a_read_only_folder_is_reported_in_french(tmp_path):
    folder = tmp_path / "lecture_seule"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("chmod sans effet (tests lancés en root)")
        with pytest.raises(ModelFilesError, match="Impossible d'écrire dans le dossier des modèles") as error:
            model_files.check_model_folder_writable(folder)
        assert f"« {folder} »" in str(error.value)
    finally:
        folder.chmod(0o755)


def test_saving_into_a_folder_under_a_regular_file_is_refused_before_the_block(tmp_path, old_model):
    (tmp_path / "fichier").write_text("pas un dossier", encoding="utf-8")
    folder = tmp_path / "fichier" / "modele"
    with pytest.raises(ModelFilesError, match=f"Impossible d'écrire dans le dossier des modèles « {folder} »"):
        with model_files.model_files_for_saving(folder / "m.json", folder / "m.weights.h5"):
            pytest.fail("le bloc de sauvegarde ne doit pas être exécuté")


def test_a_write_error_while_saving_is_reported_in_french_and_keeps_the_old_model(old_saved, old_model, monkeypatch):
    json_path, weights_path = old_saved
    before = [json_path.read_bytes(), weights_path.read_bytes()]
    other = tiny_model(6, seed=5)

    def disk_full(path, *args, **kwargs):
        Path(path).write_bytes(b"a moitie ecrit")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(other, "save_weights", disk_full)
    with pytest.raises(ModelFilesError) as error:
        save_model_files(other, json_path, weights_path)
    message = str(error.value)
    assert message.startswith(f"Impossible de sauvegarder le modèle dans « {json_path.parent} » : "
                              f"{os.strerror(errno.ENOSPC)}.")
    assert "Le modèle déjà présent reste utilisable" in message and "DOSSIER_MODELE" in message
    assert isinstance(error.value.__cause__, OSError)
    assert [json_path.read_bytes(), weights_path.read_bytes()] == before
    assert folder_names(json_path.parent) == ["m.json", "m.weights.h5"]
    assert_same_model(load_model_files(json_path, weights_path), old_model)


def test_an_error_in_the_saving_block_propagates_and_keeps_the_old_model(old_saved, old_model):
    before = [path.read_bytes() for path in old_saved]
    with pytest.raises(RuntimeError, match="entraînement arrêté"):
        with model_files.model_files_for_saving(*old_saved) as (tmp_json, tmp_weights):
            tmp_json.write_text("{}", encoding="utf-8")
            raise RuntimeError("entraînement arrêté")
    assert [path.read_bytes() for path in old_saved] == before
    assert folder_names(old_saved[0].parent) == ["m.json", "m.weights.h5"]
