"""Préparer une photo pour le modèle : une image 28 × 28, vêtement clair sur fond noir, dans [0, 1].

Quatre préparations (PREPARATIONS) :
- « labo » : celle du labo (load_and_preprocess_image et ses trois fonctions, que test_model.ipynb
  écrit dans une cellule ; la copie ci-dessous sert aux scripts et aux tests, qui vérifient que
  les deux donnent la même image) ;
- « fashion_mnist » : la recette qui a fabriqué Fashion-MNIST (rognage, réduction, inversion) ;
- « premier_plan » : le vêtement isolé du fond par GrabCut (OpenCV), contraste étiré, recadré ;
- « vetement_seul » : premier_plan, plus le vêtement seul quand une personne le porte et les
  chaussures tournées vers la gauche (photo_person).
"""
import concurrent.futures
import multiprocessing
import os
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage as ndi
from tqdm.auto import tqdm

import photo_cache
import photo_person
from fashion_data import IMAGE_SIZE
from photo_files import (DEFAULT_MAX_PIXELS, PhotoError, check_photo_usable, convert_to_gray, convert_to_rgb,
                         list_photos,
                         open_photo, open_photo_upright, photos_for_fine_tuning)

#: Taille (plus grand côté, en pixels) de la photo réduite où GrabCut cherche le vêtement. 240 plutôt
#: que 160 : mesuré sur la moitié « dev » de photos-dev (trois découpages), le détourage plus fin
#: reconnaît un peu mieux les vêtements après l'affinage (0,738 contre 0,731), pour 95 ms de
#: préparation par photo au lieu de 54.
WORK_SIZE = 240

# ---------------------------------------------------------------------------
# La préparation du labo (Pillow)
# ---------------------------------------------------------------------------

def resize_with_aspect_ratio(image, target_dimension):
    """Redimensionne pour que le plus grand côté fasse target_dimension (proportions gardées), puis accentue."""
    width, height = image.size
    if width > height:
        new_width = target_dimension
        new_height = max(1, round(target_dimension * height / width))
    else:
        new_height = target_dimension
        new_width = max(1, round(target_dimension * width / height))
    resized = image.resize((new_width, new_height), Image.Resampling.LANCZOS)
    return resized.filter(ImageFilter.SHARPEN)


