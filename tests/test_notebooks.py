"""Les deux carnets exécutés sans interface (papermill), en mode rapide, sur les vraies données."""
import json
import re
import shutil
from pathlib import Path

import fashion_utils as fu
import lab_networks
import numpy as np
import papermill
import photo_files
import photo_preparation
import photo_upload
import pytest
from conftest import ANALYSE_DIR
from PIL import Image, ImageFilter, ImageOps

QUICK = {"LIGNES_ENTRAINEMENT": 3000, "LIGNES_TEST": 1000, "EPOQUES": 2, "EPOQUES_AUGMENTATION": 2,
         "PARTIE_OPTIONNELLE": True, "VOIE_RAPIDE": True, "PARTIE_PHOTOS": True, "EPOQUES_PHOTOS": 2,
         "EPOQUES_AFFINAGE": 2}


def execute(name, output, **parameters):
    """Exécute analyse_image/<name> dans output avec ces paramètres ; renvoie le carnet exécuté."""
    papermill.execute_notebook(str(ANALYSE_DIR / name), str(output), parameters=parameters,
                               cwd=str(ANALYSE_DIR), kernel_name="python3", progress_bar=False)
    return json.loads(output.read_text(encoding="utf-8"))


def stream_text(notebook):
    """Tout ce que les cellules ont écrit (print), mis bout à bout."""
    return "".join("".join(out.get("text", ""))
                   for cell in notebook["cells"] if cell["cell_type"] == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def count_images(notebook):
    return sum(1 for cell in notebook["cells"] for out in cell.get("outputs", [])
               if "image/png" in out.get("data", {}))


def example_photos_by_class(folder):
    """Les photos d'exemple de images/ retournées de gauche à droite (donc d'un autre contenu), rangées
    dans un dossier par classe comme photos-dev : de vraies photos pour l'affinage, sans ../shared."""
    names = {label: name for name, label in photo_files.FOLDER_TO_LABEL.items()}
    for photo, label in photo_files.read_expected_labels(ANALYSE_DIR / "images")[0].items():
        (folder / names[label]).mkdir(parents=True, exist_ok=True)
        with Image.open(ANALYSE_DIR / "images" / photo) as image:
            ImageOps.mirror(image).save(folder / names[label] / Path(photo).with_suffix(".png").name)
    return folder


@pytest.fixture(scope="module")
def quick_classification(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classification")
    photos = example_photos_by_class(folder / "photos")
    notebook = execute("classification.ipynb", folder / "classification.ipynb",
                       DOSSIER_MODELE=str(folder / "modele"), DOSSIER_PHOTOS_REELLES=str(photos), **QUICK)
    return folder / "modele", notebook


def test_classification_quick_run_saves_models_that_reload(quick_classification):
    model_dir, _ = quick_classification
    for name in ("modele", "modele_4conv", "modele_photos", "modele_photos_affine"):
        model = fu.load_model_files(model_dir / f"{name}.json", model_dir / f"{name}.weights.h5")
        assert model.output_shape == (None, 10)


def test_classification_quick_run_reports_accuracies_above_chance(quick_classification):
    model_dir, notebook = quick_classification
    text = stream_text(notebook)
    printed = [float(x.replace(",", ".")) for x in re.findall(r"Précision : ([0-9,]+) \(", text)]
    assert len(printed) == 7  # 1 conv, ImageDataGenerator, voie rapide, 4 conv, 4 conv augmenté, photos, affiné
    # Réseaux à 1 convolution (dont le modèle sauvegardé) : au-dessus du hasard (0.1). Les réseaux à
    # 4 convolutions (dont ceux pour les photos, qui en partent) ne sont pas jugés ici : en quelques
    # lots, les moyennes de leurs BatchNormalization n'ont pas encore convergé et leur précision de
    # test reste proche du hasard.
    assert min(printed[:3]) > 0.2, printed
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert [run["test_accuracy"] for run in metrics["runs"]] == pytest.approx(printed, abs=1e-4)
    assert [run["epochs"] for run in metrics["runs"]] == [2] * 7
    assert len(metrics["saved_model"]["confusion_matrix"]) == 10
    assert sum(map(sum, metrics["saved_model"]["confusion_matrix"])) == QUICK["LIGNES_TEST"]
    assert "ran out of data" not in text
    assert count_images(notebook) >= 10  # courbes, exemples, matrice de confusion, erreurs


def stderr_outputs(notebook):
    """Les sorties d'erreur (stderr) des cellules : un élève ne doit pas en voir."""
    return [out for cell in notebook["cells"] for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stderr"]


def test_classification_quick_run_writes_nothing_on_stderr(quick_classification):
    """Aucun avertissement dans les cellules : ce que l'exécution rapide montre, une exécution
    complète le montrerait aussi, en rouge, à l'élève."""
    _, notebook = quick_classification
    assert stderr_outputs(notebook) == []


def test_classification_quick_run_fine_tunes_on_dev_photos_and_measures_holdout(quick_classification):
    model_dir, notebook = quick_classification
    photos = model_dir.parent / "photos"
    n_dev, n_holdout = (len(photo_files.collect_photos(photos, split)[0]) for split in ("dev", "holdout"))
    assert n_dev > 0 and n_holdout > 0
    text = stream_text(notebook)
    assert f"{n_dev} vraies photos pour l'affinage" in text and "(0 photos d'exemple" in text
    assert f"{n_holdout} photos dans la partie « holdout »" in text
    assert "Précision équilibrée avant l'affinage (modele_photos)" in text
    assert "Précision équilibrée après l'affinage (modele_photos_affine)" in text
    assert "Modèle affiné sur de vraies photos sauvegardé" in text


def test_test_model_classifies_every_photo_with_a_freshly_trained_model(quick_classification, tmp_path):
    model_dir, _ = quick_classification
    images = tmp_path / "images"
    shutil.copytree(ANALYSE_DIR / "images", images)
    (images / "pas_une_image.jpg").write_text("ceci n'est pas une photo", encoding="utf-8")
    (images / "notes.txt").write_text("pas une photo", encoding="utf-8")
    Image.new("RGB", (1, 5000), (120, 80, 40)).save(images / "fil.png")          # trop allongée
    Image.new("RGB", (300, 200), (255, 255, 255)).save(images / "blanche.png")   # unie
    with open(images / "labels.csv", "a", encoding="utf-8") as labels:
        labels.write("fil.png,12\nblanche.png,Pull\n")                            # une classe 12 : ligne signalée
    photos = photo_files.list_photos(images)
    shutil.copy(ANALYSE_DIR / "modele" / "bench_photos.json", model_dir)   # mesuré sur les modèles fournis
    notebook = execute("test_model.ipynb", tmp_path / "test_model.ipynb",
                       DOSSIER_MODELE=str(model_dir), DOSSIER_IMAGES=str(images))
    text = stream_text(notebook)
    assert text.count("Selon moi l'image est : ") == len(photos) - 3
    assert "pas_une_image.jpg" in text and "Photo ignorée" in text
    assert "Fichier non utilisé : notes.txt (pas une photo" in text
    assert "Ligne ignorée : labels.csv, ligne" in text and "« 12 » inconnue" in text
    assert "trop petite ou trop allongée" in text and "Aucun vêtement trouvé sur « blanche.png »" in text
    assert "Attention : les poids de modele, modele_photos, modele_photos_affine ne sont plus ceux" in text


def test_test_model_runs_on_the_shipped_model(tmp_path):
    """Juste après le clonage : le modèle fourni dans modele/ classe chaque photo de images/."""
    notebook = execute("test_model.ipynb", tmp_path / "test_model.ipynb")
    text = stream_text(notebook)
    photos = photo_files.list_photos(ANALYSE_DIR / "images")
    assert len(photos) >= 9
    assert text.count("Selon moi l'image est : ") == len(photos)
    assert count_images(notebook) == 2  # verdicts, comparaison avec la préparation du labo
    assert photo_upload.OFFLINE_TEXT in json.dumps(notebook, ensure_ascii=False)   # la zone d'envoi de photos
    assert "« labo (modele) » : " in text and "« vetement_seul (modele_photos_affine) » : " in text
    assert "Précision équilibrée :" in text and "Attention : les poids" not in text  # banc à jour


# ---------------------------------------------------------------------------
# Le code des cellules et celui des modules ne peuvent pas diverger
# ---------------------------------------------------------------------------

def cell_sources(name):
    """Le code de chaque cellule de code d'un carnet du dépôt."""
    notebook = json.loads((ANALYSE_DIR / name).read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def run_cells(name, *markers, **namespace):
    """Exécute, dans l'ordre du carnet, les cellules qui contiennent chacune un des marqueurs."""
    namespace.setdefault("fu", fu)
    for marker in markers:
        (source,) = [source for source in cell_sources(name) if marker in source]
        exec(compile(source, f"{name}:{marker}", "exec"), namespace)
    return namespace


def layer_signature(model):
    """Les couches d'un réseau (type et réglages, sans les noms) et son nombre de paramètres."""
    layers = [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
              for layer in model.layers]
    return layers, model.count_params()


def test_networks_built_in_cells_match_the_helper_builders():
    namespace = run_cells("classification.ipynb", "reseauNeurone1Convolution = Sequential",
                          "reseauNeurones4Convolution = Sequential",
                          LARGEUR_IMAGE=28, LONGUEUR_IMAGE=28, PARTIE_OPTIONNELLE=True)
    one_conv, four_conv = namespace["reseauNeurone1Convolution"], namespace["reseauNeurones4Convolution"]
    assert one_conv.count_params() == 693_962
    assert layer_signature(one_conv) == layer_signature(lab_networks.build_cnn_1conv())
    assert layer_signature(four_conv) == layer_signature(lab_networks.build_cnn_4conv())
    assert sum(type(layer).__name__ == "BatchNormalization" for layer in four_conv.layers) == 6


def test_augmented_validation_images_are_made_once_as_arrays():
    rng = np.random.default_rng(0)
    X_validation = rng.random((40, 28, 28, 1), dtype=np.float32)
    y_validation = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 40)]
    namespace = run_cells("classification.ipynb", "generateur_images = ImageDataGenerator(",
                          X_apprentissage=X_validation, y_apprentissage=y_validation,
                          X_validation=X_validation, y_validation=y_validation)
    X_augmented, y_augmented = namespace["X_validation_augmentee"], namespace["y_validation_augmentee"]
    assert isinstance(X_augmented, np.ndarray) and X_augmented.shape == X_validation.shape
    assert (y_augmented == y_validation).all()          # mêmes images, dans le même ordre
    assert not np.allclose(X_augmented, X_validation)   # mais transformées


def test_every_fit_of_the_notebook_validates_on_arrays():
    # Keras 3 remplace à chaque époque l'itérateur d'un générateur de validation : le processus s'y arrêtait.
    validation_arguments = re.findall(r"validation_data=(.*)", "\n".join(cell_sources("classification.ipynb")))
    assert len(validation_arguments) >= 5
    for argument in validation_arguments:
        assert argument.startswith("("), argument
    # la voie rapide donne un tf.data à fit() : sans validation_batch_size, Keras validerait par lots de 32
    fast_path = next(source for source in cell_sources("classification.ipynb") if "lab_augmented_batches(" in source)
    assert "validation_batch_size=256" in fast_path


def test_lab_cells_show_the_lab_code():
    sources = "\n".join(cell_sources("classification.ipynb"))
    for lab_code in ("Sequential(", ".add(Conv2D(32, kernel_size=(3, 3), activation='relu'))", ".compile(",
                     "optimizer=keras.optimizers.Adam()", ".fit(", "batch_size=256", "ImageDataGenerator(",
                     "shear_range=0.3", "generateur_images.flow(", "fu.repeat_forever(", ".to_json()",
                     ".save_weights(", "BatchNormalization()", "train_test_split(X, y, test_size=0.2, random_state=13)"):
        assert lab_code in sources, lab_code
    test_model = "\n".join(cell_sources("test_model.ipynb"))
    for lab_code in ("def load_and_preprocess_image(", "def resize_with_aspect_ratio(", "def create_centered_image(",
                     "def normalize_pixels(", "Selon moi l'image est : ", "classes = [\"Un T-shirt/haut\""):
        assert lab_code in test_model, lab_code


def test_lab_photo_functions_in_the_cell_match_the_module():
    namespace = run_cells("test_model.ipynb", "classes = [", "def load_and_preprocess_image(",
                          np=np, photo_files=photo_files, Image=Image, ImageFilter=ImageFilter)
    assert namespace["classes"] == fu.CLASSES
    photos = photo_files.list_photos(ANALYSE_DIR / "images")
    assert photos
    for photo in photos:
        from_cell = namespace["load_and_preprocess_image"](photo)
        from_module = photo_preparation.load_and_preprocess_image(photo)
        assert from_cell.shape == (1, 28, 28, 1)
        assert (from_cell == from_module).all(), photo.name


@pytest.mark.parametrize("name", ["classification.ipynb", "test_model.ipynb"])
def test_committed_notebooks_carry_no_machine_path_and_no_stderr(name):
    text = (ANALYSE_DIR / name).read_text(encoding="utf-8")
    notebook = json.loads(text)
    assert not [cell for cell in notebook["cells"] if "injected-parameters" in cell.get("metadata", {}).get("tags", [])]
    assert not re.search(r"(/work/|/home/|/root/|/tmp/|[A-Z]:\\\\Users)", text), "chemin de machine"
    assert stderr_outputs(notebook) == []
    assert not [out for cell in notebook["cells"] for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def test_classification_runs_on_a_sample_smaller_than_five_batches(tmp_path):
    """Moins de 1 280 images (validation plus petite qu'un lot) : le carnet va au bout au lieu d'attendre sans fin."""
    notebook = execute("classification.ipynb", tmp_path / "classification.ipynb", DOSSIER_MODELE=str(tmp_path / "modele"),
                       LIGNES_ENTRAINEMENT=600, LIGNES_TEST=200, EPOQUES=1, EPOQUES_AUGMENTATION=2,
                       PARTIE_OPTIONNELLE=False, VOIE_RAPIDE=False, PARTIE_PHOTOS=False)
    text = stream_text(notebook)
    assert text.count("Précision : ") == 2 and "2 époques" in text
    assert fu.load_model_files(tmp_path / "modele" / "modele.json", tmp_path / "modele" / "modele.weights.h5")
