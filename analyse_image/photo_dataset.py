"""Les photos réelles de vêtements : un dossier rangé par classe, obtenu par le projet lui-même.

Comme pour Fashion-MNIST (fashion_data.find_idx_dir), trois sources, dans l'ordre :

1. le dossier de la variable d'environnement PHOTOS_REELLES_DIR (vos photos, un sous-dossier par
   classe : T-shirt_top, Trouser, Pullover...) ;
2. le dossier cache, s'il contient déjà toutes les photos du manifeste photos_manifest.csv
   (nom du fichier, classe, empreinte SHA-256), chacune vérifiée ;
3. sinon, le téléchargement des photos qui manquent depuis le jeu « clothing-dataset » d'Alexey
   Grigorev (CC0 1.0, domaine public), à une version fixée : chaque fichier est vérifié (SHA-256)
   et écrit de façon atomique. Un téléchargement interrompu reprend là où il s'était arrêté.

Sans réseau, PhotosUnavailable dit en français ce qui a été essayé et comment faire ; le modèle
livré avec le projet reste alors tel quel.

    import photo_dataset
    dossier = photo_dataset.find_photos_dir("photos_reelles")
"""
import csv
import errno
import http.client
import os
import re
import urllib.error
import urllib.request
from collections import namedtuple
from pathlib import Path

from tqdm.auto import tqdm

from fashion_data import DataError, folder_from_env
from photo_files import FOLDER_TO_LABEL
from safe_files import file_sha256, remove_stale_temporaries, write_atomically

PHOTOS_DIR_ENV_VAR = "PHOTOS_REELLES_DIR"
MANIFEST_PATH = Path(__file__).resolve().with_name("photos_manifest.csv")
MANIFEST_COLUMNS = ("fichier", "classe", "sha256")

# Version fixée du dépôt source : ses photos sont images/<nom du fichier>.
UPSTREAM_REPO = "alexeygrigorev/clothing-dataset"
UPSTREAM_COMMIT = "7ed86a9cc56763b6acb35e41cb35184e43a5d218"
PHOTOS_BASE_URLS = (
    f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/images/",
)
DOWNLOAD_TIMEOUT_S = 10           # une photo fait environ 30 ko : sans réponse en 10 s, le réseau manque
MAX_PHOTO_BYTES = 20_000_000      # au-delà, ce n'est pas une des photos du manifeste
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
_MAX_LISTED_FAILURES = 8          # échecs cités dans le message d'erreur (les suivants sont comptés)

_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

ManifestEntry = namedtuple("ManifestEntry", MANIFEST_COLUMNS)

_FIX_HINT = (
    "Pour corriger, au choix :\n"
    f"  1. définir {PHOTOS_DIR_ENV_VAR} vers un dossier de photos rangées par classe (un sous-dossier "
    f"par classe, nommé {', '.join(FOLDER_TO_LABEL)}) ;\n"
    "  2. vérifier la connexion réseau (proxy, pare-feu) puis relancer : les photos déjà vérifiées "
    "sont gardées, le téléchargement reprend là où il s'est arrêté."
)
_MODEL_STAYS = ("Le modèle livré avec le projet reste tel quel : il n'est ni affiné ni remplacé "
                "tant que les photos manquent.")


class PhotosUnavailable(DataError):
    """Les photos réelles n'ont pas pu être obtenues (réseau absent, fichier refusé) ; le message
    dit ce qui a été essayé et comment faire."""


class _ChecksumMismatch(ValueError):
    """Le fichier téléchargé n'a pas l'empreinte SHA-256 du manifeste."""


# ------------------------------- manifeste -------------------------------

def _check_manifest_row(row, number, path, seen):
    """Vérifie une ligne du manifeste ; renvoie un ManifestEntry (DataError si elle est fausse)."""
    def bad(problem):
        return DataError(f"{path}, ligne {number} : {problem}. Corrigez le manifeste ou régénérez-le avec "
                         "scripts/make_photos_manifest.py.")
    name, folder, digest = (row.get(column) or "" for column in MANIFEST_COLUMNS)
    if not _SAFE_FILE_NAME.match(name):
        raise bad(f"nom de fichier « {name} » refusé (lettres, chiffres, « . », « _ », « - » seulement)")
    if folder not in FOLDER_TO_LABEL:
        raise bad(f"classe « {folder} » inconnue (attendu : {', '.join(FOLDER_TO_LABEL)})")
    if not _SHA256.match(digest):
        raise bad(f"empreinte « {digest} » invalide (64 chiffres hexadécimaux en minuscules)")
    if name in seen:
        raise bad(f"« {name} » figure deux fois")
    seen.add(name)
    return ManifestEntry(name, folder, digest)


