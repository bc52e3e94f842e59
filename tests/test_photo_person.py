"""Vêtement porté et chaussures (photo_person), sur des images fabriquées (scripts/worn_figures.py)."""
import sys

import numpy as np
import photo_person
import photo_preparation
import pytest
from conftest import ROOT
from PIL import Image, ImageDraw

sys.path.insert(0, str(ROOT / "scripts"))
import worn_figures as figures  # noqa: E402

WORK = photo_preparation.WORK_SIZE                     # taille de travail de garment_region


def scaled_box(box, size=WORK):
    return tuple(round(v * size / 224) for v in box)


def box_mask(box, size=WORK):
    mask = np.zeros((size, size), dtype=bool)
    left, top, right, bottom = scaled_box(box, size)
    mask[top:bottom, left:right] = True
    return mask


def garment_truth(garment, box):
    """Où le vêtement a été posé, à la taille de travail."""
    left, top, right, bottom = scaled_box(box)
    truth = np.zeros((WORK, WORK), dtype=bool)
    truth[top:bottom, left:right] = np.asarray(garment.resize((right - left, bottom - top)))[..., 3] > 0
    return truth


def save(image, folder, name):
    path = folder / name
    image.save(path)
    return path


def test_skin_colour_model():
    colours = {"peau claire": (224, 172, 140), "peau mate": (170, 110, 80), "rouge": (200, 30, 40),
               "bleu jean": figures.JEANS, "blanc": (250, 250, 250), "noir": (20, 20, 20), "gris": (128, 128, 128)}
    patch = np.array([[colour for colour in colours.values()]], dtype=np.uint8)
    assert dict(zip(colours, photo_person.skin_mask(patch)[0])) == {
        "peau claire": True, "peau mate": True, "rouge": False, "bleu jean": False, "blanc": False,
        "noir": False, "gris": False}


def test_skin_models_cover_the_ten_tones_of_the_monk_scale_and_no_neutral_colour():
    tones = np.array([figures.MONK_SKIN_TONES], dtype=np.uint8)
    neutral = np.array([[(250, 250, 250), (235, 235, 235), (128, 128, 128), (20, 20, 20), (45, 45, 50)]],
                       dtype=np.uint8)
    covered = np.zeros(len(figures.MONK_SKIN_TONES), dtype=bool)
    for model in photo_person.SKIN_MODELS:
        covered |= photo_person.skin_mask(tones, model)[0]
        assert not photo_person.skin_mask(neutral, model).any(), model
    assert covered.all()
    assert photo_person.skin_mask(tones)[0].tolist() == [False] * 3 + [True] * 5 + [False] * 2   # « usuelle »


@pytest.mark.parametrize("tone, model", [(1, "claire"), (3, "claire"), (5, "usuelle"), (9, "foncée"), (10, "foncée")])
def test_face_found_and_garment_kept_whatever_the_skin_tone(tmp_path, tone, model):
    garment = figures.drawn_tshirt((200, 30, 40))
    image, box = figures.person_wearing(garment, skin=figures.MONK_SKIN_TONES[tone - 1])
    path = save(image, tmp_path, "porte.png")
    small, foreground, _ = photo_preparation.garment_region(path)
    face = photo_person.find_face(np.asarray(small), foreground)
    assert face is not None and face.skin == model
    _, worn, _ = photo_preparation.garment_region(path, worn=True)
    truth = garment_truth(garment, box)
    assert (worn & truth).sum() / (worn | truth).sum() > 0.85
    arms = box_mask(figures.ARMS[0]) | box_mask(figures.ARMS[1])
    assert (worn & arms & ~truth).sum() <= 0.05 * arms.sum()                     # sans les bras


def test_a_face_that_leaves_almost_nothing_of_the_garment_leaves_the_photo_as_is():
    # un vêtement à plat couleur peau (une polaire beige), une capuche prise pour un visage au-dessus :
    # du « vêtement porté » ne resterait qu'un petit motif bleu marine
    rgb = np.full((100, 100, 3), 120, dtype=np.uint8)
    rgb[10:95, 10:90] = figures.SKIN
    rgb[32:38, 45:55] = (30, 40, 90)
    foreground = np.zeros((100, 100), dtype=bool)
    foreground[10:95, 10:90] = True
    worn = photo_person.worn_garment_mask(rgb, foreground, photo_person.Face(10, 30, 40, 60))
    assert (worn == foreground).all()


