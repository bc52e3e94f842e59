"""Les données de Fashion-MNIST : fichiers IDX officiels -> CSV du labo, vérifiés, avec un cache.

Les fichiers IDX sont cherchés dans le dossier de la variable FASHION_MNIST_DIR, sinon dans celui du
paquet Debian dataset-fashion-mnist, sinon téléchargés (somme MD5 vérifiée). Les CSV du labo
(label,pixel1..pixel784) en sont tirés une fois, puis lus avec validation (ligne et colonne de la
première erreur) et gardés dans un cache binaire .npz à côté.

    import fashion_data
    train_csv, test_csv = fashion_data.ensure_csv_files("datas")
    observations = fashion_data.load_csv(train_csv)
"""
import csv
import gzip
import hashlib
import http.client
import os
import urllib.request
import zipfile
import zlib
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

from safe_files import write_atomically

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
DOWNLOAD_TIMEOUT_S = 20      # sans réponse au bout de 20 s, on passe à l'adresse suivante

IDX_MAGIC_IMAGES = 0x00000803
IDX_MAGIC_LABELS = 0x00000801
_IDX_NDIM_BY_MAGIC = {IDX_MAGIC_IMAGES: 3, IDX_MAGIC_LABELS: 1}

TRAIN_CSV_NAME = "fashion-mnist_train.csv"
TEST_CSV_NAME = "fashion-mnist_test.csv"
IMAGE_SIZE = 28
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE
N_CLASSES = 10
CSV_COLUMNS = ("label",) + tuple(f"pixel{i}" for i in range(1, N_PIXELS + 1))
_CACHE_FORMAT_VERSION = 2

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


def folder_from_env(env, variable, instead):
    """Le dossier désigné par la variable d'environnement `variable`, ou None si elle est vide ou
    absente ; DataError s'il n'existe pas (instead : ce qui sert sans elle, pour le message)."""
    value = env.get(variable, "")
    if not value:
        return None
    directory = Path(value).expanduser()
    if not directory.is_dir():
        raise DataError(
            f"{variable}={value} ne désigne pas un dossier existant. "
            f"Corrigez cette variable d'environnement, ou supprimez-la pour utiliser {instead}."
        )
    return directory


def _idx_dir_from_env(env):
    """Dossier désigné par FASHION_MNIST_DIR (vérifié), ou None si la variable est vide/absente."""
    directory = folder_from_env(env, IDX_DIR_ENV_VAR, "le paquet Debian ou le téléchargement automatique")
    if directory is None:
        return None
    value = env[IDX_DIR_ENV_VAR]
    missing = _missing_idx_files(directory)
    if missing:
        raise DataError(
            f"{IDX_DIR_ENV_VAR}={value} : il manque dans ce dossier {', '.join(missing)}. "
            f"Placez-y les 4 fichiers IDX officiels, ou supprimez cette variable "
            f"pour utiliser le paquet Debian ou le téléchargement automatique."
        )
    return directory


def _download_idx_file(url, target, expected_md5):
    """Télécharge url vers target (temporaire, vérifié, puis renommé), avec une barre de progression."""
    def fetch(file):
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="o", unit_scale=True, desc=Path(target).name, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 18), b""):
                    file.write(block)
                    bar.update(len(block))

    write_atomically(target, fetch, verify=lambda tmp: read_idx(tmp, expected_md5=expected_md5))


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
            print(f"  échec ({err}) : adresse suivante.")
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


def write_csv_atomically(images, labels, csv_path):
    """Écrit le CSV du labo (label,pixel1..pixel784) via un fichier temporaire puis os.replace ;
    renvoie la matrice uint8 (n, 785) écrite."""
    matrix = _lab_matrix(images, labels)

    def write_content(file):
        file.write(_csv_header_line())
        _write_csv_rows(matrix, file)

    write_atomically(Path(csv_path), write_content)
    return matrix


