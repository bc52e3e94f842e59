"""Tests de photo_files : ouvrir n'importe quelle photo avec soin, lister, classer en dev / holdout."""
import csv
import struct
import zlib
from pathlib import Path

import numpy as np
import photo_files
import pytest
from conftest import block_image
from PIL import Image, ImageDraw

IMAGES_DIR = Path(__file__).resolve().parents[1] / "analyse_image" / "images"


# ---------------------------------------------------------------- outils de génération

def gray(path, **kw):
    """open_photo -> tableau numpy uint8."""
    image = photo_files.open_photo(path, **kw)
    assert image.mode == "L"
    return np.asarray(image)


def png_header_only(path, width, height):
    """Fichier PNG réduit à son en-tête (IHDR + IEND) annonçant width x height : rien à décoder."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def file_info(path):
    """(mode, nombre d'images) du fichier tel que Pillow le lit, fichier refermé."""
    with Image.open(path) as image:
        return image.mode, getattr(image, "n_frames", 1)


# ---------------------------------------------------------------- formats et modes particuliers

@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(tmp_path, fmt):
    upright = block_image((40, 80), box=(0, 0, 19, 29), fg=0)        # tache en haut à gauche
    stored = upright.transpose(Image.Transpose.ROTATE_90)              # tel que le capteur l'enregistre
    exif = Image.Exif()
    exif[0x0112] = 6                                                   # « tourner de 90° à droite »
    path = tmp_path / f"rotated.{fmt.lower()}"
    stored.save(path, format=fmt, exif=exif)
    arr = gray(path)
    assert arr.shape == (80, 40)                                       # portrait, comme à l'écran
    assert arr[:25, :15].mean() < 40                                   # tache en haut à gauche
    assert arr[40:, 25:].mean() > 215


def test_rgba_transparent_background_becomes_white(tmp_path):
    rgba = Image.new("RGBA", (50, 50), (0, 0, 0, 0))                   # fond transparent *noir*
    ImageDraw.Draw(rgba).rectangle((15, 15, 34, 34), fill=(60, 60, 60, 255))
    path = tmp_path / "detoure.png"
    rgba.save(path)
    arr = gray(path)
    assert arr[0, 0] == 255 and arr[-1, -1] == 255
    assert abs(int(arr[25, 25]) - 60) <= 2
    rgb = np.asarray(photo_files.convert_to_rgb(photo_files.open_photo_upright(path)))
    assert rgb.shape == (50, 50, 3)
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[25, 25].tolist() == [60, 60, 60]


def test_half_transparent_pixels_blend_with_white(tmp_path):
    path = tmp_path / "semi.png"
    Image.new("RGBA", (8, 8), (0, 0, 0, 128)).save(path)
    assert abs(int(gray(path)[4, 4]) - 127) <= 2


def test_la_transparent_background_becomes_white(tmp_path):
    la = Image.new("LA", (30, 30), (0, 0))
    ImageDraw.Draw(la).rectangle((10, 10, 19, 19), fill=(50, 255))
    path = tmp_path / "la.png"
    la.save(path)
    arr = gray(path)
    assert arr[0, 0] == 255 and abs(int(arr[15, 15]) - 50) <= 1


def test_palette_png_with_transparency(tmp_path):
    pal = Image.new("P", (30, 30), 0)
    pal.putpalette([0, 0, 0, 90, 90, 90] + [0, 0, 0] * 254)            # 0 : noir (transparent)
    ImageDraw.Draw(pal).rectangle((10, 10, 19, 19), fill=1)
    path = tmp_path / "palette.png"
    pal.save(path, transparency=0)
    assert file_info(path)[0] == "P"
    arr = gray(path)
    assert arr[0, 0] == 255
    assert abs(int(arr[15, 15]) - 90) <= 1


def test_palette_png_without_transparency(tmp_path):
    pal = Image.new("P", (10, 10), 1)
    pal.putpalette([255, 255, 255, 200, 0, 0] + [0, 0, 0] * 254)
    path = tmp_path / "palette_opaque.png"
    pal.save(path)
    expected = round(0.299 * 200)                                      # luminance du rouge
    assert abs(int(gray(path)[5, 5]) - expected) <= 1


def test_pa_mode_is_composited_on_white():
    pa = Image.new("PA", (4, 4), (1, 0))
    pa.putpalette([0, 0, 0, 100, 100, 100] + [0, 0, 0] * 254)
    pa.putpixel((2, 2), (1, 255))
    arr = np.asarray(photo_files.convert_to_gray(pa))
    assert arr[0, 0] == 255 and arr[2, 2] == 100


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (60, 60), (0, 0, 0, 0))                   # blanc
    ImageDraw.Draw(cmyk).rectangle((20, 20, 39, 39), fill=(0, 0, 0, 200))
    path = tmp_path / "cmyk.jpg"
    cmyk.save(path, quality=95)
    assert file_info(path)[0] == "CMYK"
    arr = gray(path)
    assert arr[:10, :10].mean() > 245
    assert abs(arr[25:35, 25:35].mean() - 55) < 10


