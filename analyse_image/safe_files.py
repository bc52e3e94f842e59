"""Écrire un fichier sans jamais laisser de fichier à moitié écrit, et reconnaître un contenu.

Une seule façon d'écrire : dans un fichier temporaire caché à côté du fichier final, vérifié si
besoin, puis renommé (os.replace, atomique sur un même disque). Utilisé pour les CSV, le cache,
les téléchargements, metrics.json et les fichiers des modèles.
"""
import hashlib
import json
import os
import re
import uuid
from pathlib import Path

#: Nom d'un fichier temporaire : .<nom final>.<numéro du processus>-<8 chiffres hexadécimaux>.tmp[<suffixe>]
_TEMPORARY_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp(\.[\w.]+)?$")


def temporary_path_beside(final_path, suffix=""):
    """Chemin temporaire unique et caché, dans le même dossier que final_path, marqué du numéro
    du processus qui l'écrit (suffix : une fin de nom imposée, par exemple « .weights.h5 »)."""
    final_path = Path(final_path)
    return final_path.with_name(f".{final_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}")


def _process_is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # le processus existe, mais appartient à un autre utilisateur
        return True
    return True


def remove_stale_temporaries(folder):
    """Supprime les fichiers temporaires de ce module laissés dans folder par un processus qui
    n'existe plus (écriture tuée ou machine arrêtée) ; renvoie leurs noms."""
    removed = []
    for path in Path(folder).glob(".*.tmp*"):
        match = _TEMPORARY_NAME.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _process_is_running(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def write_atomically(final_path, write_content, verify=None):
    """Écrit final_path via un fichier temporaire : write_content(fichier binaire), puis
    verify(chemin temporaire) s'il est donné, puis os.replace. En cas d'échec, le temporaire est
    supprimé et l'ancien final_path reste intact."""
    tmp_path = temporary_path_beside(final_path)
    try:
        with open(tmp_path, "xb") as file:
            write_content(file)
        if verify is not None:
            verify(tmp_path)
        os.replace(tmp_path, final_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_json_atomically(data, path):
    """Écrit un JSON (UTF-8, indenté) de façon atomique, en créant son dossier si besoin."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def file_sha256(path):
    """Empreinte SHA-256 du contenu d'un fichier : deux fichiers de même empreinte ont le même
    contenu, quel que soit leur nom."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
