"""Préparations de photos réelles (fashion_utils) et cœur du banc d'essai scripts/bench_photos.py.

Toutes les photos sont générées à la volée : vêtement en forme de T-shirt sur fond clair bruité,
sur fond texturé et encombré, chaussure de profil.
"""
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage as ndi
from sklearn.metrics import balanced_accuracy_score, confusion_matrix

import fashion_utils as fu

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_photos as bench  # noqa: E402

CENTRE = (fu.IMAGE_SIZE - 1) / 2.0


# ---------------------------------------------------------------- photos générées

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


def boot_image(facing="right", size=(240, 160)):
    """Botte de profil, sombre sur blanc : tige haute au-dessus du talon, pied allongé vers la pointe."""
    width, height = size
    image = Image.new("RGB", size, (245, 245, 245))
    draw = ImageDraw.Draw(image)
    # pointe à droite : tige (lourde) à gauche
    draw.rectangle((30, 20, 100, 140), fill=(30, 30, 30))               # tige + talon
    draw.polygon([(100, 90), (210, 110), (215, 140), (100, 140)], fill=(30, 30, 30))   # pied
    if facing == "left":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


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


# ---------------------------------------------------------------- rognage (recette Xiao)

def test_trim_box_tolerates_jpeg_noise(tmp_path):
    path, mask = noisy_tshirt_photo(tmp_path / "t.jpg")
    gray = np.asarray(fu.open_photo(path))
    left, top, right, bottom = fu.trim_box(gray, tolerance=0.1)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert abs(left - cols[0]) <= 3 and abs(right - 1 - cols[-1]) <= 3
    assert abs(top - rows[0]) <= 3 and abs(bottom - 1 - rows[-1]) <= 3


def test_trim_box_with_too_small_tolerance_keeps_noise():
    """Sans filtre ni seuil suffisants, le bruit ne doit pas être pris pour du contenu : ici si."""
    rng = np.random.default_rng(0)
    gray = np.clip(200 + rng.normal(0, 30, (100, 80)), 0, 255).astype(np.uint8)
    assert fu.trim_box(gray, tolerance=0.01) == (0, 0, 80, 100)


def test_trim_box_ignores_isolated_noise_pixels():
    rng = np.random.default_rng(2)
    gray = np.full((120, 100), 230, np.uint8)
    gray[rng.random(gray.shape) < 0.05] = 0              # 5 % de pixels isolés (poussière, bruit)
    gray[40:80, 30:60] = 20
    assert fu.trim_box(gray, tolerance=0.1) == (30, 40, 60, 80)


def test_trim_box_uniform_image_is_not_trimmed():
    assert fu.trim_box(np.full((50, 40), 128, np.uint8)) == (0, 0, 40, 50)


def test_trim_box_nothing_to_trim_when_content_touches_every_edge():
    gray = np.full((60, 50), 230, np.uint8)
    gray[5:-5, :] = 30                                   # bande horizontale pleine largeur
    gray[:, 5:-5] = 30                                   # bande verticale pleine hauteur
    assert fu.trim_box(gray, tolerance=0.1) == (0, 0, 50, 60)


def test_trim_box_offset_item():
    gray = np.full((100, 100), 240, np.uint8)
    gray[10:30, 50:90] = 20
    assert fu.trim_box(gray, tolerance=0.1) == (50, 10, 90, 30)


def test_like_fashion_mnist_output(tmp_path):
    path, _ = noisy_tshirt_photo(tmp_path / "t.jpg")
    image = fu.preprocess_like_fashion_mnist(path)
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
    image = fu.preprocess_like_fashion_mnist(path)
    assert image.shape == (28, 28)
    assert image.max() == 0.0                            # rien à rogner, fond blanc -> noir


# ---------------------------------------------------------------- premier plan

@pytest.mark.parametrize("make_photo, min_iou", [(noisy_tshirt_photo, 0.85), (cluttered_photo, 0.8)],
                         ids=["fond-clair-bruite", "fond-encombre"])
def test_foreground_mask_finds_the_garment(tmp_path, make_photo, min_iou):
    path, truth = make_photo(tmp_path / "photo.jpg")
    rgb = fu.convert_to_rgb(fu.open_photo_upright(path))
    mask, small = fu.foreground_mask(rgb)
    truth_small = np.asarray(Image.fromarray(truth).resize(small.size, Image.Resampling.NEAREST))
    assert iou(mask, truth_small) > min_iou


