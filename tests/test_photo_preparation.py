"""Tests de photo_preparation : d'une photo à l'image 28 × 28 du modèle (photos générées à la volée)."""
from pathlib import Path

import fashion_data
import numpy as np
import photo_files
import photo_preparation
import pytest
from conftest import block_image
from photo_preparation import PhotoFailure
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage as ndi

IMAGES_DIR = Path(__file__).resolve().parents[1] / "analyse_image" / "images"
CENTRE = (fashion_data.IMAGE_SIZE - 1) / 2.0


# ---------------------------------------------------------------- photos générées

def center_of_mass(array2d):
    rows, cols = np.indices(array2d.shape)
    total = array2d.sum()
    return (rows * array2d).sum() / total, (cols * array2d).sum() / total


def tshirt_polygon(width, height, box):
    """Sommets d'un T-shirt (manches courtes) inscrit dans box = (gauche, haut, droite, bas)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    points = [(0.35, 0.0), (0.65, 0.0), (1.0, 0.15), (0.9, 0.4), (0.78, 0.33), (0.78, 1.0),
              (0.22, 1.0), (0.22, 0.33), (0.1, 0.4), (0.0, 0.15)]
    return [(left + x * w, top + y * h) for x, y in points]


def garment_mask(size, box):
    """Masque booléen (hauteur, largeur) du T-shirt dessiné dans box."""
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(tshirt_polygon(*size, box), fill=255)
    return np.asarray(mask) > 127


def noisy_tshirt_photo(path, size=(300, 400), box=(60, 90, 240, 330), fg=(40, 40, 60),
                       bg=(215, 210, 200), noise=12, seed=0, quality=80):
    """T-shirt foncé sur fond clair bruité, enregistré en JPEG ; renvoie (chemin, masque vrai)."""
    rng = np.random.default_rng(seed)
    width, height = size
    mask = garment_mask(size, box)
    pixels = np.where(mask[..., None], np.array(fg, float), np.array(bg, float))
    pixels = pixels + rng.normal(0, noise, pixels.shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=quality)
    return path, mask


def cluttered_photo(path, size=(300, 400), box=(70, 100, 230, 320), fg=(30, 60, 160), seed=1):
    """T-shirt bleu uni sur un fond « parquet » texturé (lames beiges/brunes) avec des taches."""
    rng = np.random.default_rng(seed)
    width, height = size
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    planks = ((cols // 37) % 2).astype(float)
    grain = 12 * np.sin(rows / 3.0 + cols / 40.0) + rng.normal(0, 8, (height, width))
    base = np.stack([170 + 25 * planks + grain, 130 + 20 * planks + grain, 90 + 15 * planks + grain], -1)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for x, y in [(10, 10), (250, 20), (15, 350), (260, 360)]:          # objets dans les coins
        draw.ellipse((x, y, x + 30, y + 25), fill=(120, 90, 60))
    mask = garment_mask(size, box)
    pixels = np.asarray(image).astype(float)
    garment = np.array(fg, float) + rng.normal(0, 6, pixels.shape)
    pixels = np.where(mask[..., None], garment, pixels)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path, mask


def item_box(image28, level=0.05):
    """(hauteur, largeur) de la boîte des pixels > level."""
    rows = np.flatnonzero((image28 > level).any(axis=1))
    cols = np.flatnonzero((image28 > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def border_values(image28, width=1):
    """Pixels de la bande du bord de l'image 28 x 28."""
    mask = np.zeros(image28.shape, dtype=bool)
    mask[:width], mask[-width:], mask[:, :width], mask[:, -width:] = True, True, True, True
    return image28[mask]


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


# ---------------------------------------------------------------- préparation du labo (4 fonctions)

def test_output_shape_dtype_and_range(tmp_path):
    path = tmp_path / "photo.jpg"
    block_image((90, 120)).convert("RGB").save(path)
    out = photo_preparation.load_and_preprocess_image(path)
    assert out.shape == (1, 28, 28, 1)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.max() > 0.5                                   # l'objet est bien là


def test_other_target_and_content_sizes(tmp_path):
    path = tmp_path / "photo.png"
    block_image((90, 120)).save(path)
    out = photo_preparation.load_and_preprocess_image(str(path), target_size=32, content_size=24)
    assert out.shape == (1, 32, 32, 1)


