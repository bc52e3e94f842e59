"""Tests de l'ouverture robuste des photos et du prétraitement du TP (images générées à la volée)."""

import csv
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

import fashion_utils as fu

IMAGES_DIR = Path(__file__).resolve().parents[1] / "analyse_image" / "images"


# ---------------------------------------------------------------- outils de génération

def block_image(size=(60, 40), box=None, fg=40, bg=255, mode="L"):
    """Image unie bg avec un rectangle fg (par défaut au centre, la moitié de chaque côté)."""
    width, height = size
    if box is None:
        box = (width // 4, height // 4, width - width // 4 - 1, height - height // 4 - 1)
    image = Image.new(mode, size, bg)
    ImageDraw.Draw(image).rectangle(box, fill=fg)
    return image


def gray(path, **kw):
    """open_photo -> tableau numpy uint8."""
    image = fu.open_photo(path, **kw)
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


def center_of_mass(array2d):
    rows, cols = np.indices(array2d.shape)
    total = array2d.sum()
    return (rows * array2d).sum() / total, (cols * array2d).sum() / total


# ---------------------------------------------------------------- prétraitement du TP

def test_output_shape_dtype_and_range(tmp_path):
    path = tmp_path / "photo.jpg"
    block_image((90, 120)).convert("RGB").save(path)
    out = fu.load_and_preprocess_image(path)
    assert out.shape == (1, 28, 28, 1)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.max() > 0.5                                   # l'objet est bien là


def test_other_target_and_content_sizes(tmp_path):
    path = tmp_path / "photo.png"
    block_image((90, 120)).save(path)
    out = fu.load_and_preprocess_image(str(path), target_size=32, content_size=24)
    assert out.shape == (1, 32, 32, 1)


def test_polarity_and_centring(tmp_path):
    path = tmp_path / "rect.png"
    block_image((100, 60), box=(20, 10, 79, 49), fg=30).save(path)   # rectangle sombre centré
    img = fu.load_and_preprocess_image(path)[0, :, :, 0]
    assert img[14, 14] > 0.8                                 # objet sombre -> clair
    assert img[8:20, 4:6].max() < 0.05                        # fond de la photo (bord gauche) -> noir
    for border in (img[0, :], img[-1, :], img[:, 0], img[:, -1], img[:3, :].ravel()):
        assert np.abs(border).max() < 0.02                   # fond blanc -> noir
    row, col = center_of_mass(img)
    assert abs(row - 13.5) <= 1.0 and abs(col - 13.5) <= 1.0


@pytest.mark.parametrize("content_size", [20, 14])
def test_content_size_is_longest_side(tmp_path, content_size):
    path = tmp_path / "wide.png"
    block_image((200, 100), box=(0, 25, 199, 74), fg=0).save(path)   # objet sur toute la largeur
    img = fu.load_and_preprocess_image(path, content_size=content_size)[0, :, :, 0]
    cols = np.flatnonzero(img.max(axis=0) > 0.5)
    rows = np.flatnonzero(img.max(axis=1) > 0.5)
    assert abs(len(cols) - content_size) <= 1
    assert abs(len(rows) - content_size / 4) <= 1            # proportions gardées (50/200)


def test_invalid_content_size_is_refused(tmp_path):
    path = tmp_path / "photo.png"
    block_image().save(path)
    with pytest.raises(ValueError, match="content_size"):
        fu.load_and_preprocess_image(path, content_size=40)


def test_resize_with_aspect_ratio_sizes():
    assert fu.resize_with_aspect_ratio(Image.new("L", (100, 50)), 20).size == (20, 10)
    assert fu.resize_with_aspect_ratio(Image.new("L", (50, 100)), 20).size == (10, 20)
    assert fu.resize_with_aspect_ratio(Image.new("L", (40, 40)), 20).size == (20, 20)
    assert fu.resize_with_aspect_ratio(Image.new("L", (1, 1000)), 20).size == (1, 20)
    assert fu.resize_with_aspect_ratio(Image.new("L", (1000, 1)), 20).size == (20, 1)
    photo = block_image((90, 60), fg=30)                     # même calcul que le code du TP
    expected = photo.resize((20, 13), Image.Resampling.LANCZOS).filter(ImageFilter.SHARPEN)
    np.testing.assert_array_equal(np.asarray(fu.resize_with_aspect_ratio(photo, 20)),
                                  np.asarray(expected))


def test_create_centered_image_position():
    canvas = fu.create_centered_image(Image.new("L", (10, 4), 0), 28)
    assert canvas.mode == "L" and canvas.size == (28, 28)
    arr = np.asarray(canvas)
    ys, xs = np.nonzero(arr == 0)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 15, 9, 18)
    assert (arr[arr != 0] == 255).all()