def create_centered_image(image, canvas_size):
    """Colle l'image au centre d'un carré blanc canvas_size x canvas_size (mode 'L')."""
    canvas = Image.new("L", (canvas_size, canvas_size), 255)
    width, height = image.size
    canvas.paste(image, ((canvas_size - width) // 2, (canvas_size - height) // 2))
    return canvas


def normalize_pixels(image):
    """Inverse et normalise : (255 - pixel) / 255 en float32 (fond blanc -> 0, objet sombre -> 1)."""
    pixels = np.asarray(image, dtype=np.float32)
    return ((255.0 - pixels) / 255.0).astype(np.float32)


def load_and_preprocess_image(image_path, target_size=28, content_size=20, *,
                              max_pixels=DEFAULT_MAX_PIXELS):
    """Photo -> tableau (1, target_size, target_size, 1) float32 dans [0, 1], prêt pour model.predict.

    Ouverture robuste en gris (open_photo), plus grand côté ramené à content_size, centrage sur
    un carré blanc target_size, inversion/normalisation. Lève PhotoError si la photo est illisible.
    """
    if not 1 <= content_size <= target_size:
        raise ValueError(
            f"content_size={content_size} doit être compris entre 1 et target_size={target_size} : "
            "l'objet doit tenir dans l'image finale (valeurs du TP : 20 et 28)."
        )
    image = open_photo(image_path, max_pixels=max_pixels)
    image = resize_with_aspect_ratio(image, content_size)
    image = create_centered_image(image, target_size)
    image_array = normalize_pixels(image)
    return image_array.reshape(1, target_size, target_size, 1)


# ---------------------------------------------------------------------------
# Au-delà du labo : au plus près de Fashion-MNIST
# ---------------------------------------------------------------------------
# Une préparation prend le chemin d'une photo et renvoie un tableau (28, 28) float32 dans [0, 1],
# vêtement clair sur fond noir, comme les images de Fashion-MNIST.

def _corner_level(gray, patch=3):
    """Niveau de gris du fond : médiane des 4 coins (patch x patch pixels), robuste au bruit JPEG."""
    p = max(1, min(patch, gray.shape[0] // 2, gray.shape[1] // 2))
    corners = np.concatenate([gray[:p, :p].ravel(), gray[:p, -p:].ravel(),
                              gray[-p:, :p].ravel(), gray[-p:, -p:].ravel()])
    return float(np.median(corners))


def _median_smoothed(gray):
    """Filtre médian 3x3 (sauf sur une image de moins de 3 pixels de côté) : efface le bruit JPEG."""
    return ndi.median_filter(gray, size=3) if min(gray.shape) >= 3 else gray


def trim_box(gray, tolerance=0.1, min_fraction=0.02):
    """Boîte (gauche, haut, droite, bas) du contenu qui diffère de la couleur des coins.

    gray : tableau 2D uint8. Un pixel est du contenu si |gris - fond| > tolerance * 255 après un
    filtre médian 3x3 et une ouverture 3x3 (le bruit JPEG isolé ne compte pas) ; une ligne ou une
    colonne n'est gardée que si au moins min_fraction de ses pixels sont du contenu. Image
    uniforme : rien n'est rogné.
    """
    gray = np.asarray(gray)
    height, width = gray.shape
    smooth = _median_smoothed(gray)
    content = np.abs(smooth.astype(np.float32) - _corner_level(smooth)) > tolerance * 255.0
    if min(height, width) >= 9:
        content = ndi.binary_opening(content, structure=np.ones((3, 3), bool))
    rows = np.flatnonzero(content.sum(axis=1) >= max(1.0, min_fraction * width))
    cols = np.flatnonzero(content.sum(axis=0) >= max(1.0, min_fraction * height))
    if rows.size == 0 or cols.size == 0:
        return 0, 0, width, height
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def prepare_like_fashion_mnist(image_path, tolerance=0.1, target_size=IMAGE_SIZE, max_pixels=DEFAULT_MAX_PIXELS):
    """La recette qui a fabriqué Fashion-MNIST (Xiao, Rasul et Vollgraf, 2017, section 2).

    Sur la photo en gris : rognage des bords de la couleur des coins (tolerance, fraction de 255 ;
    l'article prend 5 %, une photo JPEG prise à la maison demande plus), plus grand côté ramené à
    target_size, accentuation, extension au carré centré avec la couleur du fond, inversion.
    Un fond blanc devient noir ; un fond gris ou encombré reste visible.
    """
    gray = open_photo(image_path, max_pixels=max_pixels)
    factor = max(1, max(gray.size) // 256)           # rognage calculé sur une réduction : même boîte
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray)
    left, top, right, bottom = trim_box(small, tolerance=tolerance)
    box = (left * factor, top * factor, min(gray.width, right * factor), min(gray.height, bottom * factor))
    background = int(round(_corner_level(_median_smoothed(small))))
    item = ImageOps.contain(gray.crop(box), (target_size, target_size), Image.Resampling.LANCZOS)
    item = item.filter(ImageFilter.UnsharpMask(radius=1.0, percent=100, threshold=0))
    canvas = Image.new("L", (target_size, target_size), background)
    canvas.paste(item, ((target_size - item.width) // 2, (target_size - item.height) // 2))
    return normalize_pixels(canvas)


def main_central_components(mask, central=0.5, keep_share=0.3):
    """Garde, trous bouchés, la plus grande composante connexe qui touche la zone centrale
    (central : son côté, en fraction de l'image) et les autres composantes centrales au moins
    keep_share fois aussi grandes (la seconde chaussure d'une paire) ; sans composante au centre,
    la plus grande."""
    mask = np.asarray(mask, dtype=bool)
    labels, count = ndi.label(mask)
    if count == 0:
        return mask
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[0] = 0
    h, w = mask.shape
    mh, mw = int(h * (1 - central) / 2), int(w * (1 - central) / 2)
    centre_labels = np.unique(labels[mh:h - mh, mw:w - mw])
    centre_labels = centre_labels[centre_labels > 0]
    candidates = centre_labels if centre_labels.size else np.arange(1, count + 1)
    best = candidates[np.argmax(areas[candidates])]
    kept = candidates[areas[candidates] >= keep_share * areas[best]] if centre_labels.size else [best]
    return ndi.binary_fill_holes(np.isin(labels, kept))


def foreground_mask(rgb, work_size=WORK_SIZE, iterations=4, margin=0.05):
    """Masque booléen du vêtement par GrabCut (OpenCV), sur la photo réduite à work_size pixels.

    GrabCut part d'un rectangle central (margin de chaque côté : probablement le fond) et sépare
    les couleurs du vêtement de celles du fond ; on garde la ou les principales composantes centrales.
    Renvoie (masque, image réduite). Rien de trouvé : toute la photo.
    """
    small = ImageOps.contain(rgb.convert("RGB"), (work_size, work_size), Image.Resampling.BILINEAR)
    data = np.ascontiguousarray(np.asarray(small, dtype=np.uint8)[:, :, ::-1])
    h, w = data.shape[:2]
    mask = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
    mh, mw = max(1, int(h * margin)), max(1, int(w * margin))
    mask[mh:h - mh, mw:w - mw] = cv2.GC_PR_FGD
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    cv2.setRNGSeed(0)                                # même résultat à chaque appel
    try:
        cv2.grabCut(data, mask, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations,
                    cv2.GC_INIT_WITH_MASK)
        found = ndi.binary_opening((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), iterations=1)
        found = main_central_components(found)
    except cv2.error:                                # image trop petite ou uniforme
        found = np.zeros((h, w), dtype=bool)
    if found.sum() < 0.01 * found.size:
        found = np.ones((h, w), dtype=bool)
    return found, small


def stretch_contrast(values, low_percentile=2.0, high_percentile=98.0, floor=0.0):
    """Étire des intensités : percentile bas -> floor, percentile haut -> 1 (écrêté dans [floor, 1])."""
    values = np.asarray(values, dtype=np.float32)
    if values.size == 0:
        return values
    low, high = np.percentile(values, [low_percentile, high_percentile])
    if high - low < 1e-6:
        return np.full_like(values, 1.0)
    return (floor + (1.0 - floor) * np.clip((values - low) / (high - low), 0.0, 1.0)).astype(np.float32)


def garment_intensity(gray, mask, floor=0.2):
    """Intensité du vêtement (0 hors du masque) : gris inversé comme Fashion-MNIST (sombre -> clair),
    étiré vers [floor, 1] pour qu'un vêtement clair reste visible sur le fond noir."""
    gray = np.asarray(gray, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    intensity = np.zeros_like(gray)
    intensity[mask] = stretch_contrast(255.0 - gray[mask], floor=floor)
    return intensity


def center_by_mass(item, canvas_size=IMAGE_SIZE):
    """Place item (2D, >= 0) dans un carré noir, son centre de masse au centre, sans jamais le couper."""
    item = np.asarray(item, dtype=np.float32)
    h, w = item.shape
    if h > canvas_size or w > canvas_size:
        raise ValueError(f"objet {h}x{w} plus grand que le carré {canvas_size}")
    centre = (canvas_size - 1) / 2.0
    cy, cx = ndi.center_of_mass(item) if item.sum() > 0 else ((h - 1) / 2.0, (w - 1) / 2.0)
    top = int(np.clip(round(centre - cy), 0, canvas_size - h))
    left = int(np.clip(round(centre - cx), 0, canvas_size - w))
    canvas = np.zeros((canvas_size, canvas_size), dtype=np.float32)
    canvas[top:top + h, left:left + w] = item
    return canvas


def garment_to_28(intensity, mask, content_size=24, canvas_size=IMAGE_SIZE):
    """Vêtement (intensité 2D dans [0, 1], masque) -> carré noir canvas_size : rognage à la boîte
    du masque, plus grand côté à content_size, fond à 0, centrage par centre de masse."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((canvas_size, canvas_size), dtype=np.float32)
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    item = Image.fromarray(np.where(mask[crop], intensity[crop], 0.0).astype(np.float32))
    item_mask = Image.fromarray(mask[crop].astype(np.float32))
    item = ImageOps.contain(item, (content_size, content_size), Image.Resampling.LANCZOS)
    item_mask = item_mask.resize(item.size, Image.Resampling.BILINEAR)
    small = np.clip(np.asarray(item), 0.0, 1.0) * (np.asarray(item_mask) > 0.25)
    return center_by_mass(small, canvas_size)


def garment_region(image_path, work_size=WORK_SIZE, worn=False, max_pixels=DEFAULT_MAX_PIXELS):
    """La région de la photo donnée au modèle : (photo réduite à work_size pixels, en RGB ;
    masque booléen du vêtement ; gris de la photo réduite).

    Masque : GrabCut (foreground_mask). worn=True : si une personne porte le vêtement
    (photo_person.find_face), seul le vêtement de son buste est gardé (photo_person.worn_garment_mask).
    """
    upright = open_photo_upright(image_path, max_pixels=max_pixels)
    mask, small = foreground_mask(convert_to_rgb(upright), work_size=work_size)
    if worn:
        rgb = np.asarray(small.convert("RGB"), dtype=np.uint8)
        face = photo_person.find_face(rgb, mask)
        if face is not None:
            mask = photo_person.worn_garment_mask(rgb, mask, face)
    gray = np.asarray(convert_to_gray(upright).resize(small.size, Image.Resampling.BILINEAR), dtype=np.float32)
    return small, mask, gray


def prepare_foreground(image_path, content_size=24, floor=0.2, work_size=WORK_SIZE, max_pixels=DEFAULT_MAX_PIXELS):
    """Photo au fond encombré -> (28, 28) float32 dans [0, 1] : le vêtement seul, clair, fond à 0.

    Vêtement séparé du fond par GrabCut (foreground_mask), intensité inversée et étirée
    (garment_intensity), rognage, plus grand côté à content_size, centrage par centre de masse.
    Réglage choisi sur la moitié « dev » de photos-dev : content_size 24 plutôt que 20 ou 28.
    """
    _, mask, gray = garment_region(image_path, work_size=work_size, max_pixels=max_pixels)
    return garment_to_28(garment_intensity(gray, mask, floor=floor), mask, content_size=content_size)


def prepare_garment(image_path, content_size=24, floor=0.2, work_size=WORK_SIZE, max_pixels=DEFAULT_MAX_PIXELS):
    """Comme prepare_foreground, et en plus : sur une photo où une personne porte le vêtement,
    le vêtement de son buste seul (sans tête, peau ni jean) ; un objet couché qui pointe vers la
    droite (une chaussure vue de côté) retourné vers la gauche, comme dans Fashion-MNIST."""
    _, mask, gray = garment_region(image_path, work_size=work_size, worn=True, max_pixels=max_pixels)
    intensity, mask = photo_person.point_left(garment_intensity(gray, mask, floor=floor), mask)
    return garment_to_28(intensity, mask, content_size=content_size)


def prepare_lab(image_path, **kwargs):
    """La préparation du labo (load_and_preprocess_image), au format (28, 28)."""
    return load_and_preprocess_image(image_path, **kwargs)[0, :, :, 0]


def region_picture(image_path, preparation="premier_plan", work_size=WORK_SIZE, max_pixels=DEFAULT_MAX_PIXELS):
    """La photo (réduite à work_size pixels, RGB) où ce que la préparation ne donne pas au modèle
    est assombri et grisé : le masque du vêtement pour « premier_plan » et « vetement_seul », la
    boîte rognée pour « fashion_mnist », toute la photo pour « labo »."""
    if preparation in ("premier_plan", "vetement_seul"):
        small, mask, _ = garment_region(image_path, work_size=work_size, worn=preparation == "vetement_seul",
                                        max_pixels=max_pixels)
        small = small.convert("RGB")
    else:
        small = ImageOps.contain(convert_to_rgb(open_photo_upright(image_path, max_pixels=max_pixels)),
                                 (work_size, work_size), Image.Resampling.BILINEAR)
        mask = np.ones((small.height, small.width), dtype=bool)
        if preparation == "fashion_mnist":
            left, top, right, bottom = trim_box(np.asarray(small.convert("L")))
            mask[:] = False
            mask[top:bottom, left:right] = True
    rgb = np.asarray(small, dtype=np.float32)
    dimmed = 0.15 * rgb + 0.2 * rgb.mean(axis=2, keepdims=True)
    edge = mask & ~ndi.binary_erosion(mask, iterations=1)
    out = np.where(mask[..., None], rgb, dimmed)
    out[edge] = (255, 200, 0)
    return Image.fromarray(out.astype(np.uint8))


#: Les préparations de photos : nom -> fonction(chemin) -> tableau (28, 28) dans [0, 1].
PREPARATIONS = {
    "labo": prepare_lab,
    "fashion_mnist": prepare_like_fashion_mnist,
    "premier_plan": prepare_foreground,
    "vetement_seul": prepare_garment,
}


#: Version de chaque préparation, dans la clé du cache (photo_cache) : à augmenter quand une
#: préparation ou une fonction qu'elle appelle change ce qu'elle produit.
PREPARATION_VERSIONS = {"labo": 1, "fashion_mnist": 1, "premier_plan": 2, "vetement_seul": 4}


#: En deçà de cet écart entre ses pixels le plus clair et le plus sombre, une image préparée est unie.
UNIFORM_LEVEL = 0.02


class PhotoFailure(NamedTuple):
    """Une photo que prepare_photos n'a pas pu préparer."""
    path: Path
    unreadable: bool     # True : la photo elle-même est illisible (PhotoError) ; False : la préparation a échoué
    message: str         # en français, avec le nom du fichier


#: À partir de ce nombre de photos à préparer (hors cache), elles sont préparées en parallèle, un
#: processus par cœur : GrabCut n'occupe qu'un cœur.
PARALLEL_FROM = 48


def _prepare_one(task):
    """Prépare une photo, dans ce processus ou dans un autre : ("ok", image), ("photo", message) si
    la photo est illisible, ou ("erreur", message) si la préparation a échoué."""
    path, preparation, kwargs = task
    try:
        check_photo_usable(path)
        image = np.asarray(PREPARATIONS[preparation](path, **kwargs), dtype=np.float32)
        return "ok", np.clip(image, 0.0, 1.0)
    except PhotoError as exc:
        return "photo", str(exc)
    except Exception as exc:  # noqa: BLE001 - une préparation qui échoue sur une photo n'arrête pas les autres
        return "erreur", f"« {path.name} » n'a pas pu être préparée ({type(exc).__name__} : {exc})."


def available_cores():
    """Le nombre de cœurs dont ce processus dispose."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # macOS, Windows
        return os.cpu_count() or 1


def _prepared(tasks, workers, progress):
    """Les résultats de _prepare_one, dans l'ordre des tâches : en parallèle dans `workers`
    processus neufs (« spawn », sûr à côté de TensorFlow) à partir de PARALLEL_FROM tâches, sinon ici."""
    bar = tqdm(total=len(tasks), unit="photo", desc="Préparation des photos", disable=not progress, leave=False)
    with bar:
        if workers > 1 and len(tasks) >= PARALLEL_FROM:
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = []
                for result in pool.map(_prepare_one, tasks, chunksize=4):
                    results.append(result)
                    bar.update()
                return results
        results = []
        for task in tasks:
            results.append(_prepare_one(task))
            bar.update()
        return results


def prepare_photos(paths, preparation="labo", cache=True, workers=None, progress=False, **kwargs):
    """Prépare plusieurs photos ; une photo qui pose problème n'arrête pas les autres.

    paths : liste de chemins, ou un dossier (ses photos, via list_photos). preparation : nom d'une
    préparation de PREPARATIONS ; kwargs lui sont transmis. cache : reprendre et garder les images
    préparées dans le cache (photo_cache), pour ne pas refaire GrabCut à chaque exécution.
    workers : processus de préparation (par défaut, un par cœur) ; progress : barre de progression.
    Renvoie (lot (n, 28, 28, 1) float32, chemins réussis, liste de PhotoFailure).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = list_photos(paths) if Path(paths).is_dir() else [paths]
    paths = [Path(path) for path in paths]
    if preparation not in PREPARATIONS:
        raise ValueError(f"Préparation inconnue : « {preparation} » (connues : {', '.join(PREPARATIONS)}).")
    version = PREPARATION_VERSIONS.get(preparation)              # sans version connue, pas de cache
    folder = photo_cache.cache_folder() if cache and version is not None else None
    results, keys = {}, {}
    for path in paths:
        if folder is not None and path.is_file():
            keys[path] = photo_cache.cache_key(path, preparation, version, kwargs)
            image = photo_cache.load_prepared(folder, keys[path])
            if image is not None:
                results[path] = ("ok", image)
    missing = [path for path in paths if path not in results]
    for path, result in zip(missing, _prepared([(path, preparation, kwargs) for path in missing],
                                               workers or available_cores(), progress)):
        results[path] = result
        if result[0] == "ok" and path in keys:
            photo_cache.store_prepared(folder, keys[path], result[1])

    arrays, ok_paths, failures = [], [], []
    for path in paths:
        status, value = results[path]
        if status != "ok":
            failures.append(PhotoFailure(path, status == "photo", value))
        elif np.ptp(value) < UNIFORM_LEVEL:
            failures.append(PhotoFailure(path, False, f"Aucun vêtement trouvé sur « {path.name} » : "
                                         "l'image préparée est unie. Choisissez une photo où le vêtement se "
                                         "détache du fond."))
        else:
            arrays.append(value)
            ok_paths.append(path)
    size = kwargs.get("target_size", IMAGE_SIZE)
    batch = np.stack(arrays)[..., None] if arrays else np.zeros((0, size, size, 1), dtype=np.float32)
    return batch.astype(np.float32), ok_paths, failures


def prepared_photo_split(folder, split, preparation="premier_plan", keep_out_folder=None, progress=False):
    """La partie `split` d'un dossier de photos rangées par classe, sans les photos de keep_out_folder
    (photos_for_fine_tuning), passée par `preparation` (prepare_photos : cache, en parallèle, barre
    de progression si progress). Renvoie (lot (n, 28, 28, 1), classes (n,), nombre de photos
    écartées, échecs)."""
    entries, n_kept_out = photos_for_fine_tuning(folder, split, keep_out_folder)
    images, read_paths, failures = prepare_photos([path for path, _ in entries], preparation, progress=progress)
    label_of = dict(entries)
    return images, np.array([label_of[path] for path in read_paths], dtype=int), n_kept_out, failures
