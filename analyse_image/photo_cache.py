"""Cache des photos préparées : une photo déjà passée par une préparation n'y repasse pas.

La clé d'une image préparée est faite du contenu de la photo (SHA-256, pas son nom ni sa date),
du nom et du numéro de version de la préparation, de ses réglages et des versions de Pillow et
d'OpenCV (GrabCut peut changer d'une version à l'autre). Changer une préparation, c'est changer
son numéro de version (photo_preparation.PREPARATION_VERSIONS) : ses anciennes images ne
servent plus. Chaque image est un petit fichier .npy écrit de façon atomique ; un fichier abîmé
est ignoré (l'image est refaite) et un dossier où l'on ne peut pas écrire ne bloque rien.

Dossier : PHOTOS_CACHE_DIR s'il est défini, sinon analyse_image/.cache/photos_preparees.
"""
import hashlib
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import PIL

from safe_files import file_sha256, write_atomically

DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "photos_preparees"


def cache_folder():
    """Le dossier du cache : PHOTOS_CACHE_DIR, sinon analyse_image/.cache/photos_preparees."""
    return Path(os.environ.get("PHOTOS_CACHE_DIR") or DEFAULT_CACHE_DIR)


def cache_key(photo_path, preparation, version, options=None):
    """Clé (64 caractères hexadécimaux) d'une photo passée par une préparation : contenu de la
    photo, nom et version de la préparation, réglages, versions de Pillow et d'OpenCV."""
    recipe = json.dumps({"photo": file_sha256(photo_path), "preparation": preparation, "version": version,
                         "options": options or {}, "pillow": PIL.__version__, "opencv": cv2.__version__},
                        sort_keys=True, default=str)
    return hashlib.sha256(recipe.encode("utf-8")).hexdigest()


def _entry_path(folder, key):
    return Path(folder) / key[:2] / f"{key}.npy"


def load_prepared(folder, key):
    """L'image préparée gardée sous cette clé, ou None (absente ou illisible)."""
    try:
        image = np.load(_entry_path(folder, key), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return image if image.ndim == 2 and image.dtype == np.float32 else None


def store_prepared(folder, key, image):
    """Garde l'image préparée sous cette clé ; renvoie False si le dossier refuse l'écriture."""
    path = _entry_path(folder, key)
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(image, dtype=np.float32), allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda file: file.write(buffer.getvalue()))
    except OSError:
        return False
    return True
