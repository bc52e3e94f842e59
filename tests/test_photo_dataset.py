"""Tests de photo_dataset : photos réelles obtenues par le projet (variable d'environnement, cache
vérifié, téléchargement depuis un serveur HTTP local), et manifeste livré."""
import errno
import hashlib
import io
import re
import socket
import sys
from pathlib import Path

import photo_dataset
import pytest
from conftest import dead_pid, local_http_server
from fashion_data import DataError
from photo_files import FOLDER_TO_LABEL, collect_photos
from PIL import Image
from safe_files import file_sha256

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_photos_manifest  # noqa: E402

REAL_PHOTOS_DIR = Path(__file__).resolve().parents[2] / "shared/data/photos-dev"


# ------------------------------- outils ------------------------------------

def tiny_photo(color, fmt="JPEG"):
    """Octets d'une petite photo unie (JPEG ou PNG)."""
    buffer = io.BytesIO()
    Image.new("RGB", (12, 16), color).save(buffer, fmt)
    return buffer.getvalue()


PHOTOS = {  # nom -> (classe, octets)
    "a1.jpg": ("Sneaker", tiny_photo((200, 30, 30))),
    "b2.jpg": ("Sneaker", tiny_photo((30, 200, 30))),
    "c3.png": ("Dress", tiny_photo((30, 30, 200), "PNG")),
    "d4.jpg": ("T-shirt_top", tiny_photo((90, 90, 90))),
}


