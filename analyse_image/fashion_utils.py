"""Fonctions utilitaires du laboratoire « Analyse d'image » (Fashion-MNIST).

Les deux carnets, classification.ipynb et test_model.ipynb, importent ce module :

    import fashion_utils as fu

Sections : classes ; données (fichiers IDX officiels -> CSV du labo, chargement vérifié) ;
réseaux du labo et augmentation ; évaluation et graphiques ; sauvegarde du modèle ;
photos (ouverture robuste, préparation du labo, préparations au plus près de Fashion-MNIST,
entraînement d'un modèle pour les photos) et affichage des verdicts.
"""
import csv
import gzip
import hashlib
import http.client
import json
import math
import os
import shutil
import time
import urllib.request
import uuid
import warnings
import zipfile
import zlib
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from matplotlib import pyplot as plt
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage as ndi
from sklearn import metrics
from sklearn.utils.class_weight import compute_sample_weight

import keras
from keras import layers

# ---------------------------------------------------------------------------
# Classes de Fashion-MNIST
# ---------------------------------------------------------------------------

#: Noms des classes tels que le carnet test_model.ipynb les affiche (ordre des labels 0 à 9).
CLASSES = ["Un T-shirt/haut",
           "Un pantalon",
           "Un pull",
           "Une robe",
           "Un manteau",
           "Des sandales",
           "Une chemise",
           "Des baskets",
           "Un sac",
           "Des bottes de cheville"]

#: Noms courts, pour les axes des graphiques (la liste des labels du labo).
NOMS_COURTS = ["T-shirt/haut", "Pantalon", "Pull", "Robe", "Manteau",
               "Sandales", "Chemise", "Baskets", "Sac", "Bottes de cheville"]

IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


# --------------------------------------------------------------------------
# Données : fichiers IDX officiels, CSV du TP, cache binaire
# --------------------------------------------------------------------------

TRAIN_IMAGES_FILE = "train-images-idx3-ubyte.gz"
TRAIN_LABELS_FILE = "train-labels-idx1-ubyte.gz"
TEST_IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
TEST_LABELS_FILE = "t10k-labels-idx1-ubyte.gz"
IDX_FILE_NAMES = (TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE, TEST_IMAGES_FILE, TEST_LABELS_FILE)

# md5 du contenu DÉCOMPRESSÉ (les .gz de Debian ont d'autres en-têtes gzip).
IDX_MD5 = MappingProxyType({
    TEST_IMAGES_FILE: "8181f5470baa50b63fa0f6fddb340f0a",
    TEST_LABELS_FILE: "15d484375f8d13e6eb1aabb0c3f46965",
    TRAIN_IMAGES_FILE: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    TRAIN_LABELS_FILE: "9018921c3c673c538a1fc5bad174d6f9",
})
IDX_BASE_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
DEBIAN_IDX_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_DIR_ENV_VAR = "FASHION_MNIST_DIR"
DOWNLOAD_TIMEOUT_S = 60

IDX_MAGIC_IMAGES = 0x00000803
IDX_MAGIC_LABELS = 0x00000801
_IDX_NDIM_BY_MAGIC = {IDX_MAGIC_IMAGES: 3, IDX_MAGIC_LABELS: 1}

TRAIN_CSV_NAME = "fashion-mnist_train.csv"
TEST_CSV_NAME = "fashion-mnist_test.csv"
N_PIXELS = 28 * 28
N_CLASSES = 10
CSV_COLUMNS = ("label",) + tuple(f"pixel{i}" for i in range(1, N_PIXELS + 1))
_CACHE_FORMAT_VERSION = 1

# partie -> (images IDX, étiquettes IDX, CSV)
_SPLIT_FILES = {
    "train": (TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE, TRAIN_CSV_NAME),
    "test": (TEST_IMAGES_FILE, TEST_LABELS_FILE, TEST_CSV_NAME),
}

_FIX_IDX_HINT = (
    "Supprimez ce fichier (s'il avait été téléchargé, il le sera de nouveau) "
    "ou remplacez-le par une copie intacte."
)
_FIX_CSV_HINT = (
    "Corrigez ce CSV, ou supprimez-le : ensure_csv_files / load_lab_data le "
    "reconstruira à partir des fichiers IDX officiels."
)


class DataError(ValueError):
    """Problème dans les données (fichier absent, corrompu ou mal formé)."""


# ----------------------------- écriture atomique ---------------------------

def _temp_path_beside(final_path):
    """Chemin temporaire unique dans le même dossier que final_path."""
    final_path = Path(final_path)
    return final_path.with_name(f".{final_path.name}.{uuid.uuid4().hex[:8]}.tmp")


def _write_atomically(final_path, write_content, verify=None):
    """Écrit via un fichier temporaire, vérifie, puis os.replace ; nettoie en cas d'échec."""
    tmp_path = _temp_path_beside(final_path)
    try:
        with open(tmp_path, "xb") as file:
            write_content(file)
        if verify is not None:
            verify(tmp_path)
        os.replace(tmp_path, final_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


# --------------------------------- IDX -------------------------------------

def _read_maybe_gzipped(path):
    """Octets du fichier, décompressés s'il s'agit d'un gzip."""
    with open(path, "rb") as file:
        is_gzip = file.read(2) == b"\x1f\x8b"
    if not is_gzip:
        return Path(path).read_bytes()
    try:
        with gzip.open(path, "rb") as file:
            return file.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path} : archive gzip tronquée ou corrompue ({err}). {_FIX_IDX_HINT}"
        ) from err


def _parse_idx_header(raw, path):
    """(dimensions, taille de l'en-tête) lues dans l'en-tête IDX big-endian."""
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic not in _IDX_NDIM_BY_MAGIC:
        shown = "absent" if magic is None else f"0x{magic:08x}"
        raise DataError(
            f"{path} : nombre magique IDX {shown} inattendu (attendu 0x{IDX_MAGIC_IMAGES:08x} "
            f"pour des images ou 0x{IDX_MAGIC_LABELS:08x} pour des étiquettes) : "
            f"ce n'est pas un fichier IDX Fashion-MNIST. {_FIX_IDX_HINT}"
        )
    ndim = _IDX_NDIM_BY_MAGIC[magic]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path} : en-tête IDX incomplet ({len(raw)} octets). {_FIX_IDX_HINT}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return dims, header_size


def _check_md5(raw, expected_md5, path):
    """Vérifie le md5 du contenu décompressé."""
    actual = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if actual != expected_md5.lower():
        raise DataError(
            f"{path} : somme de contrôle MD5 incorrecte (contenu décompressé : {actual}, "
            f"attendu : {expected_md5}) ; fichier corrompu ou d'une autre version. {_FIX_IDX_HINT}"
        )


def read_idx(path, expected_md5="auto"):
    """Lit un fichier IDX (gzip ou non) et renvoie un tableau uint8 vérifié.

    expected_md5 : "auto" = md5 officiel d'après le nom du fichier, None = pas de contrôle.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Fichier IDX introuvable : {path}. Vérifiez le chemin ou relancez le téléchargement.")
    raw = _read_maybe_gzipped(path)
    dims, header_size = _parse_idx_header(raw, path)
    expected_size = header_size + int(np.prod(dims))
    if len(raw) != expected_size:
        raise DataError(
            f"{path} : taille incohérente, l'en-tête annonce les dimensions {dims} "
            f"({expected_size - header_size} octets de données) mais le fichier décompressé en contient "
            f"{len(raw) - header_size}. {_FIX_IDX_HINT}"
        )
    if expected_md5 == "auto":
        expected_md5 = IDX_MD5.get(path.name)
    if expected_md5 is not None:
        _check_md5(raw, expected_md5, path)
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims).copy()


# ------------------------ recherche / téléchargement ------------------------

def _missing_idx_files(directory):
    """Noms des fichiers IDX absents de directory."""
    return [name for name in IDX_FILE_NAMES if not (Path(directory) / name).is_file()]


def _idx_dir_from_env(env):
    """Dossier désigné par FASHION_MNIST_DIR (vérifié), ou None si la variable est vide/absente."""
    value = env.get(IDX_DIR_ENV_VAR, "")
    if not value:
        return None
    directory = Path(value).expanduser()
    if not directory.is_dir():
        raise DataError(
            f"{IDX_DIR_ENV_VAR}={value} ne désigne pas un dossier existant. "
            f"Corrigez cette variable d'environnement, ou supprimez-la pour utiliser "
            f"le paquet Debian ou le téléchargement automatique."
        )
    missing = _missing_idx_files(directory)
    if missing:
        raise DataError(
            f"{IDX_DIR_ENV_VAR}={value} : il manque dans ce dossier {', '.join(missing)}. "
            f"Placez-y les 4 fichiers IDX officiels, ou supprimez cette variable "
            f"pour utiliser le paquet Debian ou le téléchargement automatique."
        )
    return directory


def _download_idx_file(url, target, expected_md5):
    """Télécharge url vers target (temporaire, vérifié, puis renommé)."""
    def fetch(file):
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            shutil.copyfileobj(response, file, 1 << 20)

    _write_atomically(target, fetch, verify=lambda tmp: read_idx(tmp, expected_md5=expected_md5))


def _download_from_any_url(name, cache_dir, urls, md5s):
    """Essaie chaque URL de base ; renvoie la liste des échecs (vide si réussi)."""
    failures = []
    for base_url in urls:
        url = base_url.rstrip("/") + "/" + name
        print(f"Téléchargement de {name} depuis {url} ...")
        try:
            _download_idx_file(url, Path(cache_dir) / name, md5s.get(name))
            return []
        except (OSError, ValueError, http.client.HTTPException) as err:
            failures.append(f"{url} : {err}")
    return failures


def _no_idx_source_error(name, debian_dir, failures):
    """Erreur expliquant ce qui a été essayé et les 3 façons de corriger."""
    tried = [
        f"variable {IDX_DIR_ENV_VAR} : non définie",
        f"dossier Debian {debian_dir} : absent ou incomplet",
    ] + (failures or ["aucune URL de téléchargement fournie"])
    return DataError(
        f"Impossible d'obtenir {name} (Fashion-MNIST). Essais effectués :\n  - "
        + "\n  - ".join(tried)
        + "\nPour corriger, au choix :\n"
        f"  1. définir {IDX_DIR_ENV_VAR} vers un dossier contenant les 4 fichiers "
        f"({', '.join(IDX_FILE_NAMES)}) ;\n"
        f"  2. installer le paquet Debian : sudo apt-get install dataset-fashion-mnist ;\n"
        f"  3. vérifier la connexion réseau (proxy, pare-feu) puis relancer."
    )


def find_idx_dir(cache_dir, env=os.environ, debian_dir=DEBIAN_IDX_DIR,
                 urls=IDX_BASE_URLS, md5s=IDX_MD5):
    """Dossier contenant les 4 fichiers IDX : FASHION_MNIST_DIR, sinon Debian, sinon téléchargement dans cache_dir."""
    env_dir = _idx_dir_from_env(env)
    if env_dir is not None:
        return env_dir
    if Path(debian_dir).is_dir() and not _missing_idx_files(debian_dir):
        return Path(debian_dir)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in _missing_idx_files(cache_dir):
        failures = _download_from_any_url(name, cache_dir, urls, md5s)
        if not (cache_dir / name).is_file():
            raise _no_idx_source_error(name, debian_dir, failures)
    return cache_dir


# --------------------------------- CSV -------------------------------------

def _lab_matrix(images, labels):
    """Matrice uint8 (n, 785) : étiquette puis 784 pixels."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    images = images.reshape(len(images), -1)
    if images.shape[1] != N_PIXELS or labels.shape != (len(images),):
        raise DataError(
            f"Formes incompatibles : images {images.shape}, étiquettes {labels.shape} ; "
            f"attendu n images de 28x28 et n étiquettes."
        )
    for name, values in (("images", images), ("étiquettes", labels)):
        if values.dtype != np.uint8 and values.size and (values.min() < 0 or values.max() > 255):
            raise DataError(f"Les {name} doivent être des entiers entre 0 et 255 ; convertissez-les en uint8.")
    return np.column_stack([labels, images]).astype(np.uint8, copy=False)