def test_polarity_and_centring(tmp_path):
    path = tmp_path / "rect.png"
    block_image((100, 60), box=(20, 10, 79, 49), fg=30).save(path)   # rectangle sombre centré
    img = photo_preparation.load_and_preprocess_image(path)[0, :, :, 0]
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
    img = photo_preparation.load_and_preprocess_image(path, content_size=content_size)[0, :, :, 0]
    cols = np.flatnonzero(img.max(axis=0) > 0.5)
    rows = np.flatnonzero(img.max(axis=1) > 0.5)
    assert abs(len(cols) - content_size) <= 1
    assert abs(len(rows) - content_size / 4) <= 1            # proportions gardées (50/200)


def test_invalid_content_size_is_refused(tmp_path):
    path = tmp_path / "photo.png"
    block_image().save(path)
    with pytest.raises(ValueError, match="content_size"):
        photo_preparation.load_and_preprocess_image(path, content_size=40)


def test_resize_with_aspect_ratio_sizes():
    assert photo_preparation.resize_with_aspect_ratio(Image.new("L", (100, 50)), 20).size == (20, 10)
    assert photo_preparation.resize_with_aspect_ratio(Image.new("L", (50, 100)), 20).size == (10, 20)
    assert photo_preparation.resize_with_aspect_ratio(Image.new("L", (40, 40)), 20).size == (20, 20)
    assert photo_preparation.resize_with_aspect_ratio(Image.new("L", (1, 1000)), 20).size == (1, 20)
    assert photo_preparation.resize_with_aspect_ratio(Image.new("L", (1000, 1)), 20).size == (20, 1)
    photo = block_image((90, 60), fg=30)                     # même calcul que le code du TP
    expected = photo.resize((20, 13), Image.Resampling.LANCZOS).filter(ImageFilter.SHARPEN)
    np.testing.assert_array_equal(np.asarray(photo_preparation.resize_with_aspect_ratio(photo, 20)),
                                  np.asarray(expected))


def test_create_centered_image_position():
    canvas = photo_preparation.create_centered_image(Image.new("L", (10, 4), 0), 28)
    assert canvas.mode == "L" and canvas.size == (28, 28)
    arr = np.asarray(canvas)
    ys, xs = np.nonzero(arr == 0)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 15, 9, 18)
    assert (arr[arr != 0] == 255).all()


def test_normalize_pixels_inverts():
    image = Image.fromarray(np.array([[0, 255], [51, 204]], dtype=np.uint8))
    out = photo_preparation.normalize_pixels(image)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.8, 0.2]], atol=1e-6)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 40), (40, 3), (1, 300)])
@pytest.mark.parametrize("value", [0, 255])
def test_tiny_images_go_through(tmp_path, size, value):
    path = tmp_path / "tiny.png"
    Image.new("L", size, value).save(path)
    out = photo_preparation.load_and_preprocess_image(path)
    assert out.shape == (1, 28, 28, 1) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    if value == 0:
        assert out.max() > 0.9                              # le point noir est toujours visible
    else:
        assert out.max() < 0.02


def test_transparent_background_becomes_black(tmp_path):
    rgba = Image.new("RGBA", (50, 50), (0, 0, 0, 0))                   # fond transparent *noir*
    ImageDraw.Draw(rgba).rectangle((15, 15, 34, 34), fill=(60, 60, 60, 255))
    path = tmp_path / "detoure.png"
    rgba.save(path)
    img = photo_preparation.load_and_preprocess_image(path)[0, :, :, 0]               # photo collée en 4..23
    photo_background = img[4:24, 4:24].copy()
    photo_background[6:22, 6:22] = 0                                   # hors de l'objet
    assert photo_background.max() < 0.05                               # fond -> noir après inversion
    assert img[14, 14] > 0.6


def test_lab_preparation_refuses_too_large_and_unreadable_photos(tmp_path):
    path = tmp_path / "moyenne.png"
    Image.new("L", (100, 100), 255).save(path)
    assert photo_preparation.load_and_preprocess_image(path, max_pixels=10_000).shape == (1, 28, 28, 1)
    with pytest.raises(photo_files.PhotoError, match="trop grande"):
        photo_preparation.load_and_preprocess_image(path, max_pixels=9_999)
    broken = tmp_path / "cassee.jpg"
    broken.write_text("pas une image", encoding="utf-8")
    with pytest.raises(photo_files.PhotoError, match="cassee.jpg"):
        photo_preparation.load_and_preprocess_image(broken)


