"""Les deux carnets exécutés sans interface (papermill), en mode rapide, sur les vraies données."""
import json
import re
import shutil

from pathlib import Path

import papermill
import pytest
from PIL import Image, ImageOps

import fashion_utils as fu
from conftest import ANALYSE_DIR

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
    names = {label: name for name, label in fu.FOLDER_TO_LABEL.items()}
    for photo, label in fu.read_expected_labels(ANALYSE_DIR / "images").items():
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
    printed = [float(x) for x in re.findall(r"Précision : ([0-9.]+) \(", text)]
    assert len(printed) == 7  # 1 conv, ImageDataGenerator, voie rapide, 4 conv, 4 conv augmenté, photos, affiné
    # Réseaux à 1 convolution (dont le modèle sauvegardé) : au-dessus du hasard (0.1). Le réseau à
    # 4 convolutions n'est pas jugé ici : en 2 fois 9 lots, les moyennes de ses BatchNormalization
    # n'ont pas encore convergé et sa précision de test reste proche du hasard.
    assert min(printed[:3]) > 0.2 and min(printed[5:]) > 0.2, printed
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert [run["test_accuracy"] for run in metrics["runs"]] == pytest.approx(printed, abs=1e-4)
    assert [run["epochs"] for run in metrics["runs"]] == [2] * 7
    assert len(metrics["saved_model"]["confusion_matrix"]) == 10
    assert sum(map(sum, metrics["saved_model"]["confusion_matrix"])) == QUICK["LIGNES_TEST"]
    assert "ran out of data" not in text
    assert count_images(notebook) >= 10  # courbes, exemples, matrice de confusion, erreurs


def test_classification_quick_run_fine_tunes_on_dev_photos_and_measures_holdout(quick_classification):
    model_dir, notebook = quick_classification
    photos = model_dir.parent / "photos"
    n_dev, n_holdout = (len(fu.collect_photos(photos, split)[0]) for split in ("dev", "holdout"))
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
    photos = fu.list_photos(images)
    shutil.copy(ANALYSE_DIR / "modele" / "bench_photos.json", model_dir)   # mesuré sur les modèles fournis
    notebook = execute("test_model.ipynb", tmp_path / "test_model.ipynb",
                       DOSSIER_MODELE=str(model_dir), DOSSIER_IMAGES=str(images))
    text = stream_text(notebook)
    assert text.count("Selon moi l'image est : ") == len(photos) - 1
    assert "pas_une_image.jpg" in text and "Photo ignorée" in text
    assert "Attention : les poids de modele, modele_photos, modele_photos_affine ne sont plus ceux" in text


def test_test_model_runs_on_the_shipped_model(tmp_path):
    """Juste après le clonage : le modèle fourni dans modele/ classe chaque photo de images/."""
    notebook = execute("test_model.ipynb", tmp_path / "test_model.ipynb")
    text = stream_text(notebook)
    photos = fu.list_photos(ANALYSE_DIR / "images")
    assert len(photos) >= 9
    assert text.count("Selon moi l'image est : ") == len(photos)
    assert count_images(notebook) == 2  # verdicts, comparaison avec la préparation du labo
    assert "« labo (modele) » :" in text and "« premier_plan (modele_photos_affine) » :" in text
    assert "Précision équilibrée :" in text and "Attention : les poids" not in text  # banc à jour
