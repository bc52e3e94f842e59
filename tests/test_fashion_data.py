"""Tests de fashion_data : fichiers IDX -> CSV du labo -> DataFrame uint8, avec son cache."""
import gzip
import hashlib
import os
from pathlib import Path

import fashion_data
from conftest import local_http_server
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

REAL_IDX_DIR = Path(os.environ.get(fashion_data.IDX_DIR_ENV_VAR) or
                    Path(__file__).resolve().parents[2] / "shared/data/fashion-mnist")
HEADER = ",".join(fashion_data.CSV_COLUMNS)


# ------------------------------- outils ------------------------------------

def idx_bytes(array, magic=None, dims=None):
    """Octets IDX (non compressés) d'un tableau uint8."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = fashion_data.IDX_MAGIC_IMAGES if array.ndim == 3 else fashion_data.IDX_MAGIC_LABELS
    dims = array.shape if dims is None else dims
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + array.tobytes()


def write_gz(path, payload):
    path.write_bytes(gzip.compress(payload))
    return path


def small_idx_set(n=5, seed=0):
    """Contenu décompressé de 4 petits fichiers IDX (nom -> octets)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    return {
        fashion_data.TRAIN_IMAGES_FILE: idx_bytes(images),
        fashion_data.TRAIN_LABELS_FILE: idx_bytes(labels),
        fashion_data.TEST_IMAGES_FILE: idx_bytes(images[:3]),
        fashion_data.TEST_LABELS_FILE: idx_bytes(labels[:3]),
    }


def write_idx_set(directory, payloads=None):
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in (payloads or small_idx_set()).items():
        write_gz(directory / name, payload)
    return directory


def md5s_of(payloads):
    return {name: hashlib.md5(payload).hexdigest() for name, payload in payloads.items()}


def write_small_csv(path, rows, header=HEADER):
    """CSV texte : en-tête puis lignes (listes de valeurs converties en str)."""
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def valid_rows(n=3):
    return [[i % 10] + [(i * 7 + j) % 256 for j in range(fashion_data.N_PIXELS)] for i in range(n)]