# ---------------------------------------------------------------- rognage (recette Xiao)

def test_trim_box_tolerates_jpeg_noise(tmp_path):
    path, mask = noisy_tshirt_photo(tmp_path / "t.jpg")
    gray = np.asarray(photo_files.open_photo(path))
    left, top, right, bottom = photo_preparation.trim_box(gray, tolerance=0.1)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert abs(left - cols[0]) <= 3 and abs(right - 1 - cols[-1]) <= 3
    assert abs(top - rows[0]) <= 3 and abs(bottom - 1 - rows[-1]) <= 3


def test_trim_box_with_too_small_tolerance_keeps_noise():
    """Sans filtre ni seuil suffisants, le bruit ne doit pas être pris pour du contenu : ici si."""
    rng = np.random.default_rng(0)
    gray = np.clip(200 + rng.normal(0, 30, (100, 80)), 0, 255).astype(np.uint8)
    assert photo_preparation.trim_box(gray, tolerance=0.01) == (0, 0, 80, 100)


def test_trim_box_ignores_isolated_noise_pixels():
    rng = np.random.default_rng(2)
    gray = np.full((120, 100), 230, np.uint8)
    gray[rng.random(gray.shape) < 0.05] = 0              # 5 % de pixels isolés (poussière, bruit)
    gray[40:80, 30:60] = 20
    assert photo_preparation.trim_box(gray, tolerance=0.1) == (30, 40, 60, 80)


def test_trim_box_uniform_image_is_not_trimmed():
    assert photo_preparation.trim_box(np.full((50, 40), 128, np.uint8)) == (0, 0, 40, 50)


def test_trim_box_nothing_to_trim_when_content_touches_every_edge():
    gray = np.full((60, 50), 230, np.uint8)
    gray[5:-5, :] = 30                                   # bande horizontale pleine largeur
    gray[:, 5:-5] = 30                                   # bande verticale pleine hauteur
    assert photo_preparation.trim_box(gray, tolerance=0.1) == (0, 0, 50, 60)


def test_trim_box_offset_item():
    gray = np.full((100, 100), 240, np.uint8)
    gray[10:30, 50:90] = 20
    assert photo_preparation.trim_box(gray, tolerance=0.1) == (50, 10, 90, 30)


def test_like_fashion_mnist_output(tmp_path):
    path, _ = noisy_tshirt_photo(tmp_path / "t.jpg")
    image = photo_preparation.prepare_like_fashion_mnist(path)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    background = 1 - (215 * 0.299 + 210 * 0.587 + 200 * 0.114) / 255   # fond inversé ≈ 0.17
    assert abs(np.median(border_values(image)) - background) < 0.04
    assert image[8:20, 10:18].mean() > 0.6               # T-shirt foncé -> clair
    height, width = item_box(image, level=0.5)
    assert max(height, width) >= 27                      # plus grand côté ramené à 28


def test_like_fashion_mnist_uniform_photo(tmp_path):
    path = tmp_path / "vide.png"
    Image.new("L", (64, 48), 255).save(path)
    image = photo_preparation.prepare_like_fashion_mnist(path)
    assert image.shape == (28, 28)
    assert image.max() == 0.0                            # rien à rogner, fond blanc -> noir


# ---------------------------------------------------------------- premier plan

@pytest.mark.parametrize("make_photo, min_iou", [(noisy_tshirt_photo, 0.85), (cluttered_photo, 0.8)],
                         ids=["fond-clair-bruite", "fond-encombre"])
def test_foreground_mask_finds_the_garment(tmp_path, make_photo, min_iou):
    path, truth = make_photo(tmp_path / "photo.jpg")
    rgb = photo_files.convert_to_rgb(photo_files.open_photo_upright(path))
    mask, small = photo_preparation.foreground_mask(rgb)
    truth_small = np.asarray(Image.fromarray(truth).resize(small.size, Image.Resampling.NEAREST))
    assert iou(mask, truth_small) > min_iou