def test_skin_of_the_person_is_the_colour_of_the_face():
    beige = (234, 218, 186)                                # couleur de peau, mais pas celle de ce visage
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    image[:10, 10:20] = figures.SKIN                       # le visage
    image[20:30, :10] = figures.SKIN                       # un bras
    image[20:30, 20:] = beige                              # un pull beige
    face = photo_person.Face(0, 10, 10, 20)
    assert photo_person.skin_mask(image)[25, 30]           # couleur de peau pour le modèle général
    person = photo_person.skin_like_face(image, face)
    assert person[25, 5] and not person[25, 30]            # le bras est de la peau, le pull non


@pytest.mark.parametrize("colour", [(200, 30, 40), (40, 90, 160), (30, 30, 30)])
def test_face_found_and_worn_garment_kept_alone(tmp_path, colour):
    garment = figures.drawn_tshirt(colour)
    image, box = figures.person_wearing(garment)
    path = save(image, tmp_path, "porte.png")
    small, foreground, _ = photo_preparation.garment_region(path)
    face = photo_person.find_face(np.asarray(small), foreground)
    assert face is not None
    head = box_mask(figures.HEAD)
    in_box = np.zeros_like(head)
    in_box[face.top:face.bottom, face.left:face.right] = True
    assert (in_box & head).sum() > 0.8 * head.sum()                              # la boîte couvre le visage
    assert (in_box & ~head).sum() < head.sum()                                   # et pas beaucoup plus (le cou)

    _, worn, _ = photo_preparation.garment_region(path, worn=True)
    truth = garment_truth(garment, box)
    assert (worn & truth).sum() / (worn | truth).sum() > 0.85
    assert not (worn & head).any()                                               # ni la tête,
    legs = box_mask(figures.LEGS[0]) | box_mask(figures.LEGS[1])
    assert (worn & legs & ~truth).sum() <= 0.05 * legs.sum()                     # ni le jean,
    arms = box_mask(figures.ARMS[0]) | box_mask(figures.ARMS[1])
    assert (worn & arms & ~truth).sum() <= 0.05 * arms.sum()                     # ni les bras


def test_skin_coloured_stripe_of_a_worn_garment_is_kept(tmp_path):
    beige = (234, 218, 186)                                                       # couleur de peau, pas ce teint
    garment = figures.drawn_tshirt((30, 40, 90))                                  # bleu marine, rayé de beige
    ImageDraw.Draw(garment).rectangle((20, 34, 80, 41), fill=(*beige, 255))
    image, box = figures.person_wearing(garment)
    path = save(image, tmp_path, "porte.png")
    small, foreground, _ = photo_preparation.garment_region(path)
    assert photo_person.find_face(np.asarray(small), foreground) is not None
    _, worn, _ = photo_preparation.garment_region(path, worn=True)
    left, top, right, bottom = scaled_box(box)
    stripe = np.zeros((WORK, WORK), dtype=bool)
    resized = np.asarray(garment.resize((right - left, bottom - top), Image.Resampling.NEAREST))
    stripe[top:bottom, left:right] = np.all(resized[..., :3] == beige, axis=-1)
    assert (worn & stripe).sum() > 0.8 * stripe.sum()                             # la rayure reste au vêtement


def test_worn_garment_is_what_the_model_gets(tmp_path):
    garment = figures.drawn_tshirt((200, 30, 40))
    worn = save(figures.person_wearing(garment)[0], tmp_path, "porte.png")
    flat = Image.new("RGB", (224, 224), figures.BACKGROUND)
    flat.paste(garment, (62, 66), garment)
    flat = save(flat, tmp_path, "a_plat.png")
    from_worn = photo_preparation.prepare_garment(worn)
    from_flat = photo_preparation.prepare_garment(flat)
    # la silhouette disparaît : l'image vue par le modèle est celle du T-shirt seul, à peu près
    assert np.abs(from_worn - from_flat).mean() < 0.1
    assert np.abs(photo_preparation.prepare_foreground(worn) - from_flat).mean() > 2 * np.abs(from_worn - from_flat).mean()