def test_16bit_png_keeps_its_contrast(tmp_path):
    ramp = np.tile((np.arange(256, dtype=np.uint32) * 257).astype(np.uint16), (8, 1))  # 0..65535
    path = tmp_path / "16bits.png"
    Image.fromarray(ramp).save(path)
    assert file_info(path)[0].startswith("I")
    arr = gray(path)
    assert arr.min() == 0 and arr.max() == 255                        # pas tout blanc
    np.testing.assert_array_equal(arr[0], np.arange(256))              # même rendu qu'en 8 bits


def test_16bit_big_endian_and_32bit_modes():
    values = np.array([[0, 32896, 65535]])
    big = Image.fromarray(values.astype(">u2"))
    assert big.mode == "I;16B"
    np.testing.assert_array_equal(np.asarray(photo_files.convert_to_gray(big))[0], [0, 128, 255])
    as_i = Image.fromarray(values.astype(np.int32))
    assert as_i.mode == "I"
    np.testing.assert_array_equal(np.asarray(photo_files.convert_to_gray(as_i))[0], [0, 128, 255])
    small_i = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))   # 8 bits rangés dans 'I'
    np.testing.assert_array_equal(np.asarray(photo_files.convert_to_gray(small_i))[0], [0, 100, 255])


def test_float_tiff(tmp_path):
    ramp = np.tile(np.linspace(0.0, 1.0, 11, dtype=np.float32), (4, 1))
    path = tmp_path / "float.tif"
    Image.fromarray(ramp).save(path)
    assert file_info(path)[0] == "F"
    arr = gray(path)
    np.testing.assert_allclose(arr[0], np.linspace(0, 255, 11), atol=1)   # 0..1 -> 0..255


def test_float_odd_range_and_nan():
    data = np.array([[-1.0, 0.0, 1.0, np.nan]], dtype=np.float32)      # plage inconnue : min..max
    arr = np.asarray(photo_files.convert_to_gray(Image.fromarray(data)))
    np.testing.assert_array_equal(arr[0], [0, 128, 255, 255])


def test_one_bit_image(tmp_path):
    path = tmp_path / "bw.png"
    block_image((40, 40), fg=0, bg=1, mode="1").save(path)
    arr = gray(path)
    assert set(np.unique(arr)) == {0, 255}
    assert arr[0, 0] == 255 and arr[20, 20] == 0


def test_grayscale_and_rgb_jpeg(tmp_path):
    for mode in ("L", "RGB"):
        path = tmp_path / f"{mode}.jpg"
        block_image((40, 40), fg=50).convert(mode).save(path, quality=95)
        arr = gray(path)
        assert arr[0, 0] > 245 and abs(int(arr[20, 20]) - 50) <= 4