def test_foreground_background_is_black_item_bright_and_centred(tmp_path):
    path, _ = cluttered_photo(tmp_path / "c.jpg")
    image = photo_preparation.prepare_foreground(path, content_size=20)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert border_values(image, width=3).max() == 0.0   # fond mis à 0
    assert image[image > 0].mean() > 0.4                 # vêtement clair
    cy, cx = ndi.center_of_mass(image)
    assert abs(cy - CENTRE) <= 1.5 and abs(cx - CENTRE) <= 1.5
    assert max(item_box(image, level=0.0)) in (19, 20, 21)


def test_foreground_centres_by_mass_not_by_box(tmp_path):
    """Robe trapèze (haut étroit, bas large) : centre de masse plus bas que le centre de la boîte."""
    path = tmp_path / "robe.png"
    image = Image.new("RGB", (300, 400), (220, 215, 205))
    ImageDraw.Draw(image).polygon([(130, 60), (170, 60), (260, 340), (40, 340)], fill=(120, 20, 30))
    image.save(path)
    out = photo_preparation.prepare_foreground(path, content_size=20)
    cy, cx = ndi.center_of_mass(out)
    assert abs(cy - CENTRE) <= 1.5 and abs(cx - CENTRE) <= 1.5
    rows = np.flatnonzero(out.any(axis=1))
    assert (rows[0] + rows[-1]) / 2 < CENTRE - 1.5       # la boîte est donc remontée