def test_foreground_background_is_black_item_bright_and_centred(tmp_path):
    path, _ = cluttered_photo(tmp_path / "c.jpg")
    image = fu.preprocess_photo_foreground(path, content_size=20)
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
    out = fu.preprocess_photo_foreground(path, content_size=20)
    cy, cx = ndi.center_of_mass(out)
    assert abs(cy - CENTRE) <= 1.5 and abs(cx - CENTRE) <= 1.5
    rows = np.flatnonzero(out.any(axis=1))
    assert (rows[0] + rows[-1]) / 2 < CENTRE - 1.5       # la boîte est donc remontée


def test_foreground_background_inside_the_box_is_zero(tmp_path):
    path = tmp_path / "robe.png"
    image = Image.new("RGB", (300, 400), (220, 215, 205))
    ImageDraw.Draw(image).polygon([(130, 60), (170, 60), (260, 340), (40, 340)], fill=(120, 20, 30))
    image.save(path)
    out = fu.preprocess_photo_foreground(path, content_size=20)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    box = out[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    assert box[0, 0] == 0.0 and box[0, -1] == 0.0        # coins hauts du trapèze : du fond
    assert 0.3 < (box == 0).mean() < 0.6                 # trapèze : environ 40 % de fond dans sa boîte


@pytest.mark.parametrize("content_size", [28, 24, 16])
def test_foreground_longest_side_is_the_content_size(tmp_path, content_size):
    path, _ = noisy_tshirt_photo(tmp_path / "t.jpg", size=(400, 300), box=(40, 60, 360, 250))
    image = fu.preprocess_photo_foreground(path, content_size=content_size)
    height, width = item_box(image, level=0.0)
    assert width > height                                # T-shirt couché : plus large que haut
    assert width in (content_size - 1, content_size)


def test_foreground_light_garment_on_dark_background_stays_visible(tmp_path):
    path, truth = noisy_tshirt_photo(tmp_path / "t.jpg", fg=(235, 235, 235), bg=(60, 50, 45))
    image = fu.preprocess_photo_foreground(path, floor=0.2, content_size=22)
    assert border_values(image, width=2).max() == 0.0
    inside = image > 0
    assert 0.25 < inside.mean() < 0.8                    # la silhouette, pas tout le carré
    assert np.percentile(image[inside], 10) >= 0.15     # même un vêtement blanc dépasse le plancher


def test_foreground_rejects_unreadable_photo(tmp_path):
    path = tmp_path / "faux.jpg"
    path.write_text("pas une image")
    with pytest.raises(fu.PhotoError):
        fu.preprocess_photo_foreground(path)


def test_main_central_components_keeps_the_central_one():
    mask = np.zeros((100, 100), bool)
    mask[0:15, 0:60] = True                              # grand objet au bord (fond)
    mask[40:60, 40:60] = True                            # vêtement au centre, plus petit
    mask[45:50, 45:50] = False                           # un trou, bouché
    kept = fu.main_central_components(mask)
    expected = np.zeros_like(mask)
    expected[40:60, 40:60] = True
    np.testing.assert_array_equal(kept, expected)


def test_main_central_components_keeps_both_shoes_of_a_pair():
    mask = np.zeros((100, 100), bool)
    mask[30:70, 28:48] = True                            # chaussure gauche
    mask[35:70, 53:72] = True                            # chaussure droite, séparée par un fond
    mask[48:52, 90:94] = True                            # petite tache : écartée
    mask[0:10, 0:100] = True                             # grand objet hors du centre : écarté
    kept = fu.main_central_components(mask)
    expected = np.zeros_like(mask)
    expected[30:70, 28:48] = True
    expected[35:70, 53:72] = True
    np.testing.assert_array_equal(kept, expected)


def test_main_central_components_drops_small_central_specks():
    mask = np.zeros((100, 100), bool)
    mask[30:70, 30:70] = True
    mask[45:50, 72:76] = True                            # 20 pixels contre 1 600 : écartée
    kept = fu.main_central_components(mask)
    assert kept.sum() == 1600


def test_center_by_mass_moves_the_centre_of_mass():
    item = np.zeros((10, 16), np.float32)
    item[:, :4] = 1.0                                    # masse concentrée à gauche
    canvas = fu.center_by_mass(item)
    cy, cx = ndi.center_of_mass(canvas)
    assert abs(cy - CENTRE) <= 0.5 and abs(cx - CENTRE) <= 0.5
    assert canvas.sum() == pytest.approx(item.sum())


def test_center_by_mass_never_crops_a_full_size_item():
    item = np.zeros((28, 12), np.float32)
    item[:5] = 1.0                                       # masse en haut, objet de 28 de haut
    canvas = fu.center_by_mass(item)
    assert canvas.sum() == pytest.approx(item.sum())


def test_stretch_contrast_maps_percentiles():
    values = np.linspace(0, 100, 101, dtype=np.float32)
    out = fu.stretch_contrast(values, 10, 90, floor=0.2)
    assert out[10] == pytest.approx(0.2) and out[90] == pytest.approx(1.0)
    assert out[50] == pytest.approx(0.6)
    assert out.min() == pytest.approx(0.2) and out.max() == pytest.approx(1.0)


def test_face_left_mirrors_a_boot_whose_toe_points_right():
    item = 1.0 - np.asarray(boot_image("right").convert("L").resize((28, 19)), np.float32) / 255.0
    canvas = np.zeros((28, 28), np.float32)
    canvas[4:23] = item
    flipped, did = fu.face_left(canvas)
    assert did
    np.testing.assert_array_equal(flipped, canvas[:, ::-1])
    again, did_again = fu.face_left(flipped)
    assert not did_again
    np.testing.assert_array_equal(again, flipped)


def test_face_left_leaves_tall_items_alone():
    canvas = np.zeros((28, 28), np.float32)
    canvas[:, 8:14] = 1.0                                # objet haut (28 x 10)...
    canvas[20:, 14:18] = 0.5                             # ...dont la masse penche à gauche
    out, did = fu.face_left(canvas)
    assert not did
    np.testing.assert_array_equal(out, canvas)
    wide = np.zeros((28, 28), np.float32)
    wide[8:18, 2:12] = 1.0                               # même déséquilibre, objet large (10 x 22)
    wide[14:18, 12:24] = 0.5
    _, did = fu.face_left(wide)
    assert did


def test_foreground_mirror_shoes_end_to_end(tmp_path):
    path = tmp_path / "botte.png"
    boot_image("right").save(path)
    plain = fu.preprocess_photo_foreground(path, mirror_shoes=False)
    mirrored = fu.preprocess_photo_foreground(path, mirror_shoes=True)
    assert plain[:, :14].sum() > plain[:, 14:].sum()     # tige à gauche sans miroir
    assert mirrored[:, :14].sum() < mirrored[:, 14:].sum()


def test_registry_pipelines_share_the_output_format(tmp_path):
    path, _ = noisy_tshirt_photo(tmp_path / "t.jpg")
    assert set(fu.PHOTO_PIPELINES) == {"labo", "fashion_mnist", "premier_plan"}
    for name, pipeline in fu.PHOTO_PIPELINES.items():
        image = pipeline(path)
        assert image.shape == (28, 28), name
        assert 0.0 <= image.min() and image.max() <= 1.0, name
        assert image[12:16, 12:16].mean() > image[0].mean(), name   # objet plus clair que le bord
    np.testing.assert_array_equal(fu.PHOTO_PIPELINES["labo"](path),
                                  fu.load_and_preprocess_image(path)[0, :, :, 0])


# ---------------------------------------------------------------- banc d'essai : scores

@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_scores_on_a_small_known_case():
    y_true = [0, 0, 0, 1, 1, 5]
    y_pred = [0, 0, 1, 1, 3, 5]
    scores = bench.score_predictions(y_true, y_pred)
    assert scores.classes == [0, 1, 5]
    assert scores.counts == {0: 3, 1: 2, 5: 1}
    assert scores.per_class == pytest.approx({0: 2 / 3, 1: 1 / 2, 5: 1.0})
    assert scores.accuracy == pytest.approx(4 / 6)
    assert scores.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert scores.balanced_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert list(scores.confusion.index) == [fu.NOMS_COURTS[0], fu.NOMS_COURTS[1], fu.NOMS_COURTS[5]]
    assert list(scores.confusion.columns) == fu.NOMS_COURTS
    expected = np.zeros((3, 10), int)
    expected[0, 0], expected[0, 1] = 2, 1
    expected[1, 1], expected[1, 3] = 1, 1
    expected[2, 5] = 1
    np.testing.assert_array_equal(scores.confusion.to_numpy(), expected)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_scores_match_sklearn_on_random_predictions():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 10, 300)
    y_true[y_true == 8] = 2                              # une classe absente, comme Sac
    y_pred = rng.integers(0, 10, 300)
    scores = bench.score_predictions(y_true, y_pred)
    assert scores.balanced_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    full = confusion_matrix(y_true, y_pred, labels=range(10))
    np.testing.assert_array_equal(scores.confusion.to_numpy(), full[scores.classes])