def test_animated_gif_uses_first_frame(tmp_path):
    first = block_image((40, 20), box=(0, 0, 19, 19), fg=0).convert("P")     # tache à gauche
    second = block_image((40, 20), box=(20, 0, 39, 19), fg=0).convert("P")   # tache à droite
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    assert file_info(path)[1] == 2
    arr = gray(path)
    assert arr[:, :20].mean() < 10 and arr[:, 20:].mean() > 245


# ---------------------------------------------------------------- fichiers absents, faux, abîmés, énormes

def test_missing_file(tmp_path):
    path = tmp_path / "absente.jpg"
    with pytest.raises(photo_files.PhotoError, match="introuvable") as info:
        photo_files.open_photo(path)
    assert "absente.jpg" in str(info.value)


def test_directory_instead_of_photo(tmp_path):
    with pytest.raises(photo_files.PhotoError, match="dossier"):
        photo_files.open_photo(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "vide.png"
    path.write_bytes(b"")
    with pytest.raises(photo_files.PhotoError, match="vide") as info:
        photo_files.open_photo(path)
    assert "vide.png" in str(info.value)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "pas_une_photo.jpg"
    path.write_text("ceci n'est pas une image\n" * 20, encoding="utf-8")
    with pytest.raises(photo_files.PhotoError, match="n'est pas une image") as info:
        photo_files.open_photo(path)
    assert "pas_une_photo.jpg" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(tmp_path, fmt):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8))
    path = tmp_path / f"coupee.{fmt.lower()}"
    noise.save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(photo_files.PhotoError) as info:
        photo_files.open_photo(path)
    message = str(info.value)
    assert path.name in message and ("tronquée" in message or "abîmée" in message)


def test_bomb_refused_from_header_before_decoding(tmp_path):
    # 8000 x 8000 = 64 millions de pixels annoncés, aucune donnée : décoder échouerait autrement.
    path = png_header_only(tmp_path / "bombe.png", 8000, 8000)
    with pytest.raises(photo_files.PhotoError, match="trop grande") as info:
        photo_files.open_photo(path)
    assert "bombe.png" in str(info.value)


def test_huge_header_refused_even_without_limit(tmp_path):
    path = png_header_only(tmp_path / "enorme.png", 100_000, 100_000)   # Pillow refuse lui-même
    with pytest.raises(photo_files.PhotoError, match="enorme.png"):
        photo_files.open_photo(path, max_pixels=None)


def test_max_pixels_limit_is_exact(tmp_path):
    path = tmp_path / "moyenne.png"
    Image.new("L", (100, 100), 255).save(path)
    assert photo_files.open_photo(path, max_pixels=10_000).size == (100, 100)
    with pytest.raises(photo_files.PhotoError, match="trop grande"):
        photo_files.open_photo(path, max_pixels=9_999)
    with pytest.raises(photo_files.PhotoError, match="trop grande"):
        photo_files.open_photo_upright(path, max_pixels=9_999)


# ---------------------------------------------------------------- dossiers de photos

def test_list_photos_filters_and_sorts(tmp_path):
    names = ["b.png", "A.JPG", "c.jpeg", "d.WebP", "e.bmp", "f.gif", "g.tif", "h.TIFF"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    for other in ["labels.csv", "CREDITS.md", "notes.txt", ".cachee.jpg", "._mac.png", "sans_ext"]:
        (tmp_path / other).write_bytes(b"x")
    (tmp_path / "dossier.jpg").mkdir()
    found = photo_files.list_photos(tmp_path)
    assert all(isinstance(p, Path) for p in found)
    assert [p.name for p in found] == ["A.JPG", "b.png", "c.jpeg", "d.WebP", "e.bmp", "f.gif",
                                       "g.tif", "h.TIFF"]


def test_list_photos_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="introuvable"):
        photo_files.list_photos(tmp_path / "nulle_part")


# ---------------------------------------------------------------- photos d'exemple livrées