def test_foreground_background_inside_the_box_is_zero(tmp_path):
    path = tmp_path / "robe.png"
    image = Image.new("RGB", (300, 400), (220, 215, 205))
    ImageDraw.Draw(image).polygon([(130, 60), (170, 60), (260, 340), (40, 340)], fill=(120, 20, 30))
    image.save(path)
    out = photo_preparation.prepare_foreground(path, content_size=20)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    box = out[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    assert box[0, 0] == 0.0 and box[0, -1] == 0.0        # coins hauts du trapèze : du fond
    assert 0.3 < (box == 0).mean() < 0.6                 # trapèze : environ 40 % de fond dans sa boîte


@pytest.mark.parametrize("content_size", [28, 24, 16])
def test_foreground_longest_side_is_the_content_size(tmp_path, content_size):
    path, _ = noisy_tshirt_photo(tmp_path / "t.jpg", size=(400, 300), box=(40, 60, 360, 250))
    image = photo_preparation.prepare_foreground(path, content_size=content_size)
    height, width = item_box(image, level=0.0)
    assert width > height                                # T-shirt couché : plus large que haut
    assert width in (content_size - 1, content_size)


def test_foreground_light_garment_on_dark_background_stays_visible(tmp_path):
    path, truth = noisy_tshirt_photo(tmp_path / "t.jpg", fg=(235, 235, 235), bg=(60, 50, 45))
    image = photo_preparation.prepare_foreground(path, floor=0.2, content_size=22)
    assert border_values(image, width=2).max() == 0.0
    inside = image > 0
    assert 0.25 < inside.mean() < 0.8                    # la silhouette, pas tout le carré
    assert np.percentile(image[inside], 10) >= 0.15     # même un vêtement blanc dépasse le plancher


def test_foreground_rejects_unreadable_photo(tmp_path):
    path = tmp_path / "faux.jpg"
    path.write_text("pas une image")
    with pytest.raises(photo_files.PhotoError):
        photo_preparation.prepare_foreground(path)


def test_main_central_components_keeps_the_central_one():
    mask = np.zeros((100, 100), bool)
    mask[0:15, 0:60] = True                              # grand objet au bord (fond)
    mask[40:60, 40:60] = True                            # vêtement au centre, plus petit
    mask[45:50, 45:50] = False                           # un trou, bouché
    kept = photo_preparation.main_central_components(mask)
    expected = np.zeros_like(mask)
    expected[40:60, 40:60] = True
    np.testing.assert_array_equal(kept, expected)


def test_main_central_components_keeps_both_shoes_of_a_pair():
    mask = np.zeros((100, 100), bool)
    mask[30:70, 28:48] = True                            # chaussure gauche
    mask[35:70, 53:72] = True                            # chaussure droite, séparée par un fond
    mask[48:52, 90:94] = True                            # petite tache : écartée
    mask[0:10, 0:100] = True                             # grand objet hors du centre : écarté
    kept = photo_preparation.main_central_components(mask)
    expected = np.zeros_like(mask)
    expected[30:70, 28:48] = True
    expected[35:70, 53:72] = True
    np.testing.assert_array_equal(kept, expected)


def test_main_central_components_drops_small_central_specks():
    mask = np.zeros((100, 100), bool)
    mask[30:70, 30:70] = True
    mask[45:50, 72:76] = True                            # 20 pixels contre 1 600 : écartée
    kept = photo_preparation.main_central_components(mask)
    assert kept.sum() == 1600


def test_center_by_mass_moves_the_centre_of_mass():
    item = np.zeros((10, 16), np.float32)
    item[:, :4] = 1.0                                    # masse concentrée à gauche
    canvas = photo_preparation.center_by_mass(item)
    cy, cx = ndi.center_of_mass(canvas)
    assert abs(cy - CENTRE) <= 0.5 and abs(cx - CENTRE) <= 0.5
    assert canvas.sum() == pytest.approx(item.sum())


def test_center_by_mass_never_crops_a_full_size_item():
    item = np.zeros((28, 12), np.float32)
    item[:5] = 1.0                                       # masse en haut, objet de 28 de haut
    canvas = photo_preparation.center_by_mass(item)
    assert canvas.sum() == pytest.approx(item.sum())


def test_stretch_contrast_maps_percentiles():
    values = np.linspace(0, 100, 101, dtype=np.float32)
    out = photo_preparation.stretch_contrast(values, 10, 90, floor=0.2)
    assert out[10] == pytest.approx(0.2) and out[90] == pytest.approx(1.0)
    assert out[50] == pytest.approx(0.6)
    assert out.min() == pytest.approx(0.2) and out.max() == pytest.approx(1.0)


def test_preparations_share_the_output_format(tmp_path):
    path, _ = noisy_tshirt_photo(tmp_path / "t.jpg")
    assert set(photo_preparation.PREPARATIONS) == {"labo", "fashion_mnist", "premier_plan", "vetement_seul"}
    assert set(photo_preparation.PREPARATION_VERSIONS) == set(photo_preparation.PREPARATIONS)  # toutes en cache
    for name, prepare in photo_preparation.PREPARATIONS.items():
        image = prepare(path)
        assert image.shape == (28, 28), name
        assert 0.0 <= image.min() and image.max() <= 1.0, name
        assert image[12:16, 12:16].mean() > image[0].mean(), name   # objet plus clair que le bord
    np.testing.assert_array_equal(photo_preparation.PREPARATIONS["labo"](path),
                                  photo_preparation.load_and_preprocess_image(path)[0, :, :, 0])
    np.testing.assert_array_equal(photo_preparation.prepare_lab(path, content_size=14),
                                  photo_preparation.load_and_preprocess_image(path, content_size=14)[0, :, :, 0])


# ---------------------------------------------------------------- plusieurs photos

def test_prepare_photos_skips_broken_file(tmp_path):
    good = []
    for i, size in enumerate([(60, 40), (40, 60), (30, 30)]):
        path = tmp_path / f"bonne_{i}.png"
        block_image(size).save(path)
        good.append(path)
    broken = tmp_path / "cassee.jpg"
    broken.write_text("pas une image", encoding="utf-8")
    paths = [good[0], broken, str(good[1]), good[2]]
    batch, ok_paths, failures = photo_preparation.prepare_photos(paths)
    assert batch.shape == (3, 28, 28, 1) and batch.dtype == np.float32
    assert ok_paths == good
    assert len(failures) == 1
    failure = failures[0]
    assert isinstance(failure, PhotoFailure)
    assert failure.path == broken and failure.unreadable is True
    assert "cassee.jpg" in failure.message and "n'est pas une image" in failure.message
    np.testing.assert_array_equal(batch[1], photo_preparation.load_and_preprocess_image(good[1])[0])


def test_prepare_photos_reports_a_failing_preparation_and_goes_on(tmp_path, monkeypatch):
    paths = []
    for name in ("a.png", "b.png", "c.png"):
        block_image().save(tmp_path / name)
        paths.append(tmp_path / name)
    lab = photo_preparation.PREPARATIONS["labo"]

    def fails_on_b(path, **kwargs):
        if path.name == "b.png":
            raise ValueError("boum")
        return lab(path, **kwargs)

    monkeypatch.setitem(photo_preparation.PREPARATIONS, "labo", fails_on_b)
    # trois photos identiques : sans cache, sinon b.png reprendrait l'image de a.png
    batch, ok_paths, failures = photo_preparation.prepare_photos(paths, preparation="labo", cache=False)
    assert ok_paths == [paths[0], paths[2]] and batch.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(batch[1, :, :, 0], lab(paths[2]))
    assert len(failures) == 1
    path, unreadable, message = failures[0]
    assert path == paths[1] and unreadable is False
    assert "b.png" in message and "ValueError" in message and "boum" in message


def test_prepare_photos_uses_the_named_preparation_and_clips(tmp_path, monkeypatch):
    block_image().save(tmp_path / "une.png")
    monkeypatch.setitem(photo_preparation.PREPARATIONS, "essai",
                        lambda path: np.full((28, 28), 1.5) - np.eye(28) * 3)
    batch, ok_paths, failures = photo_preparation.prepare_photos(tmp_path / "une.png", preparation="essai")
    assert ok_paths == [tmp_path / "une.png"] and failures == []     # un seul chemin, pas un dossier
    assert batch.dtype == np.float32 and batch.shape == (1, 28, 28, 1)
    assert batch.max() == 1.0 and batch.min() == 0.0                 # ramené dans [0, 1]
    np.testing.assert_array_equal(batch[0, :, :, 0], 1.0 - np.eye(28))
    with pytest.raises(ValueError, match="Préparation inconnue : « inconnue » \\(connues : labo, "):
        photo_preparation.prepare_photos([tmp_path / "une.png"], preparation="inconnue")


def test_prepare_photos_folder_and_options(tmp_path):
    block_image().save(tmp_path / "une.png")
    (tmp_path / "labels.csv").write_text("fichier,classe\n", encoding="utf-8")
    batch, ok_paths, failures = photo_preparation.prepare_photos(tmp_path, target_size=32, content_size=24)
    assert batch.shape == (1, 32, 32, 1) and failures == []
    assert [p.name for p in ok_paths] == ["une.png"]


def test_prepare_photos_empty_list():
    batch, ok_paths, failures = photo_preparation.prepare_photos([])
    assert batch.shape == (0, 28, 28, 1) and batch.dtype == np.float32
    assert ok_paths == [] and failures == []


def test_example_photos_all_go_through_every_preparation():
    photos = photo_files.list_photos(IMAGES_DIR)
    assert len(photos) >= 9
    for name in ("labo", "fashion_mnist"):
        batch, ok_paths, failures = photo_preparation.prepare_photos(photos, preparation=name)
        assert failures == [] and ok_paths == photos, name
        assert batch.shape == (len(photos), 28, 28, 1), name
    batch, ok_paths, failures = photo_preparation.prepare_photos(photos[:2], preparation="premier_plan")
    assert failures == [] and batch.shape == (2, 28, 28, 1)


def test_prepared_photo_split_returns_images_with_their_classes(tmp_path):
    for folder in ("Trouser", "Ankle_boot"):
        (tmp_path / folder).mkdir()
        block_image((40, 30), mode="RGB", fg=(60, 60, 60), bg=(200, 200, 200)).save(tmp_path / folder / "a.png")
    (tmp_path / "Trouser" / "abime.jpg").write_bytes(b"\xff\xd8 pas un jpeg")
    images, classes, n_left_out, failures = photo_preparation.prepared_photo_split(tmp_path, "all",
                                                                                    preparation="labo")
    assert images.shape == (2, 28, 28, 1) and sorted(classes) == [1, 9] and n_left_out == 0
    assert [(failure.path.name, failure.unreadable) for failure in failures] == [("abime.jpg", True)]


def test_prepared_photo_split_leaves_out_the_example_photos(tmp_path):
    photos = tmp_path / "photos"
    for folder, value in (("Trouser", 40), ("Coat", 120)):
        (photos / folder).mkdir(parents=True)
        block_image((40, 60), fg=value).save(photos / folder / "a.png")
    examples = tmp_path / "images"
    examples.mkdir()
    (examples / "exemple.png").write_bytes((photos / "Coat" / "a.png").read_bytes())
    images, classes, n_left_out, failures = photo_preparation.prepared_photo_split(
        photos, "all", preparation="labo", keep_out_folder=examples)
    assert n_left_out == 1 and failures == []
    assert classes.tolist() == [1] and images.shape == (1, 28, 28, 1)
    expected = photo_preparation.load_and_preprocess_image(photos / "Trouser" / "a.png")[0]
    np.testing.assert_array_equal(images[0], expected)


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 40), (7, 300)])
def test_prepare_photos_refuses_tiny_or_elongated_photos_and_keeps_the_others(tmp_path, size):
    odd, good = tmp_path / "bizarre.png", tmp_path / "bonne.png"
    Image.new("RGB", size, (90, 60, 30)).save(odd)
    block_image((60, 40)).save(good)
    for preparation in ("labo", "premier_plan"):
        batch, ok, failures = photo_preparation.prepare_photos([odd, good], preparation)
        assert ok == [good] and batch.shape == (1, 28, 28, 1)
        assert [failure.path for failure in failures] == [odd]
        assert "trop petite ou trop allongée" in failures[0].message and "bizarre.png" in failures[0].message