def _csv_header_line():
    """Ligne d'en-tête du CSV du TP (octets)."""
    return (",".join(CSV_COLUMNS) + "\n").encode("ascii")


def _write_csv_rows(matrix, file):
    """Écrit les lignes de données (sans en-tête) avec pyarrow."""
    columns = np.ascontiguousarray(matrix.T)
    table = pa.table([pa.array(column) for column in columns], names=list(CSV_COLUMNS))
    pacsv.write_csv(table, file, pacsv.WriteOptions(include_header=False, batch_size=8192))


def _write_matrix_csv_atomically(matrix, csv_path):
    """Écrit la matrice (n, 785) au format CSV du TP, de façon atomique."""
    def write_content(file):
        file.write(_csv_header_line())
        _write_csv_rows(matrix, file)

    _write_atomically(Path(csv_path), write_content)


def write_csv_atomically(images, labels, csv_path):
    """Écrit le CSV du TP (label,pixel1..pixel784) via un fichier temporaire puis os.replace."""
    _write_matrix_csv_atomically(_lab_matrix(images, labels), csv_path)


def _build_csv_from_idx(idx_dir, split, csv_path, md5s=IDX_MD5):
    """Construit le CSV d'une partie ("train"/"test") à partir des fichiers IDX."""
    images_name, labels_name, _ = _SPLIT_FILES[split]
    print(f"{csv_path.name} absent : création à partir des fichiers IDX de {idx_dir} ...")
    images = read_idx(Path(idx_dir) / images_name, expected_md5=md5s.get(images_name))
    labels = read_idx(Path(idx_dir) / labels_name, expected_md5=md5s.get(labels_name))
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise DataError(
            f"{idx_dir} : {images_name} ({images.shape}) et {labels_name} ({labels.shape}) "
            f"ne correspondent pas. Remplacez-les par les fichiers officiels."
        )
    matrix = _lab_matrix(images, labels)
    _write_matrix_csv_atomically(matrix, csv_path)
    _write_cache_quietly(csv_path, _csv_signature(csv_path), matrix)
    print(f"  {len(images)} images écrites dans {csv_path}")


def ensure_csv_files(data_dir, cache_dir=None, **find_kwargs):
    """Garantit la présence des deux CSV dans data_dir (construits depuis les IDX si absents)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    csv_paths = {split: data_dir / files[2] for split, files in _SPLIT_FILES.items()}
    missing = [split for split, path in csv_paths.items() if not path.exists()]
    if missing:
        idx_dir = find_idx_dir(cache_dir if cache_dir is not None else data_dir, **find_kwargs)
        for split in missing:
            _build_csv_from_idx(idx_dir, split, csv_paths[split], find_kwargs.get("md5s", IDX_MD5))
    return csv_paths["train"], csv_paths["test"]


# --------------------------- cache binaire ---------------------------------

def _cache_path(csv_path):
    """Chemin du cache binaire associé au CSV (fichier caché à côté)."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f".{csv_path.stem}.npz")


def _csv_signature(csv_path):
    """Taille et mtime_ns du CSV : le cache n'est valable que pour cette signature."""
    stat = Path(csv_path).stat()
    return np.array([_CACHE_FORMAT_VERSION, stat.st_size, stat.st_mtime_ns], dtype=np.int64)


def _read_cache(csv_path, signature):
    """Matrice uint8 du cache si elle correspond à la signature, sinon None."""
    try:
        with np.load(_cache_path(csv_path), allow_pickle=False) as cache:
            if not np.array_equal(cache["signature"], signature):
                return None
            matrix = cache["matrix"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if matrix.dtype != np.uint8 or matrix.ndim != 2 or matrix.shape[1] != len(CSV_COLUMNS):
        return None
    return matrix


def _write_cache_quietly(csv_path, signature, matrix):
    """Écrit le cache de façon atomique ; un échec (dossier en lecture seule...) est ignoré."""
    try:
        _write_atomically(
            _cache_path(csv_path),
            lambda file: np.savez(file, signature=signature, matrix=matrix),
        )
    except OSError:
        pass


# --------------------------- lecture du CSV --------------------------------

def _preview(names, limit=8):
    """Liste courte de noms pour un message."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} au total)" if len(names) > limit else "")


def _check_csv_file(path):
    """Le fichier existe et n'est pas vide."""
    if not path.is_file():
        raise DataError(
            f"Fichier CSV introuvable : {path}. Vérifiez le chemin, ou appelez "
            f"ensure_csv_files / load_lab_data pour le créer."
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path} est vide. {_FIX_CSV_HINT}")


def _check_csv_header(path):
    """La première ligne est exactement label,pixel1,...,pixel784."""
    with open(path, "rb") as file:
        first_line = file.readline(1 << 20).decode("utf-8-sig", errors="replace")
    columns = [name.strip() for name in next(csv.reader([first_line]), [])]
    if columns == list(CSV_COLUMNS):
        return
    present, expected = set(columns), set(CSV_COLUMNS)
    problems = []
    missing = [name for name in CSV_COLUMNS if name not in present]
    unexpected = [name for name in columns if name not in expected]
    if missing:
        problems.append(f"colonne(s) manquante(s) : {_preview(missing)}")
    if unexpected:
        problems.append(f"colonne(s) inattendue(s) : {_preview(unexpected)}")
    if not problems:
        problems.append("colonnes en double ou dans le désordre")
    raise DataError(
        f"{path} : en-tête incorrect ({' ; '.join(problems)}). La première ligne doit être "
        f"exactement label,pixel1,...,pixel784. {_FIX_CSV_HINT}"
    )


def _read_csv_table(path, column_type):
    """Table pyarrow du CSV, colonnes nommées et typées (en-tête sauté)."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=list(CSV_COLUMNS), skip_rows=1),
        convert_options=pacsv.ConvertOptions(
            column_types={name: column_type for name in CSV_COLUMNS},
            strings_can_be_null=pa.types.is_string(column_type),
        ),
    )


def _first_true(mask):
    """Indice du premier True d'un tableau booléen pyarrow (None si aucun)."""
    values = mask.to_numpy(zero_copy_only=False)
    return int(np.argmax(values)) if values.any() else None


def _first_line_with_wrong_field_count(path):
    """(numéro de ligne, nombre de champs) de la première ligne mal formée, ou None."""
    with open(path, newline="", encoding="utf-8", errors="replace") as file:
        for line_number, row in enumerate(csv.reader(file), start=1):
            if row and len(row) != len(CSV_COLUMNS):
                return line_number, len(row)
    return None


def _first_non_integer_cell(path):
    """(ligne, colonne, valeur) de la première cellule non entière (ou > 9 chiffres), ou None."""
    table = _read_csv_table(path, pa.string())
    found = None
    for name, column in zip(CSV_COLUMNS, table.columns):
        is_bad = pc.invert(pc.match_substring_regex(column, r"^\s*[+-]?\d{1,9}\s*$")).fill_null(False)
        row = _first_true(is_bad)
        if row is not None and (found is None or row < found[0]):
            found = (row, name, column[row].as_py())
    return found


def _explain_unreadable_csv(path, error):
    """DataError précise pour un CSV que pyarrow refuse de convertir."""
    bad_line = _first_line_with_wrong_field_count(path)
    if bad_line is not None:
        line_number, n_fields = bad_line
        return DataError(
            f"{path} : la ligne {line_number} a {n_fields} valeurs au lieu de {len(CSV_COLUMNS)}. {_FIX_CSV_HINT}"
        )
    cell = _first_non_integer_cell(path)
    if cell is not None:
        row, name, value = cell
        return DataError(
            f"{path} : valeur non entière ou trop grande {value!r} à la ligne {row + 2}, colonne {name} ; "
            f"toutes les valeurs doivent être des entiers. {_FIX_CSV_HINT}"
        )
    return DataError(f"{path} : lecture impossible ({error}). {_FIX_CSV_HINT}")


def _check_no_empty_cells(table, path):
    """Aucune cellule vide ou NaN."""
    total = sum(column.null_count for column in table.columns)
    if total == 0:
        return
    row, name = min(
        (_first_true(column.is_null()), name)
        for name, column in zip(CSV_COLUMNS, table.columns) if column.null_count
    )
    raise DataError(
        f"{path} : {total} cellule(s) vide(s) ou NaN, la première à la ligne {row + 2} "
        f"(colonne {name}). {_FIX_CSV_HINT}"
    )


def _check_value_range(values, column_names, low, high, what, path):
    """Toutes les valeurs (matrice 2D) sont dans low..high, sinon DataError localisée."""
    if values.min() >= low and values.max() <= high:
        return
    is_bad = (values < low) | (values > high)
    row, col = divmod(int(np.argmax(is_bad)), values.shape[1])
    raise DataError(
        f"{path} : {int(is_bad.sum())} {what} hors de l'intervalle {low}..{high} "
        f"(minimum trouvé : {values.min()}, maximum trouvé : {values.max()}) ; la première à la "
        f"ligne {row + 2}, colonne {column_names[col]} (valeur {values[row, col]}). {_FIX_CSV_HINT}"
    )


def _read_validated_matrix(path):
    """Lit et valide le CSV ; renvoie la matrice uint8 (n, 785)."""
    _check_csv_header(path)
    try:
        table = _read_csv_table(path, pa.int32())
    except pa.ArrowInvalid as err:
        raise _explain_unreadable_csv(path, err) from err
    if table.num_rows == 0:
        raise DataError(f"{path} ne contient aucune image (seulement l'en-tête). {_FIX_CSV_HINT}")
    _check_no_empty_cells(table, path)
    matrix = np.column_stack([column.to_numpy() for column in table.columns])
    _check_value_range(matrix[:, :1], CSV_COLUMNS[:1], 0, N_CLASSES - 1, "étiquette(s)", path)
    _check_value_range(matrix[:, 1:], CSV_COLUMNS[1:], 0, 255, "valeur(s) de pixel", path)
    return matrix.astype(np.uint8)


def load_csv(path, use_cache=True):
    """Charge un CSV du TP en DataFrame uint8 (label + 784 pixels), validé, avec cache binaire."""
    path = Path(path)
    _check_csv_file(path)
    signature = _csv_signature(path)
    matrix = _read_cache(path, signature) if use_cache else None
    if matrix is None:
        matrix = _read_validated_matrix(path)
        if use_cache:
            _write_cache_quietly(path, signature, matrix)
    return pd.DataFrame(matrix, columns=list(CSV_COLUMNS), copy=False)


def load_lab_data(data_dir, cache_dir=None, **find_kwargs):
    """(train_df, test_df) : crée les CSV si besoin puis les charge."""
    train_csv, test_csv = ensure_csv_files(data_dir, cache_dir, **find_kwargs)
    return load_csv(train_csv), load_csv(test_csv)


# ---------------------------------------------------------------------------
# Préparation des tableaux
# ---------------------------------------------------------------------------

def sample_rows(df, n_rows, seed=13):
    """Garde n_rows lignes tirées au hasard (toutes si n_rows est None ou trop grand)."""
    if n_rows is None or n_rows >= len(df):
        return df
    return df.sample(n=n_rows, random_state=seed).reset_index(drop=True)


def to_model_input(pixels):
    """Met des pixels (n, 784) de 0 à 255 au format du réseau : (n, 28, 28, 1), float32 entre 0 et 1."""
    images = np.asarray(pixels).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1).astype("float32")
    return images / 255.0