def read_manifest(path=MANIFEST_PATH):
    """Les photos attendues, lues dans le manifeste CSV (fichier,classe,sha256) et vérifiées."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
                raise DataError(f"{path} : en-tête {reader.fieldnames} inattendu (attendu : "
                                f"{','.join(MANIFEST_COLUMNS)}).")
            seen = set()
            return [_check_manifest_row(row, number, path, seen) for number, row in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise DataError(f"Manifeste des photos introuvable : {path}. Il fait partie du projet : "
                        "récupérez-le avec git (git checkout -- analyse_image/photos_manifest.csv).") from None


# ------------------------- dossier de l'utilisateur -------------------------

def _photos_dir_from_env(env):
    """Dossier désigné par PHOTOS_REELLES_DIR (vérifié), ou None si la variable est vide ou absente."""
    directory = folder_from_env(env, PHOTOS_DIR_ENV_VAR, "le téléchargement automatique des photos")
    if directory is None:
        return None
    value = env[PHOTOS_DIR_ENV_VAR]
    if not any((directory / name).is_dir() for name in FOLDER_TO_LABEL):
        raise DataError(
            f"{PHOTOS_DIR_ENV_VAR}={value} : aucun sous-dossier de classe dans ce dossier. Rangez-y les "
            f"photos dans un sous-dossier par classe ({', '.join(FOLDER_TO_LABEL)}), ou supprimez cette "
            f"variable pour utiliser le téléchargement automatique des photos."
        )
    return directory


# ---------------------------------- cache ----------------------------------

def _target(cache_dir, entry):
    return Path(cache_dir) / entry.classe / entry.fichier


def _prepare_cache(cache_dir, entries):
    """Crée les dossiers de classe du cache et y supprime les temporaires d'un téléchargement tué."""
    for folder in sorted({entry.classe for entry in entries}):
        try:
            (cache_dir / folder).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(
                f"Impossible de créer le dossier des photos {cache_dir / folder} ({error.strerror or error}). "
                f"Choisissez un dossier où vous pouvez écrire, ou définissez {PHOTOS_DIR_ENV_VAR}."
            ) from None
        remove_stale_temporaries(cache_dir / folder)


def _is_verified(path, expected_sha256):
    """Vrai si le fichier existe et a l'empreinte attendue."""
    return path.is_file() and file_sha256(path) == expected_sha256


def missing_photos(cache_dir, entries):
    """Les photos du manifeste absentes du cache ou dont le contenu n'est pas le bon.

    Toutes les photos présentes sont relues et vérifiées à chaque appel (environ 56 Mo, moins d'une
    seconde) : une photo abîmée depuis son téléchargement est ainsi toujours retrouvée.
    """
    return [entry for entry in entries if not _is_verified(_target(cache_dir, entry), entry.sha256)]


# ------------------------------ téléchargement ------------------------------

def _check_sha256(path, expected_sha256, url):
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise _ChecksumMismatch(f"{url} : empreinte SHA-256 incorrecte ({actual}, attendu {expected_sha256})")


def _download_photo(url, target, expected_sha256):
    """Télécharge url vers target : fichier temporaire, empreinte vérifiée, puis renommé."""
    def fetch(file):
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            size = 0
            for block in iter(lambda: response.read(1 << 16), b""):
                size += len(block)
                if size > MAX_PHOTO_BYTES:
                    raise _ChecksumMismatch(f"{url} : fichier de plus de {MAX_PHOTO_BYTES} octets, refusé")
                file.write(block)

    write_atomically(target, fetch, verify=lambda tmp: _check_sha256(tmp, expected_sha256, url))