def test_example_photos_and_labels():
    photos = photo_files.list_photos(IMAGES_DIR)
    assert len(photos) >= 9
    with open(IMAGES_DIR / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["fichier"] for r in rows] == sorted(r["fichier"] for r in rows)
    assert {r["fichier"] for r in rows} == {p.name for p in photos}
    classes = {int(r["classe"]) for r in rows}
    assert classes <= set(range(10)) and classes >= {0, 1, 2, 3, 4, 5, 6, 7, 9}
    credits = (IMAGES_DIR / "CREDITS.md").read_text(encoding="utf-8")
    for row in rows:
        assert row["fichier"] in credits and row["source"] in credits
    assert photo_files.read_expected_labels(IMAGES_DIR) == ({r["fichier"]: int(r["classe"]) for r in rows}, [])
    for photo in photos:
        assert photo_files.open_photo(photo).size[0] > 28             # toutes lisibles


def test_read_expected_labels(tmp_path):
    assert photo_files.read_expected_labels(tmp_path) == ({}, [])    # pas de labels.csv : rien d'attendu
    (tmp_path / "labels.csv").write_text("fichier,classe,source\nb.jpg,9,x\na.png,0,y\n", encoding="utf-8")
    labels, problems = photo_files.read_expected_labels(tmp_path)
    assert labels == {"a.png": 0, "b.jpg": 9} and problems == []
    assert all(type(value) is int for value in labels.values())


def test_read_expected_labels_as_excel_writes_them(tmp_path):
    """Séparateur « ; », classes en toutes lettres, BOM, fins de ligne Windows, lignes vides."""
    lines = ["fichier;classe", "pull_rouge.jpg;Pull", "", "botte.jpg; Bottes  de cheville ",
             '"top.png";T-shirt/top']
    (tmp_path / "labels.csv").write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    expected = {"pull_rouge.jpg": 2, "botte.jpg": 9, "top.png": 0}
    assert photo_files.read_expected_labels(tmp_path) == (expected, [])
    (tmp_path / "labels.csv").write_bytes("fichier;classe\nété.jpg;robe\n".encode("cp1252"))
    assert photo_files.read_expected_labels(tmp_path) == ({"été.jpg": 3}, [])


def test_read_expected_labels_reports_each_bad_line(tmp_path):
    lines = ["fichier,classe", "ok.jpg,pantalon", ",3", "sans_classe.jpg", "chaussette.jpg,chaussettes",
             "onze.jpg,10", "aussi_ok.jpg,8"]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    labels, problems = photo_files.read_expected_labels(tmp_path)
    assert labels == {"ok.jpg": 1, "aussi_ok.jpg": 8}
    assert len(problems) == 4
    for problem, number in zip(problems, (3, 4, 5, 6)):
        assert problem.startswith(f"labels.csv, ligne {number} : ")
    assert "nom de fichier vide" in problems[0]
    assert "pas de classe" in problems[1] and "sans_classe.jpg" in problems[1]
    assert "« chaussettes » inconnue" in problems[2] and "chaussette.jpg" in problems[2]
    assert "« 10 » inconnue" in problems[3]


def test_class_label_accepts_digits_and_every_class_name():
    import fashion_utils as fu
    assert [photo_files.class_label(str(i)) for i in range(10)] == list(range(10))
    assert photo_files.class_label(" 7 ") == 7
    for label in range(10):
        assert photo_files.class_label(fu.NOMS_COURTS[label]) == label
        assert photo_files.class_label(fu.CLASSES[label].upper()) == label
    for folder, label in photo_files.FOLDER_TO_LABEL.items():
        assert photo_files.class_label(folder) == label
    assert photo_files.class_label("Ankle   Boot") == 9                 # espaces en trop
    for unknown in ("10", "-1", "chaussettes", "", "pull rouge"):
        assert photo_files.class_label(unknown) is None, unknown