# ---------------------------------------------------------------------------
# Les réseaux du labo
# ---------------------------------------------------------------------------

def compile_model(model, learning_rate=0.001):
    """Compile comme le labo : entropie croisée, Adam (pas d'apprentissage par défaut de Keras), précision."""
    model.compile(loss=keras.losses.categorical_crossentropy,
                  optimizer=keras.optimizers.Adam(learning_rate),
                  metrics=["accuracy"])
    return model


def build_cnn_1conv(input_shape=INPUT_SHAPE):
    """Le réseau à une convolution du labo (693 962 paramètres), compilé."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="reseau_1_convolution")
    return compile_model(model)


def build_cnn_4conv(input_shape=INPUT_SHAPE):
    """Le réseau à quatre convolutions et BatchNormalization de la partie optionnelle, compilé."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),

        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.25),

        layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),

        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),

        layers.Dense(128, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),

        layers.Dense(10, activation="softmax"),
    ], name="reseau_4_convolutions")
    return compile_model(model)


# ---------------------------------------------------------------------------
# Augmentation de données
# ---------------------------------------------------------------------------

def lab_image_generator():
    """L'ImageDataGenerator du labo (shear_range est en degrés : 0,3° cisaille à peine)."""
    from tensorflow.keras.preprocessing.image import ImageDataGenerator
    # Keras appelle encore scipy.ndimage.interpolation, déprécié : un avertissement par image sinon
    warnings.filterwarnings("ignore", message=".*scipy.ndimage.interpolation.*", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="Please import `affine_transform`", category=DeprecationWarning)
    return ImageDataGenerator(rotation_range=8,
                              width_shift_range=0.08,
                              shear_range=0.3,
                              height_shift_range=0.08,
                              zoom_range=0.08)


def repeat_forever(iterator):
    """Parcourt sans fin un itérateur de flow() pour que chaque époque fasse bien steps_per_epoch lots.

    Avec Keras 3, un flow() passé tel quel à fit() avec steps_per_epoch plus petit que son
    nombre de lots alterne des époques complètes et des époques d'un seul lot.
    """
    while True:
        yield next(iterator)


def _affine_rows(a00, a01, a10, a11, input_x, input_y, output_x, output_y):
    """Transformations (une par image) au format de keras.ops.image.affine_transform : la partie
    linéaire [[a00, a01], [a10, a11]] (sortie -> entrée), le point de sortie (output_x, output_y)
    venant du point d'entrée (input_x, input_y)."""
    import tensorflow as tf
    a02 = input_x - a00 * output_x - a01 * output_y
    a12 = input_y - a10 * output_x - a11 * output_y
    zeros = tf.zeros_like(a00)
    return tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)


def random_affine_transforms(n, rotation=8, shift=0.08, shear=0.3, zoom=0.08, size=IMAGE_SIZE):
    """n transformations tirées comme par ImageDataGenerator (rotation et cisaillement en degrés,
    décalages et zoom en fraction de l'image), au format de keras.ops.image.affine_transform.

    Rotation, cisaillement, zoom et décalage sont composés en une seule transformation : chaque
    image n'est interpolée qu'une fois (enchaîner quatre couches Keras la rendrait floue).
    """
    import tensorflow as tf

    def uniform(limit):
        return tf.random.uniform((n,), -limit, limit)

    theta, sh = uniform(math.radians(rotation)), uniform(math.radians(shear))
    zoom_x, zoom_y = 1.0 + uniform(zoom), 1.0 + uniform(zoom)
    shift_x, shift_y = uniform(shift) * size, uniform(shift) * size
    cos, sin = tf.cos(theta), tf.sin(theta)
    # point de sortie -> point d'entrée : rotation @ cisaillement @ zoom, autour du centre de l'image
    a00, a01 = cos * zoom_x, (-cos * tf.sin(sh) - sin * tf.cos(sh)) * zoom_y
    a10, a11 = sin * zoom_x, (-sin * tf.sin(sh) + cos * tf.cos(sh)) * zoom_y
    center = (size - 1) / 2
    return _affine_rows(a00, a01, a10, a11, center + shift_x, center + shift_y, center, center)


def augmented_dataset(images, labels, batch_size=256, seed=13, **transform_ranges):
    """tf.data.Dataset mélangé, en lots, augmenté à la volée sur des lots entiers par
    keras.ops.image.affine_transform (mêmes transformations que lab_image_generator)."""
    import tensorflow as tf

    def augment(x, y):
        transforms = random_affine_transforms(tf.shape(x)[0], **transform_ranges)
        return keras.ops.image.affine_transform(x, transforms, fill_mode="nearest"), y

    return shuffled_batches(images, labels, augment, batch_size=batch_size, seed=seed)


