"""Au-delà du labo : choisir ses propres photos depuis le navigateur (ipywidgets) et les voir classées
aussitôt, avec la même figure que test_model.ipynb ; on peut les garder dans images/.

    import photo_upload
    photo_upload.upload_box(modele, "vetement_seul", "images")
"""
import re
import tempfile
import unicodedata
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from IPython.display import display

import fashion_utils as fu
import photo_files
import photo_prediction
import photo_preparation
import photo_results

#: Ce qu'affiche une copie du carnet qui ne peut pas montrer le widget (GitHub, HTML sans état des widgets).
OFFLINE_TEXT = ("Zone pour choisir vos photos : elle s'affiche quand le carnet est ouvert dans JupyterLab, "
                "après exécution de la cellule.")


def safe_file_name(name, folder):
    """Un nom de fichier sûr pour une photo envoyée : sans dossier ni caractère spécial, et sans
    écraser une photo déjà présente dans folder (« pull.jpg » devient « pull-2.jpg »)."""
    stem, suffix = Path(Path(str(name)).name).stem, Path(str(name)).suffix.lower()
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_.-") or "photo"
    suffix = suffix if suffix in photo_files.PHOTO_EXTENSIONS else ".jpg"
    candidate, number = Path(folder) / f"{stem}{suffix}", 1
    while candidate.exists():
        number += 1
        candidate = Path(folder) / f"{stem}-{number}{suffix}"
    return candidate


def classify_uploads(uploads, model, preparation, folder, keep=False):
    """Écrit les photos envoyées (liste de {"name", "content"} comme FileUpload.value) dans folder si
    keep, sinon dans un dossier temporaire, puis les prépare, les classe et affiche la figure des
    verdicts. Renvoie (chemins classés, probabilités, échecs)."""
    target = Path(folder) if keep else Path(tempfile.mkdtemp(prefix="photos-envoyees-"))
    paths = []
    for upload in uploads:
        path = safe_file_name(upload["name"], target)
        path.write_bytes(bytes(upload["content"]))
        paths.append(path)
    batch, ok_paths, failures = photo_preparation.prepare_photos(paths, preparation)
    for failure in failures:
        print(f"Photo ignorée : {failure.message}")
    probabilities = photo_prediction.predict_photos(model, batch)
    for path, proba in zip(ok_paths, probabilities):
        print(f"{photo_files.readable_name(path)} : selon moi l'image est : {fu.CLASSES[int(np.argmax(proba))]} "
              f"({fu.french_percent(float(np.max(proba)), 0)})")
    if keep and ok_paths:
        print(f"Photos gardées dans « {folder} » : elles seront classées à la prochaine exécution du carnet.")
    if len(ok_paths):
        photo_results.plot_photo_predictions(ok_paths, batch, probabilities)
    return ok_paths, probabilities, failures


class _UploadBox(widgets.VBox):
    """La zone d'envoi, avec un texte lisible là où le widget ne peut pas s'afficher."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = OFFLINE_TEXT
        return bundle


def upload_box(model, preparation, folder):
    """Affiche un bouton pour choisir des photos, une case « garder dans le dossier » et la zone où
    apparaissent leurs verdicts ; renvoie le widget."""
    chooser = widgets.FileUpload(accept="image/*,.heic,.heif", multiple=True,
                                 description="Choisir des photos", layout=widgets.Layout(width="auto"))
    keep = widgets.Checkbox(value=False, description=f"les garder dans « {folder} »", indent=False)
    results = widgets.Output()

    def on_upload(change):
        if not change["new"]:
            return
        results.clear_output()
        with results:
            classify_uploads(change["new"], model, preparation, folder, keep=keep.value)
        chooser.value = ()                   # prêt pour d'autres photos

    chooser.observe(on_upload, names="value")
    box = _UploadBox([widgets.HBox([chooser, keep]), results])
    display(box)
    return box