def write_manifest(path, photos=PHOTOS):
    lines = ["fichier,classe,sha256"] + [f"{name},{folder},{hashlib.sha256(data).hexdigest()}"
                                         for name, (folder, data) in photos.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def leftovers(directory):
    """Fichiers temporaires restés dans le dossier (et ses sous-dossiers)."""
    return [p.name for p in Path(directory).rglob("*") if ".tmp" in p.name]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Les adresses 127.0.0.1 des tests ne passent pas par un éventuel proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def server(tmp_path):
    """Serveur HTTP local (127.0.0.1, port libre) servant un dossier plat de photos ;
    renvoie (dossier servi, url de base, liste des chemins demandés)."""
    served = tmp_path / "served"
    served.mkdir()
    for name, (_, data) in PHOTOS.items():
        (served / name).write_bytes(data)
    requests = []

    with local_http_server(served, requests) as url:
        yield served, url, requests


@pytest.fixture
def manifest(tmp_path):
    return write_manifest(tmp_path / "manifeste.csv")


def closed_port_url():
    """Adresse d'un port local où rien n'écoute (connexion refusée)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def find(cache, manifest, base_urls, env=None):
    return photo_dataset.find_photos_dir(cache, env=env or {}, manifest=manifest, base_urls=base_urls,
                                         progress=False)


# ------------------------------ téléchargement ------------------------------

def test_download_puts_each_photo_in_its_class_folder(tmp_path, server, manifest, capsys):
    _, base_url, requests = server
    cache = tmp_path / "cache"
    assert find(cache, manifest, (base_url,)) == cache
    for name, (folder, data) in PHOTOS.items():
        assert (cache / folder / name).read_bytes() == data
    assert sorted(requests) == sorted(f"/{name}" for name in PHOTOS)
    assert leftovers(cache) == []
    assert "téléchargement des 4 autres" in capsys.readouterr().out
    entries, warnings = collect_photos(cache)
    assert len(entries) == 4 and warnings == []
    # Cache complet et vérifié : plus aucune requête.
    assert find(cache, manifest, (base_url,)) == cache
    assert len(requests) == 4


def test_second_url_is_tried_when_the_first_has_no_such_file(tmp_path, server, manifest):
    _, base_url, _ = server
    cache = tmp_path / "cache"
    assert find(cache, manifest, (base_url + "absent/", base_url)) == cache
    assert all((cache / folder / name).is_file() for name, (folder, _) in PHOTOS.items())


def test_partial_cache_resumes_and_requests_only_missing_files(tmp_path, server, manifest):
    _, base_url, requests = server
    cache = tmp_path / "cache"
    (cache / "Sneaker").mkdir(parents=True)
    (cache / "Sneaker" / "a1.jpg").write_bytes(PHOTOS["a1.jpg"][1])                # déjà vérifiable
    (cache / "Dress").mkdir()
    (cache / "Dress" / "c3.png").write_bytes(PHOTOS["c3.png"][1][:20])              # tronqué
    (cache / "Dress" / f".c3.png.{dead_pid()}-0123abcd.tmp").write_bytes(b"reste")  # téléchargement tué
    assert find(cache, manifest, (base_url,)) == cache
    assert sorted(requests) == ["/b2.jpg", "/c3.png", "/d4.jpg"]
    assert (cache / "Dress" / "c3.png").read_bytes() == PHOTOS["c3.png"][1]
    assert leftovers(cache) == []


def test_interrupted_download_keeps_verified_files_and_resumes(tmp_path, server, manifest):
    served, base_url, requests = server
    (served / "d4.jpg").unlink()                          # le serveur perd une photo : arrêt en cours
    cache = tmp_path / "cache"
    with pytest.raises(photo_dataset.PhotosUnavailable) as info:
        find(cache, manifest, (base_url,))
    assert "d4.jpg : erreur HTTP 404" in str(info.value)
    assert "3 photos vérifiées sur 4" in str(info.value)
    assert sorted(p.name for p in cache.rglob("*.*")) == ["a1.jpg", "b2.jpg", "c3.png"]
    (served / "d4.jpg").write_bytes(PHOTOS["d4.jpg"][1])
    requests.clear()
    assert find(cache, manifest, (base_url,)) == cache
    assert requests == ["/d4.jpg"]


def test_corrupted_file_on_the_server_is_refused_and_reported(tmp_path, server, manifest):
    served, base_url, _ = server
    (served / "b2.jpg").write_bytes(PHOTOS["a1.jpg"][1])          # une autre photo sous ce nom
    cache = tmp_path / "cache"
    with pytest.raises(photo_dataset.PhotosUnavailable) as info:
        find(cache, manifest, (base_url,))
    message = str(info.value)
    assert "Sneaker/b2.jpg refusé et non gardé" in message and "SHA-256 incorrecte" in message
    assert "modèle livré" in message and photo_dataset.PHOTOS_DIR_ENV_VAR in message
    assert not (cache / "Sneaker" / "b2.jpg").exists()
    assert (cache / "Dress" / "c3.png").is_file() and (cache / "T-shirt_top" / "d4.jpg").is_file()
    assert leftovers(cache) == []


def test_many_failures_are_counted_not_all_listed(tmp_path, server, manifest, monkeypatch):
    served, base_url, requests = server
    for path in served.iterdir():
        path.unlink()                                         # le serveur répond 404 à tout
    monkeypatch.setattr(photo_dataset, "_MAX_LISTED_FAILURES", 2)
    with pytest.raises(photo_dataset.PhotosUnavailable) as info:
        find(tmp_path / "cache", manifest, (base_url,))
    assert len(requests) == 4                                 # 404 : le réseau marche, on essaie tout
    assert str(info.value).count("erreur HTTP 404") == 2 and "... et 2 autres échecs" in str(info.value)
    assert "4 photo(s) n'ont pas pu être téléchargées" in str(info.value)


def test_server_down_gives_photos_unavailable_in_french(tmp_path, manifest):
    cache = tmp_path / "cache"
    url = closed_port_url()
    with pytest.raises(photo_dataset.PhotosUnavailable) as info:
        find(cache, manifest, (url,))
    message = str(info.value)
    assert isinstance(info.value, DataError)
    assert message.startswith("Impossible d'obtenir les photos réelles (le réseau ne répond pas)")
    assert url + "a1.jpg" in message                           # ce qui a été essayé
    assert "0 photos vérifiées sur 4" in message
    assert "Le modèle livré avec le projet reste tel quel" in message
    assert f"définir {photo_dataset.PHOTOS_DIR_ENV_VAR}" in message and "connexion réseau" in message
    assert message.count(url) == 1                             # arrêt dès la première photo
    assert leftovers(cache) == []


def test_full_disk_is_not_mistaken_for_a_network_failure(tmp_path, server, manifest, monkeypatch):
    _, base_url, _ = server

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(photo_dataset, "write_atomically", disk_full)
    with pytest.raises(DataError, match="Impossible d'écrire .*a1.jpg.*place") as info:
        find(tmp_path / "cache", manifest, (base_url,))
    assert not isinstance(info.value, photo_dataset.PhotosUnavailable)


# ------------------------- variable d'environnement -------------------------

def test_env_folder_wins_without_any_request(tmp_path, server, manifest):
    _, base_url, requests = server
    mine = tmp_path / "mes_photos"
    (mine / "Coat").mkdir(parents=True)
    (mine / "Coat" / "manteau.jpg").write_bytes(tiny_photo((10, 10, 10)))
    env = {photo_dataset.PHOTOS_DIR_ENV_VAR: str(mine)}
    assert find(tmp_path / "cache", manifest, (base_url,), env=env) == mine
    assert requests == [] and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("make, expected", [
    (lambda d: None, "ne désigne pas un dossier existant"),
    (lambda d: (d / "vacances").mkdir(parents=True), "aucun sous-dossier de classe"),
])
def test_wrong_env_folder_gives_a_clear_error(tmp_path, manifest, make, expected):
    wrong = tmp_path / "mauvais"
    make(wrong)
    with pytest.raises(DataError) as info:
        find(tmp_path / "cache", manifest, (closed_port_url(),),
             env={photo_dataset.PHOTOS_DIR_ENV_VAR: str(wrong)})
    message = str(info.value)
    assert expected in message and f"{photo_dataset.PHOTOS_DIR_ENV_VAR}={wrong}" in message
    assert not isinstance(info.value, photo_dataset.PhotosUnavailable)


def test_empty_env_variable_is_ignored(tmp_path, server, manifest):
    _, base_url, _ = server
    cache = tmp_path / "cache"
    assert find(cache, manifest, (base_url,), env={photo_dataset.PHOTOS_DIR_ENV_VAR: ""}) == cache


# -------------------------------- manifeste --------------------------------

@pytest.mark.parametrize("line, expected", [
    ("../x.jpg,Sneaker," + "a" * 64, "nom de fichier"),
    ("x.jpg,Chaussette," + "a" * 64, "classe « Chaussette » inconnue"),
    ("x.jpg,Sneaker,1234", "empreinte"),
])
def test_malformed_manifest_is_refused_with_its_line(tmp_path, line, expected):
    path = tmp_path / "m.csv"
    path.write_text("fichier,classe,sha256\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=expected) as info:
        photo_dataset.read_manifest(path)
    assert "ligne 2" in str(info.value)


def test_manifest_script_round_trip(tmp_path, server, capsys):
    _, base_url, _ = server
    source = tmp_path / "source"
    for name, (folder, data) in PHOTOS.items():
        (source / folder).mkdir(parents=True, exist_ok=True)
        (source / folder / name).write_bytes(data)
    (source / "README.md").write_text("pas une photo")
    out = tmp_path / "manifeste.csv"
    assert make_photos_manifest.main([str(source), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[:2] == [
        "fichier,classe,sha256", f"c3.png,Dress,{hashlib.sha256(PHOTOS['c3.png'][1]).hexdigest()}"]
    assert "4 photos écrites" in capsys.readouterr().out
    cache = tmp_path / "cache"
    assert find(cache, out, (base_url,)) == cache
    assert make_photos_manifest.manifest_rows(cache)[0] == make_photos_manifest.manifest_rows(source)[0]


def test_shipped_manifest_is_well_formed():
    entries = photo_dataset.read_manifest()                       # vérifie noms, classes, empreintes
    assert len(entries) == 1948
    assert {entry.classe for entry in entries} == set(FOLDER_TO_LABEL) - {"Bag"}
    assert len({entry.fichier for entry in entries}) == len(entries)
    assert all(re.fullmatch(r"[0-9a-f]{64}", entry.sha256) for entry in entries)
    assert entries == sorted(entries, key=lambda entry: (entry.classe, entry.fichier))
    text = photo_dataset.MANIFEST_PATH.read_text(encoding="utf-8")
    assert "/work" not in text and "\r" not in text


def test_shipped_manifest_matches_the_development_photos():
    if not REAL_PHOTOS_DIR.is_dir():
        pytest.skip(f"Photos de développement absentes ({REAL_PHOTOS_DIR}).")
    paths = {entry: REAL_PHOTOS_DIR / entry.classe / entry.fichier for entry in photo_dataset.read_manifest()}
    mismatched = [f"{entry.classe}/{entry.fichier}" for entry, path in paths.items()
                  if not path.is_file() or file_sha256(path) != entry.sha256]
    assert mismatched == []
    assert len(collect_photos(REAL_PHOTOS_DIR)[0]) == len(paths)           # aucune photo hors manifeste


def test_default_download_address_is_the_pinned_upstream_images_folder():
    expected = ("https://raw.githubusercontent.com/alexeygrigorev/clothing-dataset/"
                "7ed86a9cc56763b6acb35e41cb35184e43a5d218/images/")
    assert photo_dataset.PHOTOS_BASE_URLS == (expected,)