def test_display_thumbnail_keeps_16bit_contrast_and_exif_orientation(tmp_path):
    ramp = np.tile((np.arange(256, dtype=np.uint32) * 257).astype(np.uint16), (8, 1))
    path = tmp_path / "16bits.png"
    Image.fromarray(ramp).save(path)
    thumb = np.asarray(photo_files.thumbnail_for_display(path))
    assert thumb.ndim == 3 and thumb.shape[2] == 3
    assert thumb[..., 0].min() < 10 and thumb[..., 0].max() > 245
    wide = tmp_path / "large.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # à tourner de 90° : la photo affichée est en hauteur
    Image.new("RGB", (600, 300), "white").save(wide, exif=exif)
    width, height = photo_files.thumbnail_for_display(wide).size
    assert height > width and max(width, height) == 256


# ---------------------------------------------------------------- photos rangées par classe : dev / holdout

def test_split_is_a_stable_half_partition():
    names = [f"photo_{i:03d}.jpg" for i in range(41)]
    dev, holdout = photo_files.split_names(names, "dev"), photo_files.split_names(names, "holdout")
    assert len(dev) == 21 and len(holdout) == 20
    assert set(dev).isdisjoint(holdout) and set(dev) | set(holdout) == set(names)
    assert photo_files.split_names(list(reversed(names)), "dev") == dev   # indépendant de l'ordre
    assert sorted(photo_files.split_names(names, "all")) == names
    # Partage figé : SHA-256 ne dépend ni de la machine ni de PYTHONHASHSEED.
    six = [f"photo_{i:03d}.jpg" for i in range(6)]
    assert photo_files.split_names(six, "dev") == ["photo_001.jpg", "photo_004.jpg", "photo_005.jpg"]
    with pytest.raises(ValueError):
        photo_files.split_names(names, "test")


def test_split_key_is_sha256_of_the_name():
    assert photo_files.split_key("a.jpg") == 5808250739824772026      # 8 premiers octets de sha256("a.jpg")


def test_collect_photos_reads_class_folders_and_warns(tmp_path):
    for folder, n in (("Trouser", 3), ("Ankle_boot", 2), ("Chaussettes", 1)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            Image.new("L", (8, 8), 200).save(tmp_path / folder / f"{i}.png")
    Image.new("L", (8, 8), 200).save(tmp_path / "perdue.png")
    entries, warnings = photo_files.collect_photos(tmp_path, "all")
    assert sorted(label for _, label in entries) == [1, 1, 1, 9, 9]
    assert any("Chaussettes" in w for w in warnings) and any("perdue.png" in w for w in warnings)
    dev, _ = photo_files.collect_photos(tmp_path, "dev")
    holdout, _ = photo_files.collect_photos(tmp_path, "holdout")
    assert len(dev) == 3 and len(holdout) == 2        # 2 + 1 Trouser, 1 + 1 Ankle_boot
    assert {p for p, _ in dev}.isdisjoint({p for p, _ in holdout})


def test_photos_for_fine_tuning_keeps_dev_only_and_leaves_out_the_examples(tmp_path):
    photos = tmp_path / "photos"
    for folder, n in (("Trouser", 4), ("Coat", 3)):
        (photos / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (8, 8), 10 * i + (100 if folder == "Coat" else 0)).save(photos / folder / f"{i}.png")
    dev, _ = photo_files.collect_photos(photos, "dev")
    holdout, _ = photo_files.collect_photos(photos, "holdout")
    examples = tmp_path / "images"
    examples.mkdir()
    example = dev[0][0]                                    # même contenu, autre nom : écartée quand même
    (examples / "exemple.png").write_bytes(example.read_bytes())
    (examples / "autre.png").write_bytes(holdout[0][0].read_bytes())   # pas dans dev : rien à écarter
    kept, n_left_out = photo_files.photos_for_fine_tuning(photos, "dev", keep_out_folder=examples)
    assert n_left_out == 1
    assert kept == [entry for entry in dev if entry[0] != example]
    assert {p for p, _ in kept}.isdisjoint({p for p, _ in holdout})  # jamais une photo de holdout
    assert photo_files.photos_for_fine_tuning(photos, "dev", keep_out_folder=tmp_path / "absent") == (dev, 0)