def shown_path(path):
    """path tel qu'on l'affiche dans un carnet : relatif au dossier courant s'il y est, sinon son
    seul nom (une sortie enregistrée ne montre aucun chemin propre à une machine)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def _build_csv_from_idx(idx_dir, split, csv_path, md5s=IDX_MD5):
    """Construit le CSV d'une partie ("train"/"test") à partir des fichiers IDX."""
    images_name, labels_name, _ = _SPLIT_FILES[split]
    print(f"{csv_path.name} absent : création à partir des fichiers IDX du dossier « {shown_path(idx_dir)} » ...")
    images = read_idx(Path(idx_dir) / images_name, expected_md5=md5s.get(images_name))
    labels = read_idx(Path(idx_dir) / labels_name, expected_md5=md5s.get(labels_name))
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise DataError(
            f"{idx_dir} : {images_name} ({images.shape}) et {labels_name} ({labels.shape}) "
            f"ne correspondent pas. Remplacez-les par les fichiers officiels."
        )
    matrix = write_csv_atomically(images, labels, csv_path)
    _write_cache_quietly(csv_path, _csv_signature(csv_path), matrix)
    print(f"  {len(images)} images écrites dans {shown_path(csv_path)}")


def ensure_csv_files(data_dir, cache_dir=None, **find_kwargs):
    """Garantit la présence des deux CSV dans data_dir (construits depuis les IDX si absents)."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"Impossible de créer le dossier des données {data_dir} ({error.strerror or error}). "
                        "Choisissez un autre DOSSIER_DONNEES, dans un dossier où vous pouvez écrire.") from None
    csv_paths = {split: data_dir / files[2] for split, files in _SPLIT_FILES.items()}
    missing = [split for split, path in csv_paths.items() if not path.exists()]
    if missing:
        idx_dir = find_idx_dir(cache_dir if cache_dir is not None else data_dir, **find_kwargs)
        for split in missing:
            try:
                _build_csv_from_idx(idx_dir, split, csv_paths[split], find_kwargs.get("md5s", IDX_MD5))
            except OSError as error:
                raise DataError(
                    f"Impossible d'écrire {csv_paths[split]} ({error.strerror or error}). Vérifiez que le "
                    f"dossier {data_dir} est accessible en écriture et qu'il reste de la place sur le disque "
                    f"(les deux CSV font environ 160 Mo), ou choisissez un autre DOSSIER_DONNEES.") from None
    return csv_paths["train"], csv_paths["test"]


# --------------------------- cache binaire ---------------------------------

def _cache_path(csv_path):
    """Chemin du cache binaire associé au CSV (fichier caché à côté)."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f".{csv_path.stem}.npz")


def _csv_signature(csv_path):
    """Version du cache, taille et empreinte BLAKE2b du contenu du CSV : le cache n'est valable que
    pour ce contenu exact (une copie qui garde la taille et la date de modification ne le trompe pas)."""
    with open(csv_path, "rb") as file:
        digest = hashlib.file_digest(file, "blake2b").digest()
    head = np.array([_CACHE_FORMAT_VERSION, Path(csv_path).stat().st_size], dtype=np.int64)
    return np.concatenate([head, np.frombuffer(digest, dtype=np.int64)])


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
        write_atomically(
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


def to_model_input(pixels):
    """Met des pixels (n, 784) de 0 à 255 au format du réseau : (n, 28, 28, 1), float32 entre 0 et 1."""
    images = np.asarray(pixels).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1).astype("float32")
    return images / 255.0


def lab_arrays(train, test, seed=13):
    """Les tableaux du carnet tirés des deux tables du labo (label, pixel1..pixel784) : apprentissage
    coupé 80/20 (random_state=13), images au format du réseau, étiquettes en one-hot (float64, comme
    keras.utils.to_categorical). Renvoie X_app, X_val, y_app, y_val, X_test, y_test."""
    # importé ici : fashion_data est importé par chaque processus qui prépare des photos, et
    # sklearn.model_selection y coûterait près d'une seconde au démarrage pour rien
    from sklearn.model_selection import train_test_split
    one_hot = np.eye(N_CLASSES)
    y = one_hot[train.iloc[:, 0].to_numpy()]
    X_app, X_val, y_app, y_val = train_test_split(train.iloc[:, 1:].to_numpy(), y, test_size=0.2,
                                                  random_state=seed)
    return (to_model_input(X_app), to_model_input(X_val), y_app, y_val,
            to_model_input(test.iloc[:, 1:].to_numpy()), one_hot[test.iloc[:, 0].to_numpy()])