def leftovers(directory):
    """Fichiers temporaires restés dans le dossier."""
    return [p.name for p in Path(directory).iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def real_idx_dir():
    missing = [n for n in fashion_data.IDX_FILE_NAMES if not (REAL_IDX_DIR / n).is_file()]
    if missing:
        pytest.skip(f"Fichiers IDX officiels absents de {REAL_IDX_DIR} ({', '.join(missing)}) ; "
                    f"définir {fashion_data.IDX_DIR_ENV_VAR} pour lancer ce test.")
    return REAL_IDX_DIR


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """Serveur HTTP local (127.0.0.1) servant un dossier ; renvoie (dossier, url de base)."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    served = tmp_path / "served"
    served.mkdir()

    with local_http_server(served) as url:
        yield served, url


def test_csv_creation_messages_show_no_absolute_path(tmp_path, monkeypatch, capsys):
    idx_dir = write_idx_set(tmp_path / "ailleurs" / "fashion-mnist")
    project = tmp_path / "projet"
    project.mkdir()
    monkeypatch.chdir(project)
    fashion_data.ensure_csv_files("datas", env={fashion_data.IDX_DIR_ENV_VAR: str(idx_dir)},
                                  debian_dir=tmp_path / "pas-de-debian", urls=(),
                                  md5s=md5s_of(small_idx_set()))
    out = capsys.readouterr().out
    assert "« fashion-mnist »" in out and "datas/" + fashion_data.TEST_CSV_NAME in out
    assert str(tmp_path) not in out


# ------------------------------ vrais fichiers ------------------------------

@pytest.mark.parametrize("images_name, labels_name, n", [
    (fashion_data.TEST_IMAGES_FILE, fashion_data.TEST_LABELS_FILE, 10_000),
    (fashion_data.TRAIN_IMAGES_FILE, fashion_data.TRAIN_LABELS_FILE, 60_000),
])
def test_read_idx_real_files(real_idx_dir, images_name, labels_name, n):
    images = fashion_data.read_idx(real_idx_dir / images_name)
    labels = fashion_data.read_idx(real_idx_dir / labels_name)
    assert images.shape == (n, 28, 28) and labels.shape == (n,)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    assert images.flags.writeable


def test_ensure_csv_files_builds_test_csv_equal_to_idx(real_idx_dir, tmp_path, capsys):
    data_dir = tmp_path / "datas"
    data_dir.mkdir()
    existing_train = data_dir / fashion_data.TRAIN_CSV_NAME
    existing_train.write_text("ne pas toucher\n")
    train_csv, test_csv = fashion_data.ensure_csv_files(
        data_dir, cache_dir=tmp_path / "cache", env={fashion_data.IDX_DIR_ENV_VAR: str(real_idx_dir)},
        debian_dir=tmp_path / "pas-de-debian", urls=())
    assert (train_csv, test_csv) == (existing_train, data_dir / fashion_data.TEST_CSV_NAME)
    assert existing_train.read_text() == "ne pas toucher\n"
    assert fashion_data.TEST_CSV_NAME in capsys.readouterr().out
    with open(test_csv) as f:
        assert f.readline() == HEADER + "\n"

    images = fashion_data.read_idx(real_idx_dir / fashion_data.TEST_IMAGES_FILE)
    labels = fashion_data.read_idx(real_idx_dir / fashion_data.TEST_LABELS_FILE)
    for use_cache in (False, True):
        df = fashion_data.load_csv(test_csv, use_cache=use_cache)
        assert list(df.columns) == list(fashion_data.CSV_COLUMNS)
        assert (df.dtypes == np.uint8).all()
        np.testing.assert_array_equal(np.array(df.iloc[:, 1:]), images.reshape(-1, 784))
        np.testing.assert_array_equal(df.iloc[:, 0].to_numpy(), labels)
    assert leftovers(data_dir) == []


def test_load_lab_data_builds_both_csv_from_real_files(real_idx_dir, tmp_path):
    train_df, test_df = fashion_data.load_lab_data(
        tmp_path, env={fashion_data.IDX_DIR_ENV_VAR: str(real_idx_dir)}, debian_dir=tmp_path / "x", urls=())
    assert train_df.shape == (60_000, 785) and test_df.shape == (10_000, 785)
    # train_df vient du cache écrit à partir des IDX ; on relit le CSV lui-même sans cache.
    parsed = fashion_data.load_csv(tmp_path / fashion_data.TRAIN_CSV_NAME, use_cache=False)
    np.testing.assert_array_equal(parsed.to_numpy(), train_df.to_numpy())
    labels = fashion_data.read_idx(real_idx_dir / fashion_data.TRAIN_LABELS_FILE)
    np.testing.assert_array_equal(parsed["label"].to_numpy(), labels)
    assert (parsed.dtypes == np.uint8).all()


# ------------------------------ IDX abîmés ---------------------------------

def test_read_idx_roundtrip_small(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    path = write_gz(tmp_path / "img.gz", idx_bytes(images))
    np.testing.assert_array_equal(fashion_data.read_idx(path), images)


def test_read_idx_truncated_gzip(tmp_path):
    full = gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8) + 7))
    path = tmp_path / fashion_data.TEST_IMAGES_FILE
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(fashion_data.DataError, match="tronquée ou corrompue") as info:
        fashion_data.read_idx(path)
    assert fashion_data.TEST_IMAGES_FILE in str(info.value) and "Supprimez" in str(info.value)


def test_read_idx_wrong_magic(tmp_path):
    path = write_gz(tmp_path / "x.gz", idx_bytes(np.zeros((2, 28, 28), np.uint8), magic=0x00000802))
    with pytest.raises(fashion_data.DataError, match="nombre magique IDX 0x00000802"):
        fashion_data.read_idx(path, expected_md5=None)


def test_read_idx_header_length_mismatch(tmp_path):
    payload = idx_bytes(np.zeros((4, 28, 28), np.uint8), dims=(5, 28, 28))
    path = write_gz(tmp_path / "x.gz", payload)
    with pytest.raises(fashion_data.DataError, match="taille incohérente"):
        fashion_data.read_idx(path, expected_md5=None)


def test_read_idx_bad_checksum(tmp_path):
    path = write_gz(tmp_path / "x.gz", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(fashion_data.DataError, match="MD5 incorrecte"):
        fashion_data.read_idx(path, expected_md5="0" * 32)


def test_read_idx_md5_looked_up_by_file_name(tmp_path):
    path = write_gz(tmp_path / fashion_data.TEST_LABELS_FILE, idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(fashion_data.DataError, match="MD5 incorrecte"):
        fashion_data.read_idx(path)
    assert fashion_data.read_idx(path, expected_md5=None).shape == (4,)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(fashion_data.DataError, match="introuvable"):
        fashion_data.read_idx(tmp_path / "absent.gz")


# ------------------------------ CSV abîmés ---------------------------------

def test_load_csv_small_valid(tmp_path):
    rows = valid_rows()
    df = fashion_data.load_csv(write_small_csv(tmp_path / "ok.csv", rows))
    assert (df.dtypes == np.uint8).all()
    np.testing.assert_array_equal(df.to_numpy(), np.array(rows))


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(fashion_data.DataError, match="introuvable"):
        fashion_data.load_csv(tmp_path / "absent.csv")


def test_load_csv_empty_file(tmp_path):
    (tmp_path / "vide.csv").write_text("")
    with pytest.raises(fashion_data.DataError, match="vide.csv est vide"):
        fashion_data.load_csv(tmp_path / "vide.csv")


def test_load_csv_header_only(tmp_path):
    with pytest.raises(fashion_data.DataError, match="aucune image"):
        fashion_data.load_csv(write_small_csv(tmp_path / "h.csv", []))


def test_load_csv_missing_column(tmp_path):
    header = ",".join(c for c in fashion_data.CSV_COLUMNS if c != "pixel5")
    rows = [row[:5] + row[6:] for row in valid_rows()]
    path = write_small_csv(tmp_path / "col.csv", rows, header=header)
    with pytest.raises(fashion_data.DataError, match=r"manquante\(s\) : pixel5\b") as info:
        fashion_data.load_csv(path)
    assert "col.csv" in str(info.value) and "supprimez" in str(info.value)


def test_load_csv_row_with_missing_value(tmp_path):
    rows = valid_rows()
    rows[1] = rows[1][:-1]
    with pytest.raises(fashion_data.DataError, match="ligne 3 a 784 valeurs"):
        fashion_data.load_csv(write_small_csv(tmp_path / "short.csv", rows))


def test_load_csv_pixel_300(tmp_path):
    rows = valid_rows()
    rows[2][10] = 300
    with pytest.raises(fashion_data.DataError) as info:
        fashion_data.load_csv(write_small_csv(tmp_path / "big.csv", rows))
    message = str(info.value)
    assert "0..255" in message and "maximum trouvé : 300" in message
    assert "ligne 4, colonne pixel10" in message


def test_load_csv_negative_pixel(tmp_path):
    rows = valid_rows()
    rows[0][1] = -3
    with pytest.raises(fashion_data.DataError, match="minimum trouvé : -3"):
        fashion_data.load_csv(write_small_csv(tmp_path / "neg.csv", rows))


def test_load_csv_empty_and_nan_cells(tmp_path):
    rows = valid_rows(4)
    rows[2][5] = ""
    rows[3][9] = "NaN"
    with pytest.raises(fashion_data.DataError,
                       match=r"2 cellule\(s\) vide\(s\) ou NaN, la première à la ligne 4"):
        fashion_data.load_csv(write_small_csv(tmp_path / "nan.csv", rows))


@pytest.mark.parametrize("bad", ["abc", "1.5", "99999999999"])
def test_load_csv_non_integer(tmp_path, bad):
    rows = valid_rows()
    rows[1][3] = bad
    with pytest.raises(fashion_data.DataError,
                       match=f"non entière ou trop grande '{bad}' à la ligne 3, colonne pixel3"):
        fashion_data.load_csv(write_small_csv(tmp_path / "txt.csv", rows))


def test_load_csv_label_10(tmp_path):
    rows = valid_rows()
    rows[1][0] = 10
    with pytest.raises(fashion_data.DataError,
                       match=r"étiquette\(s\) hors de l'intervalle 0..9.*ligne 3, colonne label"):
        fashion_data.load_csv(write_small_csv(tmp_path / "lab.csv", rows))


# ---------------------------- écriture atomique -----------------------------

def failing_writer(matrix, file):
    file.write(b"1,2,3\n")
    raise RuntimeError("panne simulée")


def test_write_csv_atomically_roundtrip(tmp_path):
    images = np.arange(3 * 784, dtype=np.int64).reshape(3, 28, 28) % 256
    labels = np.array([0, 9, 4])
    path = tmp_path / "out.csv"
    fashion_data.write_csv_atomically(images, labels, path)
    assert path.read_text().splitlines()[0] == HEADER
    df = fashion_data.load_csv(path, use_cache=False)
    np.testing.assert_array_equal(df.to_numpy()[:, 1:], images.reshape(3, -1))
    np.testing.assert_array_equal(df["label"].to_numpy(), labels)


def test_write_csv_failure_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_data, "_write_csv_rows", failing_writer)
    with pytest.raises(RuntimeError, match="panne simulée"):
        fashion_data.write_csv_atomically(np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8),
                                          tmp_path / "a.csv")
    assert list(tmp_path.iterdir()) == []


def test_write_csv_failure_keeps_previous_csv(tmp_path, monkeypatch):
    path = tmp_path / "a.csv"
    fashion_data.write_csv_atomically(np.ones((2, 28, 28), np.uint8), np.ones(2, np.uint8), path)
    before = path.read_bytes()
    monkeypatch.setattr(fashion_data, "_write_csv_rows", failing_writer)
    with pytest.raises(RuntimeError):
        fashion_data.write_csv_atomically(np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


# ------------------------- ordre de recherche des IDX -----------------------

def test_env_dir_wins_over_debian(tmp_path):
    env_dir = write_idx_set(tmp_path / "env")
    debian = write_idx_set(tmp_path / "debian")
    found = fashion_data.find_idx_dir(tmp_path / "cache", env={fashion_data.IDX_DIR_ENV_VAR: str(env_dir)},
                                      debian_dir=debian, urls=())
    assert found == env_dir


def test_debian_dir_used_without_env(tmp_path):
    debian = write_idx_set(tmp_path / "debian")
    assert fashion_data.find_idx_dir(tmp_path / "cache", env={}, debian_dir=debian, urls=()) == debian


def test_env_dir_empty_is_an_error(tmp_path):
    (tmp_path / "env").mkdir()
    debian = write_idx_set(tmp_path / "debian")
    expected = f"{fashion_data.IDX_DIR_ENV_VAR}=.*il manque.*{fashion_data.TRAIN_IMAGES_FILE}"
    with pytest.raises(fashion_data.DataError, match=expected):
        fashion_data.find_idx_dir(tmp_path / "cache",
                                  env={fashion_data.IDX_DIR_ENV_VAR: str(tmp_path / "env")},
                                  debian_dir=debian, urls=())


def test_env_dir_nonexistent_is_an_error(tmp_path):
    with pytest.raises(fashion_data.DataError, match="ne désigne pas un dossier existant"):
        fashion_data.find_idx_dir(tmp_path / "cache",
                                  env={fashion_data.IDX_DIR_ENV_VAR: str(tmp_path / "nope")},
                                  debian_dir=tmp_path / "debian", urls=())


def test_download_from_local_server(tmp_path, http_dir, capsys):
    served, base_url = http_dir
    payloads = small_idx_set()
    write_idx_set(served, payloads)
    cache = tmp_path / "cache"
    found = fashion_data.find_idx_dir(cache, env={}, debian_dir=tmp_path / "debian",
                                      urls=(base_url + "absent/", base_url), md5s=md5s_of(payloads))
    assert found == cache
    for name in fashion_data.IDX_FILE_NAMES:
        assert (cache / name).read_bytes() == (served / name).read_bytes()
    assert leftovers(cache) == []
    assert "Téléchargement" in capsys.readouterr().out
    # Dossier complet : plus aucun téléchargement nécessaire.
    assert fashion_data.find_idx_dir(cache, env={}, debian_dir=tmp_path / "debian", urls=()) == cache


def test_download_with_wrong_checksum_is_refused(tmp_path, http_dir):
    served, base_url = http_dir
    payloads = small_idx_set()
    write_idx_set(served, payloads)
    md5s = md5s_of(payloads)
    md5s[fashion_data.TRAIN_IMAGES_FILE] = "0" * 32
    cache = tmp_path / "cache"
    with pytest.raises(fashion_data.DataError) as info:
        fashion_data.find_idx_dir(cache, env={}, debian_dir=tmp_path / "debian", urls=(base_url,), md5s=md5s)
    message = str(info.value)
    assert "MD5 incorrecte" in message and base_url + fashion_data.TRAIN_IMAGES_FILE in message
    assert fashion_data.IDX_DIR_ENV_VAR in message and "apt-get install dataset-fashion-mnist" in message
    assert "réseau" in message
    assert not (cache / fashion_data.TRAIN_IMAGES_FILE).exists()
    assert leftovers(cache) == []


def test_ensure_csv_files_from_download(tmp_path, http_dir):
    served, base_url = http_dir
    payloads = small_idx_set()
    write_idx_set(served, payloads)
    train_csv, test_csv = fashion_data.ensure_csv_files(tmp_path / "datas", env={}, debian_dir=tmp_path / "d",
                                                        urls=(base_url,), md5s=md5s_of(payloads))
    assert (tmp_path / "datas" / fashion_data.TRAIN_IMAGES_FILE).is_file()  # cache_dir = data_dir par défaut
    assert fashion_data.load_csv(train_csv, use_cache=False).shape == (5, 785)
    assert fashion_data.load_csv(test_csv, use_cache=False).shape == (3, 785)


# ------------------------------- cache binaire ------------------------------

def test_cache_is_used_then_invalidated_when_csv_changes(tmp_path, monkeypatch):
    rows = valid_rows()
    path = write_small_csv(tmp_path / "c.csv", rows)
    first = fashion_data.load_csv(path)
    assert fashion_data._cache_path(path).is_file()

    def no_parse(_path):
        raise AssertionError("le CSV a été relu alors que le cache était valable")

    with monkeypatch.context() as m:
        m.setattr(fashion_data, "_read_validated_matrix", no_parse)
        np.testing.assert_array_equal(fashion_data.load_csv(path).to_numpy(), first.to_numpy())

    # Même taille, contenu et mtime différents : le cache doit être ignoré.
    old_mtime = path.stat().st_mtime_ns
    rows[0][0] = (rows[0][0] + 1) % 10
    write_small_csv(path, rows)
    os.utime(path, ns=(old_mtime + 10**9, old_mtime + 10**9))
    assert fashion_data.load_csv(path)["label"].iloc[0] == rows[0][0]

    # Taille différente.
    write_small_csv(path, valid_rows(5))
    assert len(fashion_data.load_csv(path)) == 5


def test_cache_is_not_fooled_by_an_edit_that_keeps_size_and_mtime(tmp_path):
    rows = valid_rows()
    path = write_small_csv(tmp_path / "c.csv", rows)
    fashion_data.load_csv(path)
    stat = path.stat()
    rows[1][0] = (rows[1][0] + 1) % 10                      # un chiffre pour un autre : même taille
    write_small_csv(path, rows)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # date de modification remise
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert fashion_data.load_csv(path)["label"].iloc[1] == rows[1][0]


def test_csv_folder_that_cannot_be_created_gives_a_french_data_error(tmp_path):
    blocker = tmp_path / "fichier"
    blocker.write_text("pas un dossier", encoding="utf-8")
    with pytest.raises(fashion_data.DataError, match="Impossible de créer le dossier des données .*DOSSIER_DONNEES"):
        fashion_data.ensure_csv_files(blocker / "datas")


def test_csv_that_cannot_be_written_gives_a_french_data_error(real_idx_dir, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fashion_data, "write_atomically", disk_full)
    with pytest.raises(fashion_data.DataError, match=r"Impossible d'écrire .*fashion-mnist_train\.csv.*place"):
        fashion_data.ensure_csv_files(tmp_path / "datas", env={fashion_data.IDX_DIR_ENV_VAR: str(real_idx_dir)})
    assert not list((tmp_path / "datas").glob("*.csv"))


def test_corrupt_cache_is_ignored(tmp_path):
    path = write_small_csv(tmp_path / "c.csv", valid_rows())
    fashion_data.load_csv(path)
    fashion_data._cache_path(path).write_bytes(b"PK\x03\x04 pas un zip")
    np.testing.assert_array_equal(fashion_data.load_csv(path).to_numpy(), np.array(valid_rows()))


def test_to_model_input_reshapes_and_scales_pixels():
    pixels = np.zeros((2, 784), dtype=np.uint8)
    pixels[0, 0], pixels[1, 783] = 255, 51
    images = fashion_data.to_model_input(pixels)
    assert images.shape == (2, 28, 28, 1) and images.dtype == np.float32
    assert images[0, 0, 0, 0] == 1.0 and images[1, 27, 27, 0] == pytest.approx(0.2)
    assert images.sum() == pytest.approx(1.2)


def test_lab_arrays_split_like_the_notebook():
    rng = np.random.default_rng(0)
    labels = np.arange(50) % 10
    train = pd.DataFrame(np.column_stack([labels, rng.integers(0, 256, (50, 784))]))
    test = pd.DataFrame(np.column_stack([labels[:7], rng.integers(0, 256, (7, 784))]))
    X_app, X_val, y_app, y_val, X_test, y_test = fashion_data.lab_arrays(train, test)
    assert X_app.shape == (40, 28, 28, 1) and X_val.shape == (10, 28, 28, 1) and X_test.shape == (7, 28, 28, 1)
    assert X_app.dtype == np.float32 and 0.0 <= X_app.min() and X_app.max() <= 1.0
    assert y_app.shape == (40, 10) and np.all(y_app.sum(axis=1) == 1)
    np.testing.assert_array_equal(y_test.argmax(axis=1), labels[:7])
    # le partage du carnet : train_test_split(..., test_size=0.2, random_state=13)
    kept, held = train_test_split(np.arange(50), test_size=0.2, random_state=13)
    np.testing.assert_array_equal(np.rint(X_app.reshape(40, -1) * 255), train.iloc[kept, 1:].to_numpy())
    np.testing.assert_array_equal(y_app.argmax(axis=1), labels[kept])
    np.testing.assert_array_equal(y_val.argmax(axis=1), labels[held])
    again = fashion_data.lab_arrays(train, test)
    np.testing.assert_array_equal(again[0], X_app)
    other = fashion_data.lab_arrays(train, test, seed=14)
    assert not np.array_equal(other[0], X_app)