def shuffled_batches(images, labels, transform_batch, batch_size=256, seed=13):
    """tf.data.Dataset mélangé à chaque époque, en lots, chaque lot (x, y) passé par
    transform_batch en parallèle, le lot suivant préparé pendant l'apprentissage."""
    import tensorflow as tf
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(transform_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------
# Entraînement et évaluation
# ---------------------------------------------------------------------------

def timed_fit(model, *args, **kwargs):
    """model.fit(...) chronométré : renvoie (historique, secondes)."""
    start = time.perf_counter()
    history = model.fit(*args, **kwargs)
    return history, time.perf_counter() - start


def evaluate_run(model, X_test, y_test, history, seconds, name, augmentation):
    """Évalue sur le jeu de test, affiche le bilan en français et renvoie une ligne du tableau de résultats."""
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    epochs = len(history.history["loss"])
    record = {"model": name,
              "augmentation": augmentation,
              "epochs": epochs,
              "test_accuracy": round(float(accuracy), 4),
              "test_loss": round(float(loss), 4),
              "seconds": round(float(seconds), 1),
              "seconds_per_epoch": round(float(seconds) / max(epochs, 1), 2),
              "params": int(model.count_params())}
    print(f"Erreur : {loss:.4f}")
    print(f"Précision : {accuracy:.4f} ({accuracy:.2%})")
    print(f"Durée de l'entraînement : {seconds:.0f} s ({epochs} époques, "
          f"{record['seconds_per_epoch']:.1f} s par époque)")
    print(f"Paramètres : {record['params']:,}".replace(",", " "))
    return record


def plot_history(history, title):
    """Courbes de précision et d'erreur (apprentissage et validation) sur une figure à deux panneaux."""
    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, label in ((ax_acc, "accuracy", "Précision"), (ax_loss, "loss", "Erreur")):
        ax.plot(epochs, h[key], label="Apprentissage")
        if "val_" + key in h:
            ax.plot(epochs, h["val_" + key], label="Validation")
        ax.set_xlabel("Époque")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    return fig


def show_class_samples(pixels, labels, per_class=6):
    """Grille d'exemples : une ligne par classe, avec son nom en français."""
    fig, axes = plt.subplots(10, per_class, figsize=(per_class * 1.1, 12))
    for label in range(10):
        indices = np.flatnonzero(np.asarray(labels) == label)[:per_class]
        for col in range(per_class):
            ax = axes[label, col]
            ax.axis("off")
            if col < len(indices):
                ax.imshow(np.asarray(pixels[indices[col]]).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray_r")
        axes[label, 0].set_title(NOMS_COURTS[label], loc="left", fontsize=9)
    fig.tight_layout()
    plt.show()
    return fig


def predict_labels(model, images, batch_size=1024):
    """Probabilités (n, 10) et classe prédite (n,) pour un lot d'images."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    return probabilities, probabilities.argmax(axis=1)


def balanced_accuracy(y_true, y_pred):
    """Précision équilibrée : moyenne des précisions (rappels) des classes présentes dans y_true,
    comme sklearn.metrics.balanced_accuracy_score, sans son avertissement quand le modèle prédit
    une classe absente (un sac parmi des photos sans sac)."""
    return float(metrics.recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


def confusion_matrix_frame(y_true, y_pred, names=NOMS_COURTS):
    """Matrice de confusion (lignes : vraie classe, colonnes : classe prédite) en DataFrame."""
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=range(len(names)))
    return pd.DataFrame(matrix,
                        index=pd.Index(names, name="vraie classe"),
                        columns=pd.Index(names, name="prédite"))


def plot_confusion_matrix(y_true, y_pred, names=NOMS_COURTS, title="Matrice de confusion"):
    """Affiche la matrice de confusion avec les noms français des classes."""
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    metrics.ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=range(len(names)), display_labels=names,
        xticks_rotation=45, cmap="Blues", colorbar=False, ax=ax)
    ax.set_xlabel("Classe prédite")
    ax.set_ylabel("Vraie classe")
    ax.set_title(title)
    fig.tight_layout()
    plt.show()
    return fig


def per_class_report(y_true, y_pred, names=NOMS_COURTS):
    """Précision, rappel et F1 par classe (scikit-learn), en DataFrame."""
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(names)), zero_division=0)
    return pd.DataFrame({"précision": precision, "rappel": recall, "F1": f1, "effectif": support},
                        index=pd.Index(names, name="classe")).round(3)


def plot_misclassified(images, y_true, probabilities, n=24, columns=8, names=NOMS_COURTS):
    """Les n erreurs les plus sûres d'elles : image, vraie classe, classe prédite et confiance."""
    y_true = np.asarray(y_true)
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    wrong = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]])][:n]
    rows = max(1, math.ceil(len(wrong) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 2.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(np.asarray(images[i]).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray_r")
        ax.set_title(f"vrai : {names[y_true[i]]}\nprédit : {names[y_pred[i]]}\n"
                     f"({probabilities[i, y_pred[i]]:.0%})", fontsize=7.5)
    fig.suptitle(f"Erreurs les plus sûres d'elles ({len(wrong)} sur {int((y_pred != y_true).sum())} erreurs)")
    fig.tight_layout()
    plt.show()
    return fig


def results_table(records):
    """Le tableau comparatif de tous les entraînements du carnet, avec des en-têtes en français."""
    columns = {"model": "modèle", "augmentation": "augmentation", "epochs": "époques",
               "test_accuracy": "précision test", "test_loss": "erreur test",
               "seconds": "secondes", "params": "paramètres"}
    return pd.DataFrame(records)[list(columns)].rename(columns=columns)


def write_json_atomically(data, path):
    """Écrit un JSON dans un fichier temporaire puis le renomme : jamais de fichier à moitié écrit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    _write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def write_metrics(records, path, saved_model=None):
    """Écrit modele/metrics.json : tous les entraînements et le détail du modèle sauvegardé."""
    data = {"schema": 1, "runs": list(records)}
    if saved_model is not None:
        data["saved_model"] = saved_model
    write_json_atomically(data, path)
    return data


def saved_model_metrics(name, y_true, y_pred, files):
    """Le détail du modèle sauvegardé pour metrics.json : fichiers, matrice de confusion, scores par classe."""
    report = per_class_report(y_true, y_pred)
    return {"name": name,
            "files": [str(f) for f in files],
            "test_accuracy": round(float(metrics.accuracy_score(y_true, y_pred)), 4),
            "classes": NOMS_COURTS,
            "confusion_matrix": confusion_matrix_frame(y_true, y_pred).to_numpy().tolist(),
            "per_class": {cls: {k: float(v) for k, v in row.items()}
                          for cls, row in report.iterrows()}}


# ---------------------------------------------------------------------------
# Sauvegarde et chargement du modèle (JSON + poids)
# ---------------------------------------------------------------------------

class ModelFilesError(ValueError):
    """Fichiers du modèle absents, illisibles ou qui ne vont pas ensemble."""


def _temporary_name(path, suffix):
    return path.with_name(f".{path.name.split('.')[0]}.tmp-{os.getpid()}{suffix}")


def save_model_files(model, json_path, weights_path):
    """Sauvegarde l'architecture (JSON) et les poids (.weights.h5) sans jamais abîmer les anciens fichiers.

    Les deux fichiers sont d'abord écrits sous des noms temporaires, relus ensemble, puis
    renommés : une erreur en route laisse le modèle précédent intact.
    """
    json_path, weights_path = Path(json_path), Path(weights_path)
    if not weights_path.name.endswith(".weights.h5"):
        raise ModelFilesError(f"Le fichier de poids doit se terminer par « .weights.h5 » "
                              f"(Keras 3 l'exige) : renommez « {weights_path.name} ».")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = _temporary_name(json_path, ".json")
    tmp_weights = _temporary_name(weights_path, ".weights.h5")
    try:
        tmp_json.write_text(model.to_json(), encoding="utf-8")
        model.save_weights(tmp_weights)
        load_model_files(tmp_json, tmp_weights)  # relecture : les deux fichiers vont ensemble
        os.replace(tmp_weights, weights_path)
        os.replace(tmp_json, json_path)
    finally:
        tmp_json.unlink(missing_ok=True)
        tmp_weights.unlink(missing_ok=True)
    return json_path, weights_path


def load_model_files(json_path, weights_path):
    """Recharge un modèle sauvegardé en JSON + poids, avec un message clair si quelque chose ne va pas."""
    json_path, weights_path = Path(json_path), Path(weights_path)
    for path, what in ((json_path, "la description du modèle (JSON)"), (weights_path, "les poids du modèle")):
        if not path.is_file():
            raise ModelFilesError(
                f"Fichier introuvable : « {path} » ({what}). Exécutez d'abord classification.ipynb "
                f"pour entraîner et sauvegarder le modèle, ou récupérez le modèle fourni avec "
                f"« git checkout -- analyse_image/modele ».")
    try:
        model = keras.models.model_from_json(json_path.read_text(encoding="utf-8"))
    except Exception as error:
        raise ModelFilesError(
            f"« {json_path} » n'est pas une description de modèle Keras lisible ({error}). "
            f"Sauvegardez à nouveau le modèle depuis classification.ipynb.") from error
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != 10:
        raise ModelFilesError(
            f"« {json_path} » décrit un modèle d'entrée {model.input_shape[1:]} et de sortie "
            f"{model.output_shape[-1]} : il faut une entrée {INPUT_SHAPE} et 10 classes.")
    try:
        model.load_weights(weights_path)
    except Exception as error:
        raise ModelFilesError(
            f"Les poids « {weights_path} » ne correspondent pas à l'architecture « {json_path} » "
            f"({error}). Les deux fichiers doivent venir de la même sauvegarde : sauvegardez-les à "
            f"nouveau ensemble depuis classification.ipynb.") from error
    return model


# Extensions reconnues par list_photos (comparées en minuscules).
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})

# Au-delà, la photo est refusée avant décodage (protection contre les « bombes de décompression »).
DEFAULT_MAX_PIXELS = 40_000_000

# Modes avec canal alpha : composés sur fond blanc avant le passage en gris.
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})
# Modes dont la transparence peut venir d'une couleur transparente (info["transparency"]).
_TRNS_MODES = frozenset({"1", "L", "P", "RGB"})
# Modes de plus de 8 bits par pixel (entiers 16/32 bits, flottants).
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


class PhotoError(ValueError):
    """Photo absente, illisible ou refusée ; le message dit quoi faire."""


def _fmt_int(n):
    """Entier avec espaces comme séparateurs de milliers (usage français)."""
    return f"{n:,}".replace(",", " ")


def _wide_to_gray(image):
    """Image 16/32 bits ou flottante -> 'L' en ramenant sa vraie plage à 0..255 (sans écrêtage)."""
    data = np.asarray(image).astype(np.float64)
    finite = np.isfinite(data)
    if not finite.any():
        return Image.new("L", image.size, 255)
    low, high = float(data[finite].min()), float(data[finite].max())
    if image.mode.startswith("I;16"):
        scale_low, scale_high = 0.0, 65535.0                    # 16 bits : plage nominale
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        scale_low, scale_high = 0.0, 1.0                        # flottants entre 0 et 1
    elif low >= 0.0 and high <= 255.0:
        scale_low, scale_high = 0.0, 255.0                      # déjà sur 8 bits
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        scale_low, scale_high = 0.0, 65535.0                    # 16 bits rangés dans 'I'
    else:
        scale_low, scale_high = low, high                       # plage inconnue : min..max réels
    data = np.where(finite, data, scale_high)                   # NaN/inf -> blanc (fond)
    data = (data - scale_low) * (255.0 / (scale_high - scale_low))
    return Image.fromarray(np.clip(np.rint(data), 0, 255).astype(np.uint8))


def _has_transparency(image):
    return image.mode in _ALPHA_MODES or (image.mode in _TRNS_MODES and "transparency" in image.info)


def convert_to_rgb(image):
    """Convertit une image PIL de n'importe quel mode en couleur 'RGB' (transparence -> blanc)."""
    if image.mode in _WIDE_MODES:
        return _wide_to_gray(image).convert("RGB")
    if _has_transparency(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def convert_to_gray(image):
    """Convertit une image PIL de n'importe quel mode en niveaux de gris 'L' (transparence -> blanc)."""
    if image.mode in _WIDE_MODES:
        return _wide_to_gray(image)
    if _has_transparency(image):
        return convert_to_rgb(image).convert("L")
    if image.mode in ("1", "L", "RGB", "P"):
        return image.convert("L")
    # CMYK, YCbCr, LAB, HSV... : passage par RGB, puis luminance.
    return image.convert("RGB").convert("L")


def open_photo(image_path, max_pixels=DEFAULT_MAX_PIXELS):
    """Ouvre une photo de façon robuste et la renvoie en niveaux de gris (image PIL en mode 'L').

    Orientation EXIF appliquée, transparence posée sur fond blanc, 16 bits / flottants ramenés
    sur 8 bits, première image d'un GIF animé. Lève PhotoError (message en français) si le fichier
    manque, n'est pas une image, est tronqué ou dépasse max_pixels (None : pas de limite propre).
    """
    return convert_to_gray(open_photo_upright(image_path, max_pixels))


def open_photo_upright(image_path, max_pixels=DEFAULT_MAX_PIXELS):
    """La photo décodée et redressée selon son EXIF, dans son mode d'origine (voir open_photo)."""
    path = Path(image_path)
    if not path.exists():
        raise PhotoError(
            f"Photo introuvable : « {path} ». Vérifiez le chemin et le nom du fichier "
            "(extension comprise) ; list_photos(dossier) liste les photos d'un dossier."
        )
    if path.is_dir():
        raise PhotoError(
            f"« {path} » est un dossier, pas une photo. Donnez le chemin d'un fichier image, "
            "ou utilisez list_photos(dossier) pour lister les photos qu'il contient."
        )
    try:
        empty = path.stat().st_size == 0
    except OSError:
        empty = False
    if empty:
        raise PhotoError(
            f"Le fichier « {path} » est vide (0 octet) : la copie ou le téléchargement a échoué. "
            "Copiez la photo à nouveau ou choisissez-en une autre."
        )
    try:
        with warnings.catch_warnings():
            # La taille est contrôlée ci-dessous avec max_pixels : l'avertissement de Pillow est inutile.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size                      # lu dans l'en-tête, rien n'est décodé
                if max_pixels is not None and width * height > max_pixels:
                    raise PhotoError(
                        f"La photo « {path} » est trop grande : {_fmt_int(width)} x "
                        f"{_fmt_int(height)} = {_fmt_int(width * height)} pixels (maximum "
                        f"{_fmt_int(max_pixels)}). Réduisez-la (par exemple à 2000 pixels de "
                        "côté) avant de la classer, ou augmentez max_pixels si le fichier est sûr."
                    )
                image.seek(0)                                   # GIF/TIFF multi-images : la première
                image.load()
                try:
                    return ImageOps.exif_transpose(image)
                except Exception:                               # EXIF abîmées : on garde l'image telle quelle
                    return image.copy()
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoError(
            f"La photo « {path} » annonce une taille démesurée (plus de "
            f"{_fmt_int(2 * Image.MAX_IMAGE_PIXELS)} pixels) : Pillow refuse de la décoder (risque "
            "de « bombe de décompression »). Réduisez-la (par exemple à 2000 pixels de côté) "
            "avant de la classer."
        ) from exc
    except PermissionError as exc:
        raise PhotoError(
            f"Impossible de lire « {path} » : accès refusé. Vérifiez les droits du fichier "
            "ou copiez-le dans votre dossier de travail."
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise PhotoError(
            f"Le fichier « {path} » n'est pas une image lisible (format non reconnu). Utilisez une "
            "photo JPEG, PNG, WebP, BMP, GIF ou TIFF ; une photo HEIC d'iPhone doit d'abord être "
            "exportée en JPEG."
        ) from exc
    except Exception as exc:  # erreurs de décodage des différents formats (OSError, SyntaxError...)
        if "truncated" in str(exc).lower():
            problem = "est tronquée (fichier incomplet : copie ou téléchargement interrompu)"
        else:
            problem = f"est abîmée ou illisible (détail technique : {type(exc).__name__}: {exc})"
        raise PhotoError(
            f"La photo « {path} » {problem}. Copiez-la à nouveau ou ré-exportez-la en JPEG/PNG "
            "depuis votre téléphone ou votre logiciel d'images."
        ) from exc


def resize_with_aspect_ratio(image, target_dimension):
    """Redimensionne pour que le plus grand côté fasse target_dimension (proportions gardées), puis accentue."""
    width, height = image.size
    if width > height:
        new_width = target_dimension
        new_height = max(1, round(height * target_dimension / width))
    else:
        new_height = target_dimension
        new_width = max(1, round(width * target_dimension / height))
    resized = image.resize((new_width, new_height), Image.Resampling.LANCZOS)
    return resized.filter(ImageFilter.SHARPEN)


def create_centered_image(image, canvas_size):
    """Colle l'image au centre d'un carré blanc canvas_size x canvas_size (mode 'L')."""
    canvas = Image.new("L", (canvas_size, canvas_size), 255)
    width, height = image.size
    canvas.paste(image, ((canvas_size - width) // 2, (canvas_size - height) // 2))
    return canvas


def normalize_pixels(image):
    """Inverse et normalise : (255 - pixel) / 255 en float32 (fond blanc -> 0, objet sombre -> 1)."""
    pixels = np.asarray(image, dtype=np.float32)
    return ((255.0 - pixels) / 255.0).astype(np.float32)


def load_and_preprocess_image(image_path, target_size=28, content_size=20, *,
                              max_pixels=DEFAULT_MAX_PIXELS):
    """Photo -> tableau (1, target_size, target_size, 1) float32 dans [0, 1], prêt pour model.predict.

    Ouverture robuste en gris (open_photo), plus grand côté ramené à content_size, centrage sur
    un carré blanc target_size, inversion/normalisation. Lève PhotoError si la photo est illisible.
    """
    if not 1 <= content_size <= target_size:
        raise ValueError(
            f"content_size={content_size} doit être compris entre 1 et target_size={target_size} : "
            "l'objet doit tenir dans l'image finale (valeurs du TP : 20 et 28)."
        )
    image = open_photo(image_path, max_pixels=max_pixels)
    image = resize_with_aspect_ratio(image, content_size)
    image = create_centered_image(image, target_size)
    image_array = normalize_pixels(image)
    return image_array.reshape(1, target_size, target_size, 1)


def list_photos(folder):
    """Liste triée (Path) des photos d'un dossier, repérées par leur extension ; fichiers cachés ignorés."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "n'est pas un dossier" if folder.exists() else "est introuvable"
        raise FileNotFoundError(
            f"Le dossier de photos « {folder} » {what}. Vérifiez le chemin "
            "(par exemple « images » à côté du notebook)."
        )
    photos = [
        entry for entry in folder.iterdir()
        if not entry.name.startswith(".")
        and entry.suffix.lower() in PHOTO_EXTENSIONS
        and entry.is_file()
    ]
    return sorted(photos, key=lambda p: (p.name.casefold(), p.name))


def preprocess_photos(paths, pipeline="labo", **kwargs):
    """Prépare plusieurs photos ; une photo illisible n'arrête pas les autres.

    paths : liste de chemins, ou un dossier (ses photos, via list_photos). pipeline : nom d'une
    préparation de PHOTO_PIPELINES (« labo » : load_and_preprocess_image) ; kwargs lui sont transmis.
    Renvoie (lot (n, 28, 28, 1) float32, chemins réussis, erreurs) où erreurs est une liste de
    (chemin, message en français).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = list_photos(paths) if Path(paths).is_dir() else [paths]
    prepare = PHOTO_PIPELINES[pipeline]
    arrays, ok_paths, errors = [], [], []
    for path in paths:
        path = Path(path)
        try:
            arrays.append(prepare(path, **kwargs))
        except PhotoError as exc:
            errors.append((path, str(exc)))
        else:
            ok_paths.append(path)
    size = kwargs.get("target_size", IMAGE_SIZE)
    batch = np.stack(arrays)[..., None] if arrays else np.zeros((0, size, size, 1), dtype=np.float32)
    return batch.astype(np.float32), ok_paths, errors


# ---------------------------------------------------------------------------
# Photos rangées par classe : partage dev / holdout (banc d'essai, affinage)
# ---------------------------------------------------------------------------

#: Nom de dossier -> indice de classe Fashion-MNIST (« / » et espace remplacés par « _ »).
FOLDER_TO_LABEL = {
    "T-shirt_top": 0, "Trouser": 1, "Pullover": 2, "Dress": 3, "Coat": 4,
    "Sandal": 5, "Shirt": 6, "Sneaker": 7, "Bag": 8, "Ankle_boot": 9,
}
SPLITS = ("dev", "holdout", "all")


def split_key(name):
    """Empreinte stable d'un nom de fichier (entier), indépendante de la machine et du système."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def split_names(names, split):
    """Les noms d'une classe qui tombent dans `split`.

    Les noms sont triés par empreinte ; la première moitié (arrondie au-dessus) est « dev »,
    le reste « holdout ». Ajouter une photo ne fait passer au plus qu'une photo d'une partie à l'autre.
    """
    if split not in SPLITS:
        raise ValueError(f"partie inconnue : {split!r} (choisir parmi {', '.join(SPLITS)})")
    ordered = sorted(names, key=lambda name: (split_key(name), name))
    if split == "all":
        return ordered
    n_dev = (len(ordered) + 1) // 2
    return ordered[:n_dev] if split == "dev" else ordered[n_dev:]


def collect_photos(folder, split="all"):
    """Liste de (chemin, classe) des photos de la partie `split` de `folder`, rangées dans un
    dossier par classe (noms de FOLDER_TO_LABEL, comme photos-dev), et avertissements.

    Les dossiers de nom inconnu et les fichiers posés à la racine sont signalés et ignorés.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dossier de photos introuvable : « {folder} ».")
    entries, ignored = [], []
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith("."):
            continue
        if not sub.is_dir():
            if sub.suffix.lower() in PHOTO_EXTENSIONS:
                ignored.append(f"photo ignorée hors d'un dossier de classe : {sub.name}")
            continue
        if sub.name not in FOLDER_TO_LABEL:
            ignored.append(f"dossier ignoré (classe inconnue) : {sub.name}")
            continue
        by_name = {path.name: path for path in list_photos(sub)}
        for name in split_names(by_name, split):
            entries.append((by_name[name], FOLDER_TO_LABEL[sub.name]))
    return entries, ignored


def photos_for_fine_tuning(folder, split="dev", keep_out_folder=None):
    """Les photos (chemin, classe) de la partie `split` de `folder` (collect_photos), sans celles dont
    le contenu est celui d'une photo de keep_out_folder (les photos d'exemple de images/, qui doivent
    rester des photos jamais vues). Renvoie (photos, nombre de photos écartées)."""
    entries, _ = collect_photos(folder, split)
    keep_out = (set() if keep_out_folder is None or not Path(keep_out_folder).is_dir()
                else {file_sha256(path) for path in list_photos(keep_out_folder)})
    kept = [(path, label) for path, label in entries
            if not keep_out or file_sha256(path) not in keep_out]      # rien à écarter : rien à relire
    return kept, len(entries) - len(kept)


def prepared_photo_split(folder, split, pipeline="premier_plan", keep_out_folder=None):
    """La partie `split` d'un dossier de photos rangées par classe, sans les photos de keep_out_folder
    (photos_for_fine_tuning), passée par la préparation `pipeline`. Renvoie (lot (n, 28, 28, 1),
    classes (n,), nombre de photos écartées, erreurs des photos illisibles)."""
    entries, n_kept_out = photos_for_fine_tuning(folder, split, keep_out_folder)
    images, read_paths, errors = preprocess_photos([path for path, _ in entries], pipeline=pipeline)
    label_of = dict(entries)
    return images, np.array([label_of[path] for path in read_paths], dtype=int), n_kept_out, errors


# ---------------------------------------------------------------------------
# Photos : au plus près de Fashion-MNIST
# ---------------------------------------------------------------------------
# Une préparation prend le chemin d'une photo et renvoie un tableau (28, 28) float32 dans [0, 1],
# vêtement clair sur fond noir, comme les images de Fashion-MNIST.

def _corner_level(gray, patch=3):
    """Niveau de gris du fond : médiane des 4 coins (patch x patch pixels), robuste au bruit JPEG."""
    p = max(1, min(patch, gray.shape[0] // 2, gray.shape[1] // 2))
    corners = np.concatenate([gray[:p, :p].ravel(), gray[:p, -p:].ravel(),
                              gray[-p:, :p].ravel(), gray[-p:, -p:].ravel()])
    return float(np.median(corners))


def _median_smoothed(gray):
    """Filtre médian 3x3 (sauf sur une image de moins de 3 pixels de côté) : efface le bruit JPEG."""
    return ndi.median_filter(gray, size=3) if min(gray.shape) >= 3 else gray


def trim_box(gray, tolerance=0.1, min_fraction=0.02):
    """Boîte (gauche, haut, droite, bas) du contenu qui diffère de la couleur des coins.

    gray : tableau 2D uint8. Un pixel est du contenu si |gris - fond| > tolerance * 255 après un
    filtre médian 3x3 et une ouverture 3x3 (le bruit JPEG isolé ne compte pas) ; une ligne ou une
    colonne n'est gardée que si au moins min_fraction de ses pixels sont du contenu. Image
    uniforme : rien n'est rogné.
    """
    gray = np.asarray(gray)
    height, width = gray.shape
    smooth = _median_smoothed(gray)
    content = np.abs(smooth.astype(np.float32) - _corner_level(smooth)) > tolerance * 255.0
    if min(height, width) >= 9:
        content = ndi.binary_opening(content, structure=np.ones((3, 3), bool))
    rows = np.flatnonzero(content.sum(axis=1) >= max(1.0, min_fraction * width))
    cols = np.flatnonzero(content.sum(axis=0) >= max(1.0, min_fraction * height))
    if rows.size == 0 or cols.size == 0:
        return 0, 0, width, height
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def preprocess_like_fashion_mnist(image_path, tolerance=0.1, target_size=IMAGE_SIZE,
                                  max_pixels=DEFAULT_MAX_PIXELS):
    """La recette qui a fabriqué Fashion-MNIST (Xiao, Rasul et Vollgraf, 2017, section 2).

    Sur la photo en gris : rognage des bords de la couleur des coins (tolerance, fraction de 255 ;
    l'article prend 5 %, une photo JPEG prise à la maison demande plus), plus grand côté ramené à
    target_size, accentuation, extension au carré centré avec la couleur du fond, inversion.
    Un fond blanc devient noir ; un fond gris ou encombré reste visible.
    """
    gray = open_photo(image_path, max_pixels=max_pixels)
    factor = max(1, max(gray.size) // 256)           # rognage calculé sur une réduction : même boîte
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray)
    left, top, right, bottom = trim_box(small, tolerance=tolerance)
    box = (left * factor, top * factor, min(gray.width, right * factor), min(gray.height, bottom * factor))
    background = int(round(_corner_level(_median_smoothed(small))))
    item = ImageOps.contain(gray.crop(box), (target_size, target_size), Image.Resampling.LANCZOS)
    item = item.filter(ImageFilter.UnsharpMask(radius=1.0, percent=100, threshold=0))
    canvas = Image.new("L", (target_size, target_size), background)
    canvas.paste(item, ((target_size - item.width) // 2, (target_size - item.height) // 2))
    return normalize_pixels(canvas)


def main_central_components(mask, central=0.5, keep_share=0.3):
    """Garde, trous bouchés, la plus grande composante connexe qui touche la zone centrale
    (central : son côté, en fraction de l'image) et les autres composantes centrales au moins
    keep_share fois aussi grandes (la seconde chaussure d'une paire) ; sans composante au centre,
    la plus grande."""
    mask = np.asarray(mask, dtype=bool)
    labels, count = ndi.label(mask)
    if count == 0:
        return mask
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[0] = 0
    h, w = mask.shape
    mh, mw = int(h * (1 - central) / 2), int(w * (1 - central) / 2)
    centre_labels = np.unique(labels[mh:h - mh, mw:w - mw])
    centre_labels = centre_labels[centre_labels > 0]
    candidates = centre_labels if centre_labels.size else np.arange(1, count + 1)
    best = candidates[np.argmax(areas[candidates])]
    kept = candidates[areas[candidates] >= keep_share * areas[best]] if centre_labels.size else [best]
    return ndi.binary_fill_holes(np.isin(labels, kept))


def foreground_mask(rgb, work_size=160, iterations=4, margin=0.05):
    """Masque booléen du vêtement par GrabCut (OpenCV), sur la photo réduite à work_size pixels.

    GrabCut part d'un rectangle central (margin de chaque côté : probablement le fond) et sépare
    les couleurs du vêtement de celles du fond ; on garde la ou les principales composantes centrales.
    Renvoie (masque, image réduite). Rien de trouvé : toute la photo.
    """
    small = ImageOps.contain(rgb.convert("RGB"), (work_size, work_size), Image.Resampling.BILINEAR)
    data = np.ascontiguousarray(np.asarray(small, dtype=np.uint8)[:, :, ::-1])
    h, w = data.shape[:2]
    mask = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
    mh, mw = max(1, int(h * margin)), max(1, int(w * margin))
    mask[mh:h - mh, mw:w - mw] = cv2.GC_PR_FGD
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    cv2.setRNGSeed(0)                                # même résultat à chaque appel
    try:
        cv2.grabCut(data, mask, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations,
                    cv2.GC_INIT_WITH_MASK)
        found = ndi.binary_opening((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), iterations=1)
        found = main_central_components(found)
    except cv2.error:                                # image trop petite ou uniforme
        found = np.zeros((h, w), dtype=bool)
    if found.sum() < 0.01 * found.size:
        found = np.ones((h, w), dtype=bool)
    return found, small


def stretch_contrast(values, low_percentile=2.0, high_percentile=98.0, floor=0.0):
    """Étire des intensités : percentile bas -> floor, percentile haut -> 1 (écrêté dans [floor, 1])."""
    values = np.asarray(values, dtype=np.float32)
    if values.size == 0:
        return values
    low, high = np.percentile(values, [low_percentile, high_percentile])
    if high - low < 1e-6:
        return np.full_like(values, 1.0)
    return (floor + (1.0 - floor) * np.clip((values - low) / (high - low), 0.0, 1.0)).astype(np.float32)


def garment_intensity(gray, mask, floor=0.2):
    """Intensité du vêtement (0 hors du masque) : gris inversé comme Fashion-MNIST (sombre -> clair),
    étiré vers [floor, 1] pour qu'un vêtement clair reste visible sur le fond noir."""
    gray = np.asarray(gray, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    intensity = np.zeros_like(gray)
    intensity[mask] = stretch_contrast(255.0 - gray[mask], floor=floor)
    return intensity


def center_by_mass(item, canvas_size=IMAGE_SIZE):
    """Place item (2D, >= 0) dans un carré noir, son centre de masse au centre, sans jamais le couper."""
    item = np.asarray(item, dtype=np.float32)
    h, w = item.shape
    if h > canvas_size or w > canvas_size:
        raise ValueError(f"objet {h}x{w} plus grand que le carré {canvas_size}")
    centre = (canvas_size - 1) / 2.0
    cy, cx = ndi.center_of_mass(item) if item.sum() > 0 else ((h - 1) / 2.0, (w - 1) / 2.0)
    top = int(np.clip(round(centre - cy), 0, canvas_size - h))
    left = int(np.clip(round(centre - cx), 0, canvas_size - w))
    canvas = np.zeros((canvas_size, canvas_size), dtype=np.float32)
    canvas[top:top + h, left:left + w] = item
    return canvas


def face_left(image28, min_aspect=1.15):
    """Retourne horizontalement un objet large (une chaussure) dont la masse penche à gauche :
    dans Fashion-MNIST, la pointe (légère) est à gauche. Renvoie (image, retournée ?)."""
    image28 = np.asarray(image28, dtype=np.float32)
    rows = np.flatnonzero(image28.max(axis=1) > 0)
    cols = np.flatnonzero(image28.max(axis=0) > 0)
    if rows.size == 0 or (cols[-1] - cols[0] + 1) < min_aspect * (rows[-1] - rows[0] + 1):
        return image28, False
    item = image28[:, cols[0]:cols[-1] + 1]
    half = item.shape[1] // 2
    if item[:, :half].sum() > item[:, item.shape[1] - half:].sum():
        return image28[:, ::-1].copy(), True
    return image28, False


def garment_to_28(intensity, mask, content_size=24, canvas_size=IMAGE_SIZE, mirror=False):
    """Vêtement (intensité 2D dans [0, 1], masque) -> carré noir canvas_size : rognage à la boîte
    du masque, plus grand côté à content_size, fond à 0, centrage par centre de masse et, si
    mirror, chaussure tournée vers la gauche."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((canvas_size, canvas_size), dtype=np.float32)
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    item = Image.fromarray(np.where(mask[crop], intensity[crop], 0.0).astype(np.float32))
    item_mask = Image.fromarray(mask[crop].astype(np.float32))
    item = ImageOps.contain(item, (content_size, content_size), Image.Resampling.LANCZOS)
    item_mask = item_mask.resize(item.size, Image.Resampling.BILINEAR)
    small = np.clip(np.asarray(item), 0.0, 1.0) * (np.asarray(item_mask) > 0.25)
    canvas = center_by_mass(small, canvas_size)
    return face_left(canvas)[0] if mirror else canvas


def preprocess_photo_foreground(image_path, content_size=24, floor=0.2, mirror_shoes=False,
                                work_size=160, max_pixels=DEFAULT_MAX_PIXELS):
    """Photo au fond encombré -> (28, 28) float32 dans [0, 1] : le vêtement seul, clair, fond à 0.

    Vêtement séparé du fond par GrabCut (foreground_mask), intensité inversée et étirée
    (garment_intensity), rognage, plus grand côté à content_size, centrage par centre de masse.
    Réglages choisis sur la moitié « dev » de photos-dev : content_size 24 plutôt que 20 ou 28 ;
    tourner les chaussures vers la gauche (mirror_shoes) n'y changeait rien.
    """
    upright = open_photo_upright(image_path, max_pixels=max_pixels)
    mask, small = foreground_mask(convert_to_rgb(upright), work_size=work_size)
    gray = np.asarray(convert_to_gray(upright).resize(small.size, Image.Resampling.BILINEAR), dtype=np.float32)
    return garment_to_28(garment_intensity(gray, mask, floor=floor), mask,
                         content_size=content_size, mirror=mirror_shoes)


def preprocess_lab(image_path, **kwargs):
    """La préparation du labo (load_and_preprocess_image), au format (28, 28)."""
    return load_and_preprocess_image(image_path, **kwargs)[0, :, :, 0]


#: Les préparations de photos : nom -> fonction(chemin) -> tableau (28, 28) dans [0, 1].
PHOTO_PIPELINES = {
    "labo": preprocess_lab,
    "fashion_mnist": preprocess_like_fashion_mnist,
    "premier_plan": preprocess_photo_foreground,
}

#: La préparation utilisée par défaut par test_model.ipynb (la meilleure sur photos-dev).
DEFAULT_PIPELINE = "premier_plan"


# ---------------------------------------------------------------------------
# Photos : entraîner un modèle qui les reconnaît
# ---------------------------------------------------------------------------
# Les images de Fashion-MNIST sont transformées, par lots et à la volée (tf.data), pour ressembler
# à ce que la préparation « premier_plan » tire d'une photo : vêtement recadré, plus grand côté à
# 24 pixels, centré sur son centre de masse, contraste étiré vers [0,2 ; 1], fond à 0. S'y ajoutent
# ce que les photos ont et que Fashion-MNIST n'a pas : vêtement tourné vers la droite ou la gauche,
# un peu penché, chaussures par paires, éclairage inégal, flou, bruit.

#: Les classes de chaussures (sandales, baskets, bottes de cheville), photographiées par paires.
SHOE_CLASSES = (5, 7, 9)
#: Au-dessus de ce niveau (sur 1), un pixel d'une image de Fashion-MNIST appartient au vêtement.
FOREGROUND_LEVEL = 0.02


def _warp_with_mask(images, masks, transforms):
    """Applique la même transformation affine aux images et à leurs masques (une interpolation)."""
    import tensorflow as tf
    both = keras.ops.image.affine_transform(tf.concat([images, masks], axis=-1), transforms,
                                            interpolation="bilinear", fill_mode="constant")
    return both[..., :1], both[..., 1:]


def _extent(lines):
    """Nombre de pixels entre la première et la dernière ligne (ou colonne) occupée, par image."""
    import tensorflow as tf
    index = tf.range(tf.shape(lines)[1], dtype=tf.float32)
    first = tf.reduce_min(tf.where(lines, index, 1e4), axis=1)
    last = tf.reduce_max(tf.where(lines, index, -1e4), axis=1)
    return tf.maximum(last - first + 1.0, 1.0)


def stretch_batch_contrast(images, masks, floor=0.2, low_percentile=2.0, high_percentile=98.0):
    """stretch_contrast sur un lot (n, 28, 28, 1) : dans chaque masque, percentile bas -> floor,
    percentile haut -> 1 ; 0 hors du masque."""
    import tensorflow as tf
    n = tf.shape(images)[0]
    flat, inside = tf.reshape(images, (n, -1)), tf.reshape(masks > 0.5, (n, -1))
    count = tf.reduce_sum(tf.cast(inside, tf.float32), axis=1)
    ordered = tf.sort(tf.where(inside, flat, 1e6), axis=1)       # les pixels du masque d'abord

    def percentile(q):                                             # interpolation linéaire, comme numpy
        position = q / 100.0 * tf.maximum(count - 1.0, 0.0)
        below = tf.cast(tf.floor(position), tf.int32)
        above = tf.minimum(below + 1, tf.cast(tf.maximum(count - 1.0, 0.0), tf.int32))
        weight = position - tf.floor(position)
        value = ((1 - weight) * tf.gather(ordered, below, batch_dims=1)
                 + weight * tf.gather(ordered, above, batch_dims=1))
        return tf.reshape(value, (-1, 1, 1, 1))

    low, high = percentile(low_percentile), percentile(high_percentile)
    spread = high - low
    stretched = floor + (1.0 - floor) * tf.clip_by_value((images - low) / tf.maximum(spread, 1e-6), 0.0, 1.0)
    stretched = tf.where(spread < 1e-6, tf.ones_like(images), stretched)
    return tf.where(masks > 0.5, stretched, tf.zeros_like(images))


def frame_like_photos(images, masks, content_size=24, size_jitter=0.0, shift=0.0):
    """Recadre chaque vêtement comme garment_to_28 : plus grand côté du masque à content_size
    pixels (± size_jitter, en fraction), centre de masse au centre (± shift pixels)."""
    import tensorflow as tf
    n, size = tf.shape(images)[0], images.shape[1]
    inside = masks[..., 0] > 0.5
    longest = tf.maximum(_extent(tf.reduce_any(inside, axis=2)), _extent(tf.reduce_any(inside, axis=1)))
    weights = images[..., 0] * tf.cast(inside, tf.float32) + 1e-6
    index = tf.range(size, dtype=tf.float32)
    total = tf.reduce_sum(weights, axis=[1, 2])
    centre_y = tf.reduce_sum(weights * index[None, :, None], axis=[1, 2]) / total
    centre_x = tf.reduce_sum(weights * index[None, None, :], axis=[1, 2]) / total
    scale = longest / (content_size * (1.0 + tf.random.uniform((n,), -size_jitter, size_jitter)))
    centre = (size - 1) / 2.0
    offset_x = centre + tf.random.uniform((n,), -shift, shift)
    offset_y = centre + tf.random.uniform((n,), -shift, shift)
    zeros = tf.zeros_like(scale)
    return _warp_with_mask(images, masks, _affine_rows(scale, zeros, zeros, scale,
                                                       centre_x, centre_y, offset_x, offset_y))


def turn_and_flip(images, masks, rotation=10.0, flip=True):
    """Rotation aléatoire (± rotation degrés) et, une fois sur deux si flip, miroir horizontal :
    sur une photo, une chaussure pointe à gauche ou à droite, un vêtement penche."""
    import tensorflow as tf
    n, size = tf.shape(images)[0], images.shape[1]
    theta = tf.random.uniform((n,), -1.0, 1.0) * math.radians(rotation)
    mirror = tf.where(tf.random.uniform((n,)) < 0.5, -1.0, 1.0) if flip else tf.ones((n,))
    cos, sin = tf.cos(theta), tf.sin(theta)
    a00, a01, a10, a11 = cos * mirror, -sin, sin * mirror, cos
    centre = (size - 1) / 2.0
    return _warp_with_mask(images, masks, _affine_rows(a00, a01, a10, a11, centre, centre, centre, centre))


def shoe_pairs(images, masks):
    """Une paire faite de deux copies de chaque chaussure (la seconde souvent en miroir), côte à
    côte et se touchant, à plat (vue de profil) ou debout (vue de dessus), comme sur une photo."""
    import tensorflow as tf
    n, size = tf.shape(images)[0], images.shape[1]

    def uniform(low, high):
        return tf.random.uniform((n,), low, high)

    thickness = _extent(tf.reduce_any(masks[..., 0] > 0.5, axis=2))   # hauteur de la chaussure
    base = tf.where(uniform(0.0, 1.0) < 0.5, 0.0, math.pi / 2) + uniform(-0.25, 0.25)
    scale = 2.0                                                         # deux copies à moitié taille
    gap = thickness / scale * uniform(0.55, 0.95)                       # entre les deux centres
    along = uniform(-0.15, 0.15) * size / scale                         # l'une un peu devant l'autre
    across_x, across_y = -tf.sin(base), tf.cos(base)
    along_x, along_y = tf.cos(base), tf.sin(base)
    second_mirror = tf.where(uniform(0.0, 1.0) < 0.7, -1.0, 1.0)
    centre = (size - 1) / 2.0
    copies = []
    for side, mirror in ((-0.5, tf.ones((n,))), (0.5, second_mirror)):
        theta = base + uniform(-0.15, 0.15)
        cos, sin = tf.cos(theta), tf.sin(theta)
        a00, a01, a10, a11 = cos * scale * mirror, sin * scale, -sin * scale * mirror, cos * scale
        out_x = centre + side * (gap * across_x + along * along_x)
        out_y = centre + side * (gap * across_y + along * along_y)
        copies.append(_warp_with_mask(images, masks,
                                      _affine_rows(a00, a01, a10, a11, centre, centre, out_x, out_y)))
    return tf.maximum(copies[0][0], copies[1][0]), tf.maximum(copies[0][1], copies[1][1])


def photo_lighting(images):
    """Conditions de prise de vue : gamma, éclairage en dégradé, plis (champ lisse), flou, bruit."""
    import tensorflow as tf
    n, size = tf.shape(images)[0], images.shape[1]

    def per_image(low, high):
        return tf.random.uniform((n, 1, 1, 1), low, high)

    images = tf.pow(tf.maximum(images, 1e-4), tf.exp(per_image(-0.8, 0.8)))
    ys, xs = tf.meshgrid(tf.linspace(-1.0, 1.0, size), tf.linspace(-1.0, 1.0, size), indexing="ij")
    angle = per_image(0.0, 2 * math.pi)
    ramp = tf.cos(angle) * xs[None, :, :, None] + tf.sin(angle) * ys[None, :, :, None]
    images = images * (1.0 + per_image(0.0, 0.5) * ramp)
    folds = tf.image.resize(tf.random.normal((n, 6, 6, 1)), (size, size), method="bicubic")
    images = images * (1.0 + per_image(0.0, 0.35) * folds)
    taps = tf.exp(-tf.range(-2.0, 3.0) ** 2 / 2.0)
    kernel = tf.reshape(taps[:, None] * taps[None, :] / tf.reduce_sum(taps) ** 2, (5, 5, 1, 1))
    blur = per_image(0.0, 1.0)
    images = (1.0 - blur) * images + blur * tf.nn.conv2d(images, kernel, 1, "SAME")
    return images + per_image(0.0, 0.06) * tf.random.normal(tf.shape(images))


def photo_like_batch(images, labels, pair_probability=0.5, rotation=10.0, flip=True, lighting=True,
                     size_jitter=0.08, shift=1.0):
    """Un lot de Fashion-MNIST (n, 28, 28, 1) dans [0, 1], étiquettes one-hot -> le même lot tel
    que la préparation « premier_plan » le produirait d'une photo (voir le début de la section)."""
    import tensorflow as tf
    masks = tf.cast(images > FOREGROUND_LEVEL, tf.float32)
    turned, turned_masks = turn_and_flip(images, masks, rotation=rotation, flip=flip)
    if pair_probability > 0:
        classes = tf.argmax(labels, axis=1, output_type=tf.int32)
        is_shoe = tf.reduce_any(tf.equal(classes[:, None], tf.constant(SHOE_CLASSES)[None, :]), axis=1)
        paired = is_shoe & (tf.random.uniform(tf.shape(is_shoe)) < pair_probability)
        pairs, pair_masks = shoe_pairs(images, masks)
        turned = tf.where(paired[:, None, None, None], pairs, turned)
        turned_masks = tf.where(paired[:, None, None, None], pair_masks, turned_masks)
    framed, framed_masks = frame_like_photos(turned, turned_masks, size_jitter=size_jitter, shift=shift)
    if lighting:
        framed = photo_lighting(framed)
    return stretch_batch_contrast(framed, framed_masks)


def like_photo_pipeline(images):
    """Images de Fashion-MNIST mises, sans hasard, au format de « premier_plan » (pour évaluer)."""
    import tensorflow as tf
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    framed, masks = frame_like_photos(images, tf.cast(images > FOREGROUND_LEVEL, tf.float32))
    return stretch_batch_contrast(framed, masks).numpy()


def photo_training_dataset(images, labels, batch_size=256, seed=13, **options):
    """tf.data.Dataset mélangé, en lots, transformé à la volée par photo_like_batch (options)."""
    def make_photo_like(x, y):
        return photo_like_batch(x, y, **options), y

    return shuffled_batches(images, labels, make_photo_like, batch_size=batch_size, seed=seed)


def real_photo_variations(seed=13):
    """Petites variations au hasard d'une vraie photo déjà préparée : miroir, décalage de 8 %,
    zoom de 10 %, rotation de 10°, comme en prendrait une autre photo du même vêtement."""
    return keras.Sequential([layers.RandomFlip("horizontal", seed=seed),
                             layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed),
                             layers.RandomZoom(0.1, fill_mode="constant", seed=seed),
                             layers.RandomRotation(0.03, fill_mode="constant", seed=seed)],
                            name="variations_photos")


def fine_tuning_dataset(photos, photo_labels, images, labels, batch_size=32, seed=13):
    """Lots sans fin pour affiner un modèle : batch_size vraies photos préparées (variées au hasard,
    pondérées pour que chaque classe compte autant) suivies de batch_size images de Fashion-MNIST
    transformées comme des photos (photo_like_batch), pour apprendre les photos sans oublier
    Fashion-MNIST. Étiquettes en one-hot ; chaque lot est (x, y, poids)."""
    import tensorflow as tf
    photo_weights = compute_sample_weight("balanced", np.argmax(photo_labels, axis=1)).astype(np.float32)
    vary = real_photo_variations(seed)

    def vary_photos(x, y, weight):
        return vary(x, training=True), y, weight

    def make_photo_like(x, y):
        return photo_like_batch(x, y), y, tf.ones(tf.shape(y)[0])

    def join(real, fashion):
        return tuple(tf.concat([a, b], axis=0) for a, b in zip(real, fashion))

    real = (tf.data.Dataset.from_tensor_slices((np.asarray(photos, np.float32), np.asarray(photo_labels, np.float32),
                                                photo_weights))
            .repeat().shuffle(len(photos), seed=seed).batch(batch_size).map(vary_photos))
    fashion = (tf.data.Dataset.from_tensor_slices((np.asarray(images, np.float32), np.asarray(labels, np.float32)))
               .repeat().shuffle(min(len(images), 20_000), seed=seed).batch(batch_size).map(make_photo_like))
    return tf.data.Dataset.zip(real, fashion).map(join).prefetch(tf.data.AUTOTUNE)


def fine_tuned_copy(model, photos, photo_labels, images, labels, epochs=20, learning_rate=3e-4,
                    batch_size=32, seed=13, **fit_options):
    """Une copie de model (déjà entraîné) affinée sur de vraies photos avec fine_tuning_dataset ;
    model lui-même ne change pas. Une époque montre chaque photo environ 4 fois, avec un pas
    d'apprentissage plus petit qu'au départ. Renvoie (copie, historique, secondes)."""
    if len(photos) == 0:
        raise ValueError("Aucune vraie photo pour l'affinage : il en faut au moins une par classe à apprendre.")
    keras.utils.set_random_seed(seed)
    tuned = keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    compile_model(tuned, learning_rate)
    steps = math.ceil(4 * len(photos) / batch_size)
    dataset = fine_tuning_dataset(photos, photo_labels, images, labels, batch_size=batch_size, seed=seed)
    history, seconds = timed_fit(tuned, dataset, epochs=epochs, steps_per_epoch=steps,
                                 shuffle=False, **fit_options)   # le jeu tf.data mélange déjà
    return tuned, history, seconds


def show_photo_like_examples(images, labels, photos=None, photo_classes=None, per_class=1, seed=13):
    """Une colonne par classe, trois rangées : une image de Fashion-MNIST, la même transformée par
    photo_like_batch, et une vraie photo de cette classe passée par la préparation « premier_plan »
    (photos : tableau (n, 28, 28) ; photo_classes : leurs classes ; case vide sans photo)."""
    import tensorflow as tf
    labels = np.asarray(labels)
    classes = labels.argmax(axis=1) if labels.ndim == 2 else labels
    picked = np.concatenate([np.flatnonzero(classes == c)[:per_class] for c in range(N_CLASSES)])
    tf.random.set_seed(seed)
    one_hot = np.eye(N_CLASSES, dtype=np.float32)[classes[picked]]
    transformed = photo_like_batch(tf.constant(images[picked], dtype=tf.float32), tf.constant(one_hot)).numpy()
    rows = [("Fashion-MNIST", list(images[picked])), ("transformées comme des photos", list(transformed))]
    if photos is not None and len(photos):
        first_photo = {}                                           # classe -> sa première photo
        for photo_class, photo in zip(photo_classes, photos):
            first_photo.setdefault(photo_class, photo)
        rows.append(("vraies photos (premier_plan)", [first_photo.get(classes[i]) for i in picked]))
    fig, axes = plt.subplots(len(rows), len(picked), figsize=(len(picked) * 1.1, len(rows) * 1.35), squeeze=False)
    for row, (title, row_images) in enumerate(rows):
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if row_images[col] is not None:
                ax.imshow(np.asarray(row_images[col]).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray", vmin=0, vmax=1)
            if row == 0:
                ax.set_title(NOMS_COURTS[classes[picked[col]]], fontsize=7)
        axes[row, 0].text(-0.1, 0.5, title, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    plt.show()
    return fig


# ---------------------------------------------------------------------------
# Photos : affichage des verdicts
# ---------------------------------------------------------------------------

def print_verdict(probabilities, classes=CLASSES):
    """Le verdict du labo : « Selon moi l'image est : … » puis le pourcentage de chaque classe."""
    predicted_class = int(np.argmax(probabilities))
    print(f"Selon moi l'image est : {classes[predicted_class]}\n")
    for i, class_name in enumerate(classes):
        print(f"{class_name}: {probabilities[i] * 100:.2f}%")
    return predicted_class


def thumbnail_for_display(image_path, size=256):
    """La photo en couleur, redressée selon son EXIF et réduite, pour l'afficher."""
    image = convert_to_rgb(open_photo_upright(image_path))
    image.thumbnail((size, size))
    return image


def plot_photo_predictions(paths, batch, probabilities, names=NOMS_COURTS, expected=None):
    """Pour chaque photo, une ligne : la photo, l'image 28 × 28 vue par le modèle, ses probabilités."""
    n = len(paths)
    fig, axes = plt.subplots(n, 3, figsize=(11, 2.6 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 2.2]})
    for row, (path, image, proba) in enumerate(zip(paths, batch, probabilities)):
        ax_photo, ax_input, ax_bars = axes[row]
        predicted = int(np.argmax(proba))
        ax_photo.imshow(thumbnail_for_display(path))
        ax_photo.set_title(Path(path).name, fontsize=9)
        ax_input.imshow(np.asarray(image).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray", vmin=0, vmax=1)
        ax_input.set_title("ce que voit le modèle (28 × 28)", fontsize=9)
        for ax in (ax_photo, ax_input):
            ax.set_xticks([])
            ax.set_yticks([])
        colors = ["tab:blue"] * len(names)
        truth = None if expected is None else expected[row]
        if truth is not None and truth >= 0:
            colors[truth] = "tab:green"
            if predicted != truth:
                colors[predicted] = "tab:red"
        ax_bars.barh(range(len(names)), proba * 100, color=colors)
        ax_bars.set_yticks(range(len(names)), names, fontsize=8)
        ax_bars.invert_yaxis()
        ax_bars.set_xlim(0, 100)
        ax_bars.set_xlabel("probabilité (%)", fontsize=8)
        verdict = f"{names[predicted]} ({proba[predicted]:.0%})"
        if truth is not None and truth >= 0:
            verdict += " ✓" if predicted == truth else f" ✗ (attendu : {names[truth]})"
        ax_bars.set_title(verdict, fontsize=10)
    fig.tight_layout()
    plt.show()
    return fig


def read_expected_labels(folder):
    """Les classes attendues des photos d'exemple (images/labels.csv : fichier,classe), {} sans fichier."""
    path = Path(folder) / "labels.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    return dict(zip(table["fichier"], table["classe"].astype(int)))


def verdicts_table(paths, probabilities, expected=None, names=CLASSES):
    """Le tableau récapitulatif : photo, verdict, confiance (et classe attendue quand on la connaît)."""
    expected = expected or {}
    rows = []
    for path, proba in zip(paths, probabilities):
        predicted = int(np.argmax(proba))
        row = {"photo": Path(path).name, "verdict": names[predicted],
               "confiance": f"{proba[predicted]:.0%}"}
        if expected:
            truth = expected.get(Path(path).name)
            row["attendu"] = names[truth] if truth is not None else "?"
            row["correct"] = "" if truth is None else ("oui" if truth == predicted else "non")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_pipeline_comparison(paths, results, expected=None, names=NOMS_COURTS):
    """Pour chaque photo, une ligne : la photo puis, pour chaque préparation (et modèle), l'image
    28 × 28 vue par le modèle et son verdict. results : {nom : (lot d'images, probabilités)}."""
    n, k = len(paths), len(results)
    fig, axes = plt.subplots(n, k + 1, figsize=(2.3 * (k + 1), 2.5 * n), squeeze=False)
    for row, path in enumerate(paths):
        axes[row, 0].imshow(thumbnail_for_display(path))
        axes[row, 0].set_title(Path(path).name, fontsize=8)
        truth = None if expected is None else expected[row]
        for col, (pipeline, (batch, probabilities)) in enumerate(results.items(), start=1):
            predicted = int(np.argmax(probabilities[row]))
            color = "black" if truth is None or truth < 0 else ("green" if predicted == truth else "red")
            axes[row, col].imshow(np.asarray(batch[row]).reshape(IMAGE_SIZE, IMAGE_SIZE),
                                  cmap="gray", vmin=0, vmax=1)
            axes[row, col].set_title(f"{pipeline}\n{names[predicted]} ({probabilities[row][predicted]:.0%})",
                                     fontsize=8, color=color)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    plt.show()
    return fig


def pipelines_table(paths, results, expected=None, names=CLASSES):
    """Tableau : une ligne par photo, le verdict de chaque préparation ou modèle (et la classe attendue)."""
    expected = expected or {}
    table = pd.DataFrame({"photo": [Path(p).name for p in paths]})
    if expected:
        table["attendu"] = [names[expected[n]] if n in expected else "?" for n in table["photo"]]
    for pipeline, (_, probabilities) in results.items():
        table[pipeline] = [names[int(np.argmax(p))] for p in probabilities]
    return table


def read_photo_benchmark(path):
    """Le résumé écrit par scripts/bench_photos.py --output (None s'il n'existe pas ou s'il a été
    écrit par une ancienne version du banc, sans liste « results »)."""
    path = Path(path)
    if not path.is_file():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    return summary if isinstance(summary, dict) and "results" in summary else None


def file_sha256(path):
    """Empreinte SHA-256 du contenu d'un fichier (poids d'un modèle, photo) : deux fichiers de même
    empreinte ont le même contenu, quel que soit leur nom."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def benchmark_models_changed(benchmark, model_dir):
    """Les modèles d'un résumé de scripts/bench_photos.py dont les poids dans model_dir ne sont plus
    ceux qui ont été mesurés (réentraînés, absents, ou mesure sans empreinte)."""
    measured = benchmark.get("models", {})
    changed = []
    for name in dict.fromkeys(record["model"] for record in benchmark["results"]):
        weights = Path(model_dir) / f"{name}.weights.h5"
        fingerprint = measured.get(name, {}).get("sha256")
        if fingerprint is None or not weights.is_file() or file_sha256(weights) != fingerprint:
            changed.append(name)
    return changed


def photo_benchmark_table(benchmark, value="balanced_accuracy"):
    """Tableau d'un résumé de scripts/bench_photos.py : une ligne par modèle et préparation,
    une colonne par partie des photos (dev, holdout…), la précision équilibrée dans les cases."""
    frame = pd.DataFrame(benchmark["results"])
    table = frame.pivot_table(index=["model", "pipeline"], columns="split", values=value, sort=False)
    table.index.names, table.columns.name = ["modèle", "préparation"], "partie"
    return table