def test_normalize_pixels_inverts():
    image = Image.fromarray(np.array([[0, 255], [51, 204]], dtype=np.uint8))
    out = fu.normalize_pixels(image)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.8, 0.2]], atol=1e-6)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 40), (40, 3), (1, 300)])
@pytest.mark.parametrize("value", [0, 255])
def test_tiny_images_go_through(tmp_path, size, value):
    path = tmp_path / "tiny.png"
    Image.new("L", size, value).save(path)
    out = fu.load_and_preprocess_image(path)
    assert out.shape == (1, 28, 28, 1) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    if value == 0:
        assert out.max() > 0.9                              # le point noir est toujours visible
    else:
        assert out.max() < 0.02


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
    img = fu.load_and_preprocess_image(path)[0, :, :, 0]               # photo collée en 4..23
    photo_background = img[4:24, 4:24].copy()
    photo_background[6:22, 6:22] = 0                                   # hors de l'objet
    assert photo_background.max() < 0.05                               # fond -> noir après inversion
    assert img[14, 14] > 0.6


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
    arr = np.asarray(fu.convert_to_gray(pa))
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
    np.testing.assert_array_equal(np.asarray(fu.convert_to_gray(big))[0], [0, 128, 255])
    as_i = Image.fromarray(values.astype(np.int32))
    assert as_i.mode == "I"
    np.testing.assert_array_equal(np.asarray(fu.convert_to_gray(as_i))[0], [0, 128, 255])
    small_i = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))   # 8 bits rangés dans 'I'
    np.testing.assert_array_equal(np.asarray(fu.convert_to_gray(small_i))[0], [0, 100, 255])


def test_float_tiff(tmp_path):
    ramp = np.tile(np.linspace(0.0, 1.0, 11, dtype=np.float32), (4, 1))
    path = tmp_path / "float.tif"
    Image.fromarray(ramp).save(path)
    assert file_info(path)[0] == "F"
    arr = gray(path)
    np.testing.assert_allclose(arr[0], np.linspace(0, 255, 11), atol=1)   # 0..1 -> 0..255


def test_float_odd_range_and_nan():
    data = np.array([[-1.0, 0.0, 1.0, np.nan]], dtype=np.float32)      # plage inconnue : min..max
    arr = np.asarray(fu.convert_to_gray(Image.fromarray(data)))
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
    with pytest.raises(fu.PhotoError, match="introuvable") as info:
        fu.open_photo(path)
    assert "absente.jpg" in str(info.value)