def test_no_person_in_flat_lays_or_on_skin_coloured_floors(tmp_path):
    cases = {}
    flat = Image.new("RGB", (300, 400), (120, 120, 125))                          # T-shirt à plat sur du gris
    tshirt = figures.drawn_tshirt((40, 90, 160), size=(200, 170))
    flat.paste(tshirt, (50, 110), tshirt)
    cases["à plat"] = flat
    floor = Image.new("RGB", (300, 400), (205, 150, 115))                         # parquet couleur peau
    floor.paste(tshirt, (50, 110), tshirt)
    cases["parquet"] = floor
    patch = Image.new("RGB", (300, 400), (120, 120, 125))                         # tache couleur peau en bas
    patch.paste(tshirt, (50, 60), tshirt)
    ImageDraw.Draw(patch).ellipse((130, 300, 170, 350), fill=figures.SKIN)
    cases["tache en bas"] = patch
    hanger = Image.new("RGB", (300, 400), (240, 235, 230))                        # bois clair au-dessus, sans épaules
    ImageDraw.Draw(hanger).ellipse((135, 20, 165, 60), fill=(215, 165, 130))
    hanger.paste(tshirt, (50, 160), tshirt)
    cases["cintre"] = hanger
    found = {}
    for name, image in cases.items():
        path = save(image, tmp_path, "photo.png")
        small, foreground, _ = photo_preparation.garment_region(path)
        found[name] = photo_person.find_face(np.asarray(small), foreground)
        if found[name] is None:                                                   # rien ne change
            np.testing.assert_array_equal(photo_preparation.prepare_garment(path),
                                          photo_preparation.prepare_foreground(path))
    assert found == {name: None for name in cases}


def test_shoe_pointing_right_is_turned_left(tmp_path):
    left = save(figures.drawn_shoe("left"), tmp_path, "gauche.png")
    right = save(figures.drawn_shoe("right"), tmp_path, "droite.png")
    _, left_mask, _ = photo_preparation.garment_region(left)
    _, right_mask, _ = photo_preparation.garment_region(right)
    assert photo_person.points_right(right_mask) and not photo_person.points_right(left_mask)
    turned = photo_preparation.prepare_garment(right)
    np.testing.assert_allclose(turned, photo_preparation.prepare_garment(left), atol=1e-6)
    np.testing.assert_allclose(turned, photo_preparation.prepare_foreground(left), atol=1e-6)
    # dans l'image vue par le modèle, la tige (le plus de pixels allumés) est à droite
    columns = (turned > 0).sum(axis=0)
    assert columns[14:].sum() > columns[:14].sum()


def test_only_lying_objects_taller_on_the_left_are_turned():
    standing = np.zeros((40, 20), dtype=bool)
    standing[:, 5:15] = True
    standing[:10, :5] = True                                                      # plus haut à gauche, mais debout
    assert not photo_person.points_right(standing)
    flat_box = np.zeros((20, 60), dtype=bool)
    flat_box[5:15, 5:55] = True                                                   # couché, symétrique
    assert not photo_person.points_right(flat_box)
    assert not photo_person.points_right(np.zeros((10, 10), dtype=bool))
    intensity = np.arange(60.0).reshape(1, 60).repeat(20, axis=0)
    shoe = np.zeros((20, 60), dtype=bool)
    shoe[2:18, 2:20] = True                                                       # tige à gauche
    shoe[12:18, 20:58] = True                                                     # bout à droite
    turned_intensity, turned_mask = photo_person.point_left(intensity, shoe)
    np.testing.assert_array_equal(turned_mask, shoe[:, ::-1])
    np.testing.assert_array_equal(turned_intensity, intensity[:, ::-1])