def _disk_error(target, error):
    """DataError pour une écriture impossible sur le disque (plein, en lecture seule, droits)."""
    return DataError(
        f"Impossible d'écrire {target} ({error.strerror or error}). Vérifiez qu'il reste de la place "
        f"(les photos font environ 56 Mo) et que le dossier est accessible en écriture, ou définissez "
        f"{PHOTOS_DIR_ENV_VAR}."
    )


def _fetch_from_any_url(entry, cache_dir, base_urls):
    """Essaie chaque URL de base ; renvoie (échecs, réseau injoignable partout) : ([], False) si réussi."""
    failures, unreachable = [], bool(base_urls)
    for base_url in base_urls:
        url = base_url.rstrip("/") + "/" + entry.fichier
        try:
            _download_photo(url, _target(cache_dir, entry), entry.sha256)
            return [], False
        except _ChecksumMismatch as err:
            failures.append(f"{entry.classe}/{entry.fichier} refusé et non gardé : {err}")
            unreachable = False
        except urllib.error.HTTPError as err:        # le serveur répond, mais pas ce fichier
            failures.append(f"{url} : erreur HTTP {err.code} ({err.reason})")
            unreachable = False
        except OSError as err:
            if err.errno in _DISK_ERRNOS:
                raise _disk_error(_target(cache_dir, entry), err) from None
            failures.append(f"{url} : {getattr(err, 'reason', None) or err}")
        except http.client.HTTPException as err:
            failures.append(f"{url} : {err!r}")
    return failures, unreachable


def _download_missing(missing, cache_dir, base_urls, progress):
    """Télécharge les photos manquantes ; renvoie (échecs, arrêté faute de réseau)."""
    failures = []
    with tqdm(total=len(missing), unit="photo", desc="Photos réelles", disable=not progress) as bar:
        for entry in missing:
            errors, unreachable = _fetch_from_any_url(entry, cache_dir, base_urls)
            failures.extend(errors)
            if unreachable:                           # inutile d'essayer les autres photos
                return failures, True
            bar.update(1)
    return failures, False


def _shortened(failures):
    """Les premiers échecs, puis le nombre des suivants (le message reste lisible)."""
    if len(failures) <= _MAX_LISTED_FAILURES:
        return failures
    return failures[:_MAX_LISTED_FAILURES] + [f"... et {len(failures) - _MAX_LISTED_FAILURES} autres échecs"]


def _unavailable_error(cache_dir, n_expected, n_missing, failures, offline):
    """PhotosUnavailable : ce qui a été essayé, ce qui est gardé, le modèle qui reste, comment corriger."""
    tried = [
        f"variable {PHOTOS_DIR_ENV_VAR} : non définie",
        f"dossier {cache_dir} : {n_expected - n_missing} photos vérifiées sur {n_expected}",
    ] + (_shortened(failures) or ["aucune adresse de téléchargement fournie"])
    cause = ("le réseau ne répond pas" if offline
             else f"{n_missing} photo(s) n'ont pas pu être téléchargées ou vérifiées")
    return PhotosUnavailable(
        f"Impossible d'obtenir les photos réelles ({cause}). Essais effectués :\n  - "
        + "\n  - ".join(tried)
        + f"\n{_MODEL_STAYS}\n{_FIX_HINT}"
    )


def find_photos_dir(cache_dir, env=os.environ, manifest=MANIFEST_PATH, base_urls=PHOTOS_BASE_URLS,
                    progress=True):
    """Dossier de photos rangées par classe : PHOTOS_REELLES_DIR, sinon le cache complet et vérifié,
    sinon le cache complété par téléchargement (PhotosUnavailable si c'est impossible)."""
    env_dir = _photos_dir_from_env(env)
    if env_dir is not None:
        return env_dir
    entries = read_manifest(manifest)
    cache_dir = Path(cache_dir)
    _prepare_cache(cache_dir, entries)
    missing = missing_photos(cache_dir, entries)
    if not missing:
        return cache_dir
    print(f"Photos réelles : {len(entries) - len(missing)} sur {len(entries)} déjà dans {cache_dir} ; "
          f"téléchargement des {len(missing)} autres ...")
    failures, offline = _download_missing(missing, cache_dir, base_urls, progress)
    still_missing = missing_photos(cache_dir, missing)
    if still_missing:
        raise _unavailable_error(cache_dir, len(entries), len(still_missing), failures, offline)
    return cache_dir