def test_directory_instead_of_photo(tmp_path):
    with pytest.raises(fu.PhotoError, match="dossier"):
        fu.open_photo(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "vide.png"
    path.write_bytes(b"")
    with pytest.raises(fu.PhotoError, match="vide") as info:
        fu.open_photo(path)
    assert "vide.png" in str(info.value)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "pas_une_photo.jpg"
    path.write_text("ceci n'est pas une image\n" * 20, encoding="utf-8")
    with pytest.raises(fu.PhotoError, match="n'est pas une image") as info:
        fu.open_photo(path)
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
    with pytest.raises(fu.PhotoError) as info:
        fu.open_photo(path)
    message = str(info.value)
    assert path.name in message and ("tronquée" in message or "abîmée" in message)


def test_bomb_refused_from_header_before_decoding(tmp_path):
    # 8000 x 8000 = 64 millions de pixels annoncés, aucune donnée : décoder échouerait autrement.
    path = png_header_only(tmp_path / "bombe.png", 8000, 8000)
    with pytest.raises(fu.PhotoError, match="trop grande") as info:
        fu.open_photo(path)
    assert "bombe.png" in str(info.value)


def test_huge_header_refused_even_without_limit(tmp_path):
    path = png_header_only(tmp_path / "enorme.png", 100_000, 100_000)   # Pillow refuse lui-même
    with pytest.raises(fu.PhotoError, match="enorme.png"):
        fu.open_photo(path, max_pixels=None)


def test_max_pixels_limit_is_exact(tmp_path):
    path = tmp_path / "moyenne.png"
    Image.new("L", (100, 100), 255).save(path)
    assert fu.open_photo(path, max_pixels=10_000).size == (100, 100)
    with pytest.raises(fu.PhotoError, match="trop grande"):
        fu.open_photo(path, max_pixels=9_999)
    with pytest.raises(fu.PhotoError, match="trop grande"):
        fu.load_and_preprocess_image(path, max_pixels=9_999)


# ---------------------------------------------------------------- lots et dossiers

def test_list_photos_filters_and_sorts(tmp_path):
    names = ["b.png", "A.JPG", "c.jpeg", "d.WebP", "e.bmp", "f.gif", "g.tif", "h.TIFF"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    for other in ["labels.csv", "CREDITS.md", "notes.txt", ".cachee.jpg", "._mac.png", "sans_ext"]:
        (tmp_path / other).write_bytes(b"x")
    (tmp_path / "dossier.jpg").mkdir()
    found = fu.list_photos(tmp_path)
    assert all(isinstance(p, Path) for p in found)
    assert [p.name for p in found] == ["A.JPG", "b.png", "c.jpeg", "d.WebP", "e.bmp", "f.gif",
                                       "g.tif", "h.TIFF"]


def test_list_photos_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="introuvable"):
        fu.list_photos(tmp_path / "nulle_part")


def test_preprocess_photos_skips_broken_file(tmp_path):
    good = []
    for i, size in enumerate([(60, 40), (40, 60), (30, 30)]):
        path = tmp_path / f"bonne_{i}.png"
        block_image(size).save(path)
        good.append(path)
    broken = tmp_path / "cassee.jpg"
    broken.write_text("pas une image", encoding="utf-8")
    paths = [good[0], broken, str(good[1]), good[2]]
    batch, ok_paths, errors = fu.preprocess_photos(paths)
    assert batch.shape == (3, 28, 28, 1) and batch.dtype == np.float32
    assert ok_paths == good
    assert len(errors) == 1
    bad_path, message = errors[0]
    assert bad_path == broken and "cassee.jpg" in message
    np.testing.assert_array_equal(batch[1], fu.load_and_preprocess_image(good[1])[0])


def test_preprocess_photos_folder_and_options(tmp_path):
    block_image().save(tmp_path / "une.png")
    (tmp_path / "labels.csv").write_text("fichier,classe\n", encoding="utf-8")
    batch, ok_paths, errors = fu.preprocess_photos(tmp_path, target_size=32, content_size=24)
    assert batch.shape == (1, 32, 32, 1) and errors == []
    assert [p.name for p in ok_paths] == ["une.png"]


def test_preprocess_photos_empty_list():
    batch, ok_paths, errors = fu.preprocess_photos([])
    assert batch.shape == (0, 28, 28, 1) and batch.dtype == np.float32
    assert ok_paths == [] and errors == []


# ---------------------------------------------------------------- photos d'exemple livrées

def test_example_photos_and_labels():
    photos = fu.list_photos(IMAGES_DIR)
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
    batch, ok_paths, errors = fu.preprocess_photos(photos)
    assert errors == [] and batch.shape == (len(photos), 28, 28, 1)


def test_display_thumbnail_keeps_16bit_contrast_and_exif_orientation(tmp_path):
    ramp = np.tile((np.arange(256, dtype=np.uint32) * 257).astype(np.uint16), (8, 1))
    path = tmp_path / "16bits.png"
    Image.fromarray(ramp).save(path)
    thumb = np.asarray(fu.thumbnail_for_display(path))
    assert thumb.ndim == 3 and thumb.shape[2] == 3
    assert thumb[..., 0].min() < 10 and thumb[..., 0].max() > 245
    wide = tmp_path / "large.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # à tourner de 90° : la photo affichée est en hauteur
    Image.new("RGB", (600, 300), "white").save(wide, exif=exif)
    width, height = fu.thumbnail_for_display(wide).size
    assert height > width and max(width, height) == 256
