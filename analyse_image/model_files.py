"""Sauvegarder un modèle Keras en JSON + poids sans jamais perdre le précédent, et le recharger
avec un message clair en français quand quelque chose ne va pas.

    with model_files_for_saving("modele/modele.json", "modele/modele.weights.h5") as (fichier_json, fichier_poids):
        fichier_json.write_text(modele.to_json())
        modele.save_weights(fichier_poids)
    modele = load_model_files("modele/modele.json", "modele/modele.weights.h5")
"""
import contextlib
import json
import os
import shutil
from pathlib import Path

import h5py
import keras

from fashion_data import IMAGE_SIZE, N_CLASSES
from safe_files import file_sha256, remove_stale_temporaries, temporary_path_beside

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


class ModelFilesError(ValueError):
    """Fichiers du modèle absents, illisibles ou qui ne vont pas ensemble."""


#: Dans le JSON du modèle, l'empreinte SHA-256 des poids sauvegardés avec lui.
WEIGHTS_FINGERPRINT_KEY = "weights_sha256"
#: Au-delà, une couche du JSON est refusée avant d'être construite (un fichier trafiqué ou abîmé).
MAX_LAYER_WIDTH = 8192
_RESTORE_HINT = "Pour retrouver le modèle fourni avec le dépôt : « git checkout -- analyse_image/modele »."


def _previous_weights_path(weights_path):
    """Où la sauvegarde garde les poids précédents tant que la nouvelle paire n'est pas en place
    (un nom en .weights.h5, que Keras accepte de relire)."""
    return weights_path.with_name(f".{weights_path.name.removesuffix('.weights.h5')}.previous.weights.h5")


def _keep_previous_weights(json_path, weights_path):
    """Garde à côté, avant qu'ils soient remplacés, les poids qui vont avec le JSON actuel (ceux
    qu'une sauvegarde interrompue aurait déjà mis de côté restent en place)."""
    try:
        _, used = _load(json_path, weights_path, announce=False)
    except ModelFilesError:                  # pas de modèle complet à garder
        return
    previous = _previous_weights_path(weights_path)
    if used == previous:
        return
    copy = temporary_path_beside(previous)
    try:
        try:
            os.link(used, copy)
        except OSError:
            shutil.copyfile(used, copy)
        os.replace(copy, previous)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def model_files_for_saving(json_path, weights_path):
    """Sauvegarde sûre d'un modèle : le bloc écrit la description (JSON) et les poids dans les deux
    fichiers temporaires qu'on lui donne ; à la sortie, la paire est relue puis mise en place.

    L'empreinte des poids est ajoutée au JSON et les anciens poids sont gardés à côté jusqu'à la
    fin : une sauvegarde qui échoue ou qui est tuée à n'importe quelle étape laisse un modèle
    complet (l'ancien ou le nouveau), que load_model_files retrouve.
    """
    json_path, weights_path = Path(json_path), Path(weights_path)
    if not weights_path.name.endswith(".weights.h5"):
        raise ModelFilesError(f"Le fichier de poids doit se terminer par « .weights.h5 » "
                              f"(Keras 3 l'exige) : renommez « {weights_path.name} ».")
    for folder in {json_path.parent, weights_path.parent}:
        check_model_folder_writable(folder)
        remove_stale_temporaries(folder)
    tmp_json = temporary_path_beside(json_path)
    tmp_weights = temporary_path_beside(weights_path, ".weights.h5")
    try:
        yield tmp_json, tmp_weights
        description = json.loads(tmp_json.read_text(encoding="utf-8"))
        description[WEIGHTS_FINGERPRINT_KEY] = file_sha256(tmp_weights)
        tmp_json.write_text(json.dumps(description), encoding="utf-8")
        load_model_files(tmp_json, tmp_weights)          # relecture : les deux fichiers vont ensemble
        _keep_previous_weights(json_path, weights_path)
        os.replace(tmp_weights, weights_path)
        os.replace(tmp_json, json_path)
        _previous_weights_path(weights_path).unlink(missing_ok=True)
    except OSError as error:
        raise ModelFilesError(f"Impossible de sauvegarder le modèle dans « {json_path.parent} » : "
                              f"{error.strerror or error}. Le modèle déjà présent reste utilisable. "
                              "Libérez de la place ou choisissez un autre DOSSIER_MODELE.") from error
    finally:
        tmp_json.unlink(missing_ok=True)
        tmp_weights.unlink(missing_ok=True)


def save_model_files(model, json_path, weights_path):
    """Sauvegarde un modèle Keras en JSON + poids (model_files_for_saving) ; renvoie les deux chemins."""
    with model_files_for_saving(json_path, weights_path) as (tmp_json, tmp_weights):
        tmp_json.write_text(model.to_json(), encoding="utf-8")
        model.save_weights(tmp_weights)
    return Path(json_path), Path(weights_path)