def test_failed_photos_count_as_errors_in_their_own_column():
    scores = bench.score_predictions([2, 2, 7, 7], [2, bench.FAILED, 7, 7])
    assert scores.n_failed == 1
    assert scores.per_class == {2: 0.5, 7: 1.0}
    assert scores.accuracy == pytest.approx(0.75)
    assert scores.confusion.columns[-1] == "échec"
    assert scores.confusion.loc[fu.NOMS_COURTS[2], "échec"] == 1
    text = bench.format_scores(scores)
    assert "0.750" in text and "0.750" in text.splitlines()[-1]


def test_scores_refuse_mismatched_or_empty_input():
    with pytest.raises(ValueError):
        bench.score_predictions([0, 1], [0])
    with pytest.raises(ValueError):
        bench.score_predictions([], [])
    with pytest.raises(ValueError):
        bench.score_predictions([0], [10])


# ---------------------------------------------------------------- banc d'essai : photos et partage

def test_split_is_a_stable_half_partition():
    names = [f"photo_{i:03d}.jpg" for i in range(41)]
    dev, holdout = fu.split_names(names, "dev"), fu.split_names(names, "holdout")
    assert len(dev) == 21 and len(holdout) == 20
    assert set(dev).isdisjoint(holdout) and set(dev) | set(holdout) == set(names)
    assert fu.split_names(list(reversed(names)), "dev") == dev   # indépendant de l'ordre
    assert sorted(fu.split_names(names, "all")) == names
    # Partage figé : SHA-256 ne dépend ni de la machine ni de PYTHONHASHSEED.
    six = [f"photo_{i:03d}.jpg" for i in range(6)]
    assert fu.split_names(six, "dev") == ["photo_001.jpg", "photo_004.jpg", "photo_005.jpg"]
    with pytest.raises(ValueError):
        fu.split_names(names, "test")