@pytest.mark.parametrize("value", [0, 255])
def test_prepare_photos_says_no_garment_was_found_on_a_uniform_photo(tmp_path, value):
    uniform, good = tmp_path / "unie.png", tmp_path / "bonne.png"
    Image.new("L", (60, 40), value).save(uniform)
    block_image((60, 40)).save(good)
    for preparation in photo_preparation.PREPARATIONS:
        _, ok, failures = photo_preparation.prepare_photos([uniform, good], preparation)
        assert ok == [good], preparation
        assert len(failures) == 1 and failures[0].message.startswith("Aucun vêtement trouvé sur « unie.png »")


def test_region_picture_shows_what_the_model_is_given(tmp_path):
    path = tmp_path / "veste.png"
    k = photo_preparation.WORK_SIZE // 40                      # photo de 30k x 40k pixels : la taille de travail
    block_image(size=(30 * k, 40 * k), box=(7 * k, 10 * k, 23 * k, 30 * k), fg=(40, 40, 40), bg=(230, 230, 230),
                mode="RGB").save(path)
    kept = photo_preparation.region_picture(path, "premier_plan")
    assert kept.size == (30 * k, 40 * k)
    pixels = np.asarray(kept).astype(int)
    assert (pixels[20 * k, 15 * k] == 40).all()                # le vêtement, tel quel
    assert (pixels[5, 5] < 0.5 * 230).all()                    # le fond, assombri
    assert (pixels[10 * k:30 * k + 1, 7 * k:23 * k + 1] == (255, 200, 0)).all(axis=2).any()   # le bord de la région, en couleur
    whole = np.asarray(photo_preparation.region_picture(path, "labo")).astype(int)
    assert (whole[5:-5, 5:-5] == pixels[5:-5, 5:-5]).all(axis=2).mean() < 0.5
    assert (whole[5, 5] == 230).all()                          # le labo garde toute la photo
    trimmed = np.asarray(photo_preparation.region_picture(path, "fashion_mnist")).astype(int)
    assert (trimmed[5, 5] < 0.5 * 230).all() and (trimmed[20 * k, 15 * k] == 40).all()


def test_many_photos_are_prepared_in_parallel_with_the_same_results(tmp_path):
    paths = []
    for i in range(photo_preparation.PARALLEL_FROM + 2):
        path = tmp_path / f"photo_{i:02d}.png"
        block_image(size=(60 + i, 80), box=(10, 10 + i % 7, 45, 70), fg=20 + 3 * i, bg=230).save(path)
        paths.append(path)
    (tmp_path / "photo_07.png").write_bytes(b"abimee")                        # une photo illisible au milieu
    alone = photo_preparation.prepare_photos(paths, "premier_plan", cache=False, workers=1)
    together = photo_preparation.prepare_photos(paths, "premier_plan", cache=False, workers=2, progress=True)
    np.testing.assert_array_equal(alone[0], together[0])
    assert alone[1] == together[1] == [path for path in paths if path.name != "photo_07.png"]
    assert alone[2] == together[2] and [failure.path.name for failure in together[2]] == ["photo_07.png"]
    assert together[2][0].unreadable