def check_model_folder_writable(folder):
    """Vérifie, avant un long entraînement, qu'on pourra sauvegarder dans folder (créé si besoin)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temporary_path_beside(folder / "essai-ecriture")
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise ModelFilesError(
            f"Impossible d'écrire dans le dossier des modèles « {folder} » ({error.strerror or error}). "
            "Vérifiez ses droits et la place libre sur le disque, ou choisissez un autre DOSSIER_MODELE "
            "dans la cellule des paramètres.") from None
    return folder


def _read_model_description(json_path):
    """Le JSON d'un modèle : (texte à donner à Keras, empreinte des poids ou None), vérifié avant construction."""
    try:
        description = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFilesError(f"« {json_path} » n'est pas un JSON lisible ({error}). {_RESTORE_HINT}") from None
    if not isinstance(description, dict) or "config" not in description or "class_name" not in description:
        raise ModelFilesError(f"« {json_path} » est un JSON, mais pas la description d'un modèle Keras "
                              f"(il faut un fichier écrit par model.to_json()). {_RESTORE_HINT}")
    widths = [value for key, value in _walk_items(description["config"])
              if key in ("units", "filters") and isinstance(value, int)]
    if any(width > MAX_LAYER_WIDTH for width in widths):
        raise ModelFilesError(f"« {json_path} » décrit une couche de {max(widths)} neurones : bien trop "
                              f"pour ce labo (au plus {MAX_LAYER_WIDTH}). {_RESTORE_HINT}")
    fingerprint = description.pop(WEIGHTS_FINGERPRINT_KEY, None)
    return json.dumps(description), fingerprint


def _walk_items(node):
    """Toutes les paires (clé, valeur) d'un JSON imbriqué."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk_items(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_items(value)


def _weights_are_readable(weights_path):
    """Le fichier de poids s'ouvre en HDF5 et chacun de ses tableaux se lit en entier (pas tronqué)."""
    def read(_, item):
        if isinstance(item, h5py.Dataset):
            item[()]
    try:
        with h5py.File(weights_path, "r") as file:
            file.visititems(read)
    except Exception:
        return False
    return True


def _damaged_weights_error(weights_path):
    return ModelFilesError(f"Le fichier de poids « {weights_path} » est abîmé (vide, tronqué ou d'un autre "
                           f"format). {_RESTORE_HINT}")


def _load(json_path, weights_path, announce=True):
    """(modèle, fichier de poids utilisé) : weights_path, ou les poids précédents qu'une sauvegarde
    interrompue a laissés à côté quand ce sont eux qui vont avec le JSON."""
    json_path, weights_path = Path(json_path), Path(weights_path)
    for path, what in ((json_path, "la description du modèle (JSON)"), (weights_path, "les poids du modèle")):
        if not path.is_file():
            raise ModelFilesError(
                f"Fichier introuvable : « {path} » ({what}). Exécutez d'abord classification.ipynb "
                f"pour entraîner et sauvegarder le modèle. {_RESTORE_HINT}")
    text, fingerprint = _read_model_description(json_path)
    try:
        model = keras.models.model_from_json(text)
    except Exception as error:
        raise ModelFilesError(f"« {json_path} » n'est pas une description de modèle Keras utilisable "
                              f"({type(error).__name__} : {error}). {_RESTORE_HINT}") from None
    if not isinstance(model, keras.Model):
        raise ModelFilesError(f"« {json_path} » ne décrit pas un modèle Keras. {_RESTORE_HINT}")
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != N_CLASSES:
        raise ModelFilesError(
            f"« {json_path} » décrit un modèle d'entrée {model.input_shape[1:]} et de sortie "
            f"{model.output_shape[-1]} : il faut une entrée {INPUT_SHAPE} et 10 classes.")
    previous = _previous_weights_path(weights_path)
    candidates = [weights_path] + ([previous] if previous.is_file() else [])
    if fingerprint is not None:
        candidates = [path for path in candidates if file_sha256(path) == fingerprint]
    error = None
    for path in candidates:
        try:
            model.load_weights(path)
        except Exception as exc:             # le fichier suivant, s'il y en a un
            error = error or exc
            continue
        if path == previous and announce:
            print(f"La dernière sauvegarde de « {json_path.name} » a été interrompue : le modèle précédent, "
                  "complet, est utilisé.")
        return model, path
    if not _weights_are_readable(weights_path):
        raise _damaged_weights_error(weights_path)
    if fingerprint is not None and not candidates:
        raise ModelFilesError(f"Les poids « {weights_path} » ne sont pas ceux enregistrés avec « {json_path} » "
                              f"(fichiers de deux sauvegardes différentes). Sauvegardez à nouveau le modèle "
                              f"depuis classification.ipynb. {_RESTORE_HINT}")
    raise ModelFilesError(
        f"Les poids « {weights_path} » ne correspondent pas à l'architecture « {json_path} » "
        f"({error}). Les deux fichiers doivent venir de la même sauvegarde : sauvegardez-les à "
        f"nouveau ensemble depuis classification.ipynb. {_RESTORE_HINT}")


def load_model_files(json_path, weights_path):
    """Recharge un modèle sauvegardé en JSON + poids, avec un message clair si quelque chose ne va pas."""
    return _load(json_path, weights_path)[0]