def test_split_key_is_sha256_of_the_name():
    assert fu.split_key("a.jpg") == 5808250739824772026      # 8 premiers octets de sha256("a.jpg")


def test_collect_photos_reads_class_folders_and_warns(tmp_path):
    for folder, n in (("Trouser", 3), ("Ankle_boot", 2), ("Chaussettes", 1)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            Image.new("L", (8, 8), 200).save(tmp_path / folder / f"{i}.png")
    Image.new("L", (8, 8), 200).save(tmp_path / "perdue.png")
    entries, warnings = fu.collect_photos(tmp_path, "all")
    assert sorted(label for _, label in entries) == [1, 1, 1, 9, 9]
    assert any("Chaussettes" in w for w in warnings) and any("perdue.png" in w for w in warnings)
    dev, _ = fu.collect_photos(tmp_path, "dev")
    holdout, _ = fu.collect_photos(tmp_path, "holdout")
    assert len(dev) == 3 and len(holdout) == 2        # 2 + 1 Trouser, 1 + 1 Ankle_boot
    assert {p for p, _ in dev}.isdisjoint({p for p, _ in holdout})


def test_balanced_accuracy_is_sklearns_without_the_warning():
    rng = np.random.default_rng(0)
    y_true = rng.choice([0, 1, 3, 9], size=60)                     # pas de sac (8) parmi les photos
    y_pred = np.where(rng.random(60) < 0.5, y_true, rng.integers(0, 10, size=60))
    assert 8 in y_pred
    with pytest.warns(UserWarning):
        expected = balanced_accuracy_score(y_true, y_pred)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fu.balanced_accuracy(y_true, y_pred) == pytest.approx(expected)


def test_photos_for_fine_tuning_keeps_dev_only_and_leaves_out_the_examples(tmp_path):
    photos = tmp_path / "photos"
    for folder, n in (("Trouser", 4), ("Coat", 3)):
        (photos / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (8, 8), 10 * i + (100 if folder == "Coat" else 0)).save(photos / folder / f"{i}.png")
    dev, _ = fu.collect_photos(photos, "dev")
    holdout, _ = fu.collect_photos(photos, "holdout")
    examples = tmp_path / "images"
    examples.mkdir()
    example = dev[0][0]                                    # même contenu, autre nom : écartée quand même
    (examples / "exemple.png").write_bytes(example.read_bytes())
    (examples / "autre.png").write_bytes(holdout[0][0].read_bytes())   # pas dans dev : rien à écarter
    kept, n_left_out = fu.photos_for_fine_tuning(photos, "dev", keep_out_folder=examples)
    assert n_left_out == 1
    assert kept == [entry for entry in dev if entry[0] != example]
    assert {p for p, _ in kept}.isdisjoint({p for p, _ in holdout})  # jamais une photo de holdout
    assert fu.photos_for_fine_tuning(photos, "dev", keep_out_folder=tmp_path / "absent") == (dev, 0)


def test_prepared_photo_split_returns_images_with_their_classes(tmp_path):
    for folder in ("Trouser", "Ankle_boot"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (40, 30), (200, 200, 200)).save(tmp_path / folder / "a.png")
    (tmp_path / "Trouser" / "abime.jpg").write_bytes(b"\xff\xd8 pas un jpeg")
    images, classes, n_left_out, errors = fu.prepared_photo_split(tmp_path, "all", pipeline="labo")
    assert images.shape == (2, 28, 28, 1) and sorted(classes) == [1, 9] and n_left_out == 0
    assert [path.name for path, _ in errors] == ["abime.jpg"]


def test_prepare_photos_reports_unreadable_and_failing(tmp_path):
    good = tmp_path / "bon.png"
    Image.new("L", (30, 20), 255).save(good)
    bad = tmp_path / "abime.jpg"
    bad.write_bytes(b"\xff\xd8 pas un jpeg")
    entries = [(good, 0), (bad, 0), (good, 1)]
    images, ok, failures = bench.prepare_photos(entries, fu.PHOTO_PIPELINES["labo"])
    assert ok == [0, 2] and images.shape == (2, 28, 28)
    assert [(p, kind) for p, kind, _ in failures] == [(bad, "illisible")]

    def broken(path):
        raise RuntimeError("boum")
    _, ok, failures = bench.prepare_photos(entries[:1], broken)
    assert ok == [] and failures[0][1] == "échec" and "boum" in failures[0][2]


class FakeModel:
    """Modèle factice : prédit la classe écrite dans le pixel (0, 0) (valeur / 10)."""

    def predict(self, batch, batch_size=None, verbose=0):
        labels = np.rint(batch[:, 0, 0, 0] * 10).astype(int)
        return np.eye(10)[labels]


def test_score_prepared_with_a_fake_model(tmp_path):
    entries = []
    for i, (truth, guess) in enumerate([(0, 0), (0, 3), (1, 1), (1, 1)]):
        path = tmp_path / f"{i}.png"
        Image.new("L", (8, 8), 0).save(path)
        entries.append((path, truth))
    bad = tmp_path / "abime.png"
    bad.write_bytes(b"rien")
    entries.append((bad, 1))
    guesses = {entries[i][0]: g for i, g in enumerate([0, 3, 1, 1])}

    def pipeline(path):
        fu.open_photo(path)
        image = np.zeros((28, 28), np.float32)
        image[0, 0] = guesses[path] / 10
        return image

    images, ok, failures = bench.prepare_photos(entries, pipeline)
    scores, predicted = bench.score_prepared(FakeModel(), entries, images, ok, failures)
    assert list(predicted) == [0, 3, 1, 1]
    assert len(failures) == 1 and failures[0][1] == "illisible"
    assert scores.counts == {0: 2, 1: 2}                 # la photo illisible est écartée
    assert scores.per_class == {0: 0.5, 1: 1.0}
    assert scores.balanced_accuracy == pytest.approx(0.75)


def test_save_grid_refuses_to_overwrite_a_photo(tmp_path):
    photo = tmp_path / "a.png"
    Image.new("RGB", (20, 20), "white").save(photo)
    before = photo.read_bytes()
    images = np.zeros((1, 28, 28), np.float32)
    with pytest.raises(ValueError, match="photos évaluées"):
        bench.save_grid(photo, [(photo, 0)], images, [0], np.array([0]))
    with pytest.raises(ValueError, match=".png"):
        bench.save_grid(tmp_path / "grille.jpg", [(photo, 0)], images, [0], np.array([0]))
    assert photo.read_bytes() == before
    out = tmp_path / "grille.png"
    bench.save_grid(out, [(photo, 0)], images, [0], np.array([0]))
    assert out.is_file() and photo.read_bytes() == before


def constant_model(label):
    """Petit modèle Keras qui répond toujours `label` (poids nuls, biais)."""
    import keras
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")], name=f"toujours_{label}")
    kernel, bias = model.layers[-1].get_weights()
    bias[:] = 0.0
    bias[label] = 10.0
    model.layers[-1].set_weights([np.zeros_like(kernel), bias])
    return model


def test_bench_main_scores_several_models_and_splits(tmp_path, capsys):
    photos = tmp_path / "photos"
    for folder in ("Trouser", "Ankle_boot"):
        (photos / folder).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 60), (200, 200, 200)).save(photos / folder / f"{folder}_{i}.png")
    prefixes = []
    for label in (1, 9):
        prefix = tmp_path / f"toujours_{label}"
        fu.save_model_files(constant_model(label), f"{prefix}.json", f"{prefix}.weights.h5")
        prefixes.append(str(prefix))
    out = tmp_path / "banc.json"
    code = bench.main(["--photos", str(photos), "--model", prefixes[0], "--model", prefixes[1],
                       "--pipeline", "labo", "--split", "dev", "--split", "holdout", "--output", str(out)])
    assert code == 0
    summary = fu.read_photo_benchmark(out)
    assert summary["n_photos"] == {"dev": 2, "holdout": 2}
    assert [(r["model"], r["split"]) for r in summary["results"]] == [
        ("toujours_1", "dev"), ("toujours_9", "dev"), ("toujours_1", "holdout"), ("toujours_9", "holdout")]
    first = summary["results"][0]
    assert first["per_class"] == {"Pantalon": 1.0, "Bottes de cheville": 0.0}
    assert first["balanced_accuracy"] == 0.5 and first["accuracy"] == 0.5
    table = fu.photo_benchmark_table(summary)
    assert table.shape == (2, 2) and list(table.columns) == ["dev", "holdout"]
    assert table.loc[("toujours_9", "labo"), "holdout"] == 0.5
    assert "Résumé : précision équilibrée" in capsys.readouterr().out
    assert fu.benchmark_models_changed(summary, tmp_path) == []
    fu.save_model_files(constant_model(5), f"{prefixes[1]}.json", f"{prefixes[1]}.weights.h5")   # réentraîné
    assert fu.benchmark_models_changed(summary, tmp_path) == ["toujours_9"]
    Path(f"{prefixes[0]}.weights.h5").unlink()
    assert fu.benchmark_models_changed(summary, tmp_path) == ["toujours_1", "toujours_9"]


def test_benchmark_without_fingerprints_counts_as_changed(tmp_path):
    summary = {"results": [{"model": "modele", "pipeline": "labo", "split": "dev", "balanced_accuracy": 0.2}]}
    fu.save_model_files(constant_model(1), tmp_path / "modele.json", tmp_path / "modele.weights.h5")
    assert fu.benchmark_models_changed(summary, tmp_path) == ["modele"]


def test_bench_main_reports_missing_model(tmp_path, capsys):
    (tmp_path / "Trouser").mkdir()
    Image.new("RGB", (40, 60), "white").save(tmp_path / "Trouser" / "a.png")
    assert bench.main(["--photos", str(tmp_path), "--model", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().out


def test_read_photo_benchmark_ignores_missing_and_old_summaries(tmp_path):
    assert fu.read_photo_benchmark(tmp_path / "absent.json") is None
    old = tmp_path / "ancien.json"
    old.write_text('{"model": "modele", "split": "holdout", "n_photos": 142, "pipelines": {}}', encoding="utf-8")
    assert fu.read_photo_benchmark(old) is None
