"""Tests de l'écriture atomique des fichiers, de leur empreinte et du ménage des fichiers temporaires."""
import hashlib
import json
import os

import pytest
import safe_files
from conftest import dead_pid


def folder_names(folder):
    return sorted(path.name for path in folder.iterdir())


# ------------------------------ write_atomically ------------------------------

def test_write_atomically_writes_the_content_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "donnees.csv"
    safe_files.write_atomically(target, lambda file: file.write(b"a,b\n1,2\n"))
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert folder_names(tmp_path) == ["donnees.csv"]


def test_write_atomically_replaces_an_existing_file(tmp_path):
    target = tmp_path / "donnees.csv"
    target.write_bytes(b"ancien")
    safe_files.write_atomically(target, lambda file: file.write(b"nouveau"))
    assert target.read_bytes() == b"nouveau"
    assert folder_names(tmp_path) == ["donnees.csv"]


@pytest.mark.parametrize("error", [OSError("disque plein"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, error):
    target = tmp_path / "donnees.csv"
    target.write_bytes(b"ancien contenu")

    def write_half_then_fail(file):
        file.write(b"moiti")
        file.flush()
        raise error

    with pytest.raises(type(error)):
        safe_files.write_atomically(target, write_half_then_fail)
    assert target.read_bytes() == b"ancien contenu"
    assert folder_names(tmp_path) == ["donnees.csv"]


def test_a_failed_first_write_creates_nothing(tmp_path):
    with pytest.raises(ValueError):
        safe_files.write_atomically(tmp_path / "nouveau.csv", lambda file: (file.write(b"x"), int("pas un nombre")))
    assert folder_names(tmp_path) == []


def test_verify_sees_the_complete_temporary_beside_the_final_file(tmp_path):
    target = tmp_path / "donnees.csv"
    seen = []

    def verify(path):
        seen.append((path, path.read_bytes()))

    safe_files.write_atomically(target, lambda file: file.write(b"contenu complet"), verify=verify)
    (tmp_file, content), = seen
    assert content == b"contenu complet"
    assert tmp_file.parent == tmp_path and tmp_file.name.startswith(".donnees.csv.")
    assert f".{os.getpid()}-" in tmp_file.name
    assert not tmp_file.exists()
    assert target.read_bytes() == b"contenu complet"


def test_a_failed_verification_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "donnees.csv"
    target.write_bytes(b"ancien contenu")

    def verify(path):
        raise ValueError(f"{path.name} : contenu refusé")

    with pytest.raises(ValueError, match="contenu refusé"):
        safe_files.write_atomically(target, lambda file: file.write(b"mauvais contenu"), verify=verify)
    assert target.read_bytes() == b"ancien contenu"
    assert folder_names(tmp_path) == ["donnees.csv"]


# --------------------------- write_json_atomically ----------------------------

def test_write_json_atomically_creates_folders_and_writes_readable_utf8(tmp_path):
    path = tmp_path / "a" / "b" / "metrics.json"
    data = {"modèle": "réseau à 1 convolution", "précision": 0.9051, "runs": [1, 2]}
    safe_files.write_json_atomically(data, path)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == data
    assert "réseau à 1 convolution" in text          # les accents restent lisibles (pas de \u00e9)
    assert text.endswith("}\n") and '\n  "runs"' in text
    assert folder_names(path.parent) == ["metrics.json"]


def test_write_json_atomically_keeps_the_old_file_when_data_is_not_json(tmp_path):
    path = tmp_path / "metrics.json"
    safe_files.write_json_atomically({"schema": 1}, path)
    with pytest.raises(TypeError):
        safe_files.write_json_atomically({"ensemble": {1, 2}}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"schema": 1}
    assert folder_names(tmp_path) == ["metrics.json"]


# --------------------------------- file_sha256 ---------------------------------

def test_file_sha256_depends_on_the_content_not_on_the_name(tmp_path):
    content = os.urandom(3 * (1 << 20) + 17)          # plusieurs blocs de lecture de 1 Mio
    (tmp_path / "a.weights.h5").write_bytes(content)
    (tmp_path / "copie sans rapport.bin").write_bytes(content)
    (tmp_path / "autre.bin").write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    fingerprint = safe_files.file_sha256(tmp_path / "a.weights.h5")
    assert fingerprint == hashlib.sha256(content).hexdigest()
    assert safe_files.file_sha256(tmp_path / "copie sans rapport.bin") == fingerprint
    assert safe_files.file_sha256(tmp_path / "autre.bin") != fingerprint


def test_file_sha256_of_an_empty_file(tmp_path):
    (tmp_path / "vide").write_bytes(b"")
    assert safe_files.file_sha256(tmp_path / "vide") == hashlib.sha256(b"").hexdigest()


# ---------------------- fichiers temporaires et leur ménage ---------------------

def test_temporary_path_beside_is_hidden_unique_and_marked_with_the_process(tmp_path):
    final = tmp_path / "modele.weights.h5"
    first = safe_files.temporary_path_beside(final, ".weights.h5")
    second = safe_files.temporary_path_beside(final, ".weights.h5")
    assert first != second
    assert first.parent == tmp_path
    assert first.name.startswith(f".modele.weights.h5.{os.getpid()}-")
    assert first.name.endswith(".tmp.weights.h5")
    assert safe_files.temporary_path_beside(final).name.endswith(".tmp")


def test_remove_stale_temporaries_removes_only_those_of_dead_processes(tmp_path):
    dead = dead_pid()
    stale = [f".modele.json.{dead}-abcdef12.tmp", f".modele.weights.h5.{dead}-abcdef12.tmp.weights.h5",
             f".train.csv.{dead}-0123abcd.tmp"]
    mine = [safe_files.temporary_path_beside(tmp_path / "modele.json").name,
            safe_files.temporary_path_beside(tmp_path / "modele.weights.h5", ".weights.h5").name]
    running = [".modele.json.1-abcdef12.tmp"]        # le processus 1 existe toujours
    others = ["modele.json", "modele.weights.h5", ".modele.weights.h5.previous", ".cache.tmp",
              f".modele.json.{dead}-ABCDEF12.tmp", f"modele.json.{dead}-abcdef12.tmp", "notes.tmp.txt"]
    for name in stale + mine + running + others:
        (tmp_path / name).write_bytes(b"x")
    removed = safe_files.remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert folder_names(tmp_path) == sorted(mine + running + others)


def test_remove_stale_temporaries_of_a_missing_folder_removes_nothing(tmp_path):
    assert safe_files.remove_stale_temporaries(tmp_path / "absent") == []
