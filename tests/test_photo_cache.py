"""Cache des photos préparées (photo_cache) et son usage par photo_preparation.prepare_photos."""
import shutil

import numpy as np
import photo_cache
import photo_preparation
import pytest
from conftest import block_image


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("PHOTOS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def counted_preparation(monkeypatch):
    """La préparation « premier_plan », qui compte ses appels."""
    calls = []
    real = photo_preparation.PREPARATIONS["premier_plan"]

    def counting(path, **kwargs):
        calls.append(path.name)
        return real(path, **kwargs)

    monkeypatch.setitem(photo_preparation.PREPARATIONS, "premier_plan", counting)
    return calls


def photo(folder, name="veste.png", box=(20, 15, 70, 80)):
    folder.mkdir(exist_ok=True)
    path = folder / name
    block_image(size=(90, 100), box=box, fg=30, bg=230).save(path)
    return path


def test_folder_from_environment_or_beside_the_modules(monkeypatch, tmp_path):
    monkeypatch.setenv("PHOTOS_CACHE_DIR", str(tmp_path))
    assert photo_cache.cache_folder() == tmp_path
    monkeypatch.delenv("PHOTOS_CACHE_DIR")
    assert photo_cache.cache_folder() == photo_cache.DEFAULT_CACHE_DIR
    assert photo_cache.DEFAULT_CACHE_DIR.parent.parent.name == "analyse_image"


def test_key_follows_content_preparation_version_and_options(tmp_path):
    first = photo(tmp_path / "a", "photo.png")
    same_content = tmp_path / "b" / "autre_nom.png"
    same_content.parent.mkdir()
    shutil.copy(first, same_content)
    other_content = photo(tmp_path / "c", "photo.png", box=(10, 10, 50, 50))
    key = photo_cache.cache_key(first, "premier_plan", 1)
    assert len(key) == 64
    assert photo_cache.cache_key(same_content, "premier_plan", 1) == key          # le nom ne compte pas
    assert photo_cache.cache_key(other_content, "premier_plan", 1) != key
    assert photo_cache.cache_key(first, "premier_plan", 2) != key                 # nouvelle version
    assert photo_cache.cache_key(first, "labo", 1) != key
    assert photo_cache.cache_key(first, "premier_plan", 1, {"content_size": 20}) != key


def test_second_pass_reads_the_cache_and_gives_the_same_images(tmp_path, cache_dir, counted_preparation):
    paths = [photo(tmp_path / "photos", "veste.png"), photo(tmp_path / "photos", "robe.png", box=(30, 5, 60, 95))]
    first, ok_first, failures = photo_preparation.prepare_photos(paths, "premier_plan")
    assert not failures and counted_preparation == ["veste.png", "robe.png"]
    assert len(list(cache_dir.rglob("*.npy"))) == 2
    second, ok_second, _ = photo_preparation.prepare_photos(paths, "premier_plan")
    assert counted_preparation == ["veste.png", "robe.png"]                      # rien de refait
    assert ok_second == ok_first and np.array_equal(first, second)


def test_a_changed_photo_or_version_is_prepared_again(tmp_path, cache_dir, counted_preparation, monkeypatch):
    path = photo(tmp_path / "photos")
    photo_preparation.prepare_photos([path], "premier_plan")
    block_image(size=(90, 100), box=(5, 5, 40, 90), fg=30, bg=230).save(path)   # même nom, autre photo
    photo_preparation.prepare_photos([path], "premier_plan")
    monkeypatch.setitem(photo_preparation.PREPARATION_VERSIONS, "premier_plan", 99)
    photo_preparation.prepare_photos([path], "premier_plan")
    assert counted_preparation == ["veste.png"] * 3


def test_damaged_entry_is_redone_and_replaced(tmp_path, cache_dir, counted_preparation):
    path = photo(tmp_path / "photos")
    expected, _, _ = photo_preparation.prepare_photos([path], "premier_plan")
    (entry,) = cache_dir.rglob("*.npy")
    entry.write_bytes(b"pas un tableau numpy")
    again, _, failures = photo_preparation.prepare_photos([path], "premier_plan")
    assert not failures and np.array_equal(again, expected) and len(counted_preparation) == 2
    assert np.array_equal(np.load(entry), expected[0, :, :, 0])


def test_unwritable_cache_folder_does_not_stop_anything(tmp_path, cache_dir):
    cache_dir.write_text("un fichier là où le cache attend un dossier")
    images, ok, failures = photo_preparation.prepare_photos([photo(tmp_path / "photos")], "premier_plan")
    assert len(ok) == 1 and not failures and images.shape == (1, 28, 28, 1)


def test_store_reports_a_refused_write(tmp_path):
    blocker = tmp_path / "fichier"
    blocker.write_text("x")
    assert photo_cache.store_prepared(blocker, "ab" * 32, np.zeros((28, 28))) is False   # un fichier, pas un dossier
    assert photo_cache.store_prepared(tmp_path / "ok", "ab" * 32, np.ones((28, 28))) is True
    assert photo_cache.load_prepared(tmp_path / "ok", "ab" * 32).sum() == 28 * 28


def test_without_cache_nothing_is_written(tmp_path, cache_dir):
    photo_preparation.prepare_photos([photo(tmp_path / "photos")], "premier_plan", cache=False)
    assert not cache_dir.exists()


def test_unreadable_photo_is_still_reported_in_french(tmp_path, cache_dir):
    bad = tmp_path / "abimee.jpg"
    bad.write_bytes(b"pas une image")
    images, ok, failures = photo_preparation.prepare_photos([bad, tmp_path / "absente.jpg"], "premier_plan")
    assert len(images) == 0 and [f.unreadable for f in failures] == [True, True]
    assert "abimee.jpg" in failures[0].message and "absente.jpg" in failures[1].message
