"""Au-delà du labo : le vêtement porté par une personne, et les chaussures tournées vers la gauche.

Fashion-MNIST ne montre que des vêtements seuls, chaussures pointées vers la gauche. Sur une photo
de boutique, un haut est porté : visage, cheveux, bras et jean sont dans le cadre, et GrabCut
(photo_preparation.foreground_mask) les garde avec le vêtement. Ici, sans rien télécharger :
- find_face : un visage, c'est-à-dire une tache de couleur de peau (modèles YCrCb, du plus sûr aux
  teintes les plus claires et les plus foncées) de la taille d'un visage, en haut et au milieu de
  la photo, qui dépasse du premier plan (la tête au-dessus des épaules) ; un sol ou un lit couleur
  peau, trop grand ou collé aux bords, ou une tache couleur peau dans un motif, entourée de tissu,
  n'en est pas un ;
- worn_garment_mask : la personne trouvée, on ne garde que le vêtement montré, celui du buste sous
  le visage, par un second GrabCut amorcé par ce buste (tête, peau de la teinte du visage et fond
  écartés) ;
- points_right / point_left : une chaussure vue de côté dont la partie haute (tige, talon) est à
  gauche pointe vers la droite : on la retourne.
Les photos à plat, sur cintre ou détourées (pas de visage) restent telles quelles.
"""
from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage as ndi

#: Modèles de couleur de peau dans l'espace YCrCb d'OpenCV (luminance Y, Cr, Cb entre 0 et 255).
#: « usuelle » : bornes usuelles, luminance hors des noirs et des blancs (ombres, reflets) ; elles ne
#: couvrent pas les teintes les plus claires ni les plus foncées (échelle Monk 1 à 3 et 9, 10).
#: « claire » et « foncée » les couvrent, mais touchent un tissu crème ou des cheveux bruns : find_face
#: ne les essaie que si la première ne trouve aucun visage.
SKIN_MODELS = {
    "usuelle": {"y": (60, 245), "cr": (138, 175), "cb": (80, 125)},
    "claire": {"y": (195, 250), "cr": (131, 142), "cb": (100, 126)},
    "foncée": {"y": (25, 75), "cr": (129, 150), "cb": (100, 127)},
}
#: Écart minimal Cr − Cb : la peau tire vers le rouge ; un blanc, un gris ou un noir neutres
#: (Cr = Cb = 128), non.
SKIN_WARMTH = 4
#: Écart de Cr et de Cb à la couleur du visage au-delà duquel un pixel couleur peau n'est pas la peau
#: de cette personne (un vêtement beige ou brun d'une autre teinte).
FACE_COLOUR_TOLERANCE = 10
#: Part minimale du premier plan sous le menton que doit couvrir le vêtement porté gardé ; en dessous,
#: le « visage » était une capuche, un col ou une ceinture d'un vêtement à plat (worn_garment_mask).
MIN_GARMENT_SHARE = 0.2


class Face(NamedTuple):
    """Boîte d'un visage trouvé, en pixels de l'image analysée (bas et droite exclus), et le modèle
    de couleur de peau (SKIN_MODELS) qui l'a trouvé."""
    top: int
    bottom: int
    left: int
    right: int
    skin: str = "usuelle"

    @property
    def height(self):
        return self.bottom - self.top

    @property
    def width(self):
        return self.right - self.left


def to_ycrcb(rgb):
    """Image RGB uint8 (h, w, 3) -> la même dans l'espace YCrCb d'OpenCV, en entiers signés."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2YCrCb).astype(np.int16)


def skin_mask(rgb, model="usuelle", ycrcb=None):
    """Pixels couleur de peau (modèle de SKIN_MODELS) d'une image RGB uint8 (h, w, 3) : masque (h, w).
    ycrcb : la même image déjà passée par to_ycrcb, pour ne pas la convertir une seconde fois."""
    ycrcb = to_ycrcb(rgb) if ycrcb is None else ycrcb
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    bounds = SKIN_MODELS[model]
    return ((bounds["y"][0] <= y) & (y <= bounds["y"][1]) & (bounds["cr"][0] <= cr) & (cr <= bounds["cr"][1])
            & (bounds["cb"][0] <= cb) & (cb <= bounds["cb"][1]) & (cr - cb >= SKIN_WARMTH))


def skin_like_face(rgb, face, tolerance=FACE_COLOUR_TOLERANCE):
    """La peau de la personne du visage face : pixels couleur de peau (skin_mask) dont Cr et Cb sont
    à moins de tolerance de leurs médianes sur le visage (cou, bras, jambes de la même teinte)."""
    ycrcb = to_ycrcb(rgb)
    skin = skin_mask(rgb, face.skin, ycrcb)
    on_face = np.zeros_like(skin)
    on_face[face.top:face.bottom, face.left:face.right] = True
    on_face &= skin
    if not on_face.any():
        return skin
    cr, cb = np.median(ycrcb[..., 1][on_face]), np.median(ycrcb[..., 2][on_face])
    return skin & (np.abs(ycrcb[..., 1] - cr) <= tolerance) & (np.abs(ycrcb[..., 2] - cb) <= tolerance)


def find_face(rgb, foreground, min_area=0.006, max_area=0.08, top_share=0.45, shoulders=1.6, head=1.8):
    """Le visage d'une personne qui porte le vêtement, ou None.

    Candidat : une tache de peau (ouverte, trous bouchés) de min_area à max_area de l'image, son
    centre dans la partie haute (top_share) et dans les 60 % du milieu en largeur, à peu près
    ovale (hauteur/largeur de 0,8 à 2,4, remplissage d'au moins 45 % de sa boîte), qui ne touche
    ni les bords gauche, droit ou bas, et au moins aux deux tiers dans le premier plan. La tête
    dépasse des épaules : à mi-hauteur du visage, le premier plan est au plus `head` fois plus large
    que lui (une tache couleur peau dans un motif ou un tissu est entourée de vêtement), et sur la
    hauteur d'un visage sous lui, au moins `shoulders` fois plus large (épaules, manches). Le plus
    grand candidat est gardé. Les modèles de couleur de peau de SKIN_MODELS sont essayés dans l'ordre,
    jusqu'au premier qui trouve un visage.
    """
    for model in SKIN_MODELS:
        face = _largest_face(rgb, foreground, model, min_area, max_area, top_share, shoulders, head)
        if face is not None:
            return face
    return None


def _largest_face(rgb, foreground, model, min_area, max_area, top_share, shoulders, head):
    """find_face avec un seul modèle de couleur de peau."""
    foreground = np.asarray(foreground, dtype=bool)
    h, w = foreground.shape
    skin = ndi.binary_fill_holes(ndi.binary_opening(skin_mask(rgb, model), iterations=1))
    labels, _ = ndi.label(skin)
    best, best_area = None, 0
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        rows, cols = box
        blob = labels[box] == index
        area = int(blob.sum())
        box_h, box_w = rows.stop - rows.start, cols.stop - cols.start
        centre_y, centre_x = (rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2
        if not (min_area * h * w <= area <= max_area * h * w):
            continue
        if centre_y > top_share * h or not (0.2 * w <= centre_x <= 0.8 * w):
            continue
        if not (0.8 <= box_h / box_w <= 2.4) or area < 0.45 * box_h * box_w:
            continue
        if cols.start == 0 or cols.stop == w or rows.stop == h:
            continue
        if foreground[box][blob].sum() < 2 / 3 * area:
            continue
        middle = (rows.start + rows.stop) // 2
        below = foreground[rows.stop:min(h, rows.stop + box_h)].sum(axis=1)   # les épaules, les manches
        if foreground[middle].sum() > head * box_w or below.size == 0 or below.max() < shoulders * box_w:
            continue
        if area > best_area:
            best, best_area = Face(rows.start, rows.stop, cols.start, cols.stop, model), area
    return best


def worn_garment_mask(rgb, foreground, face, iterations=4):
    """Le vêtement porté sous le visage : masque booléen (h, w).

    Buste : les lignes de premier plan du menton à 1,2 hauteur de visage plus bas, sans la peau
    (skin_like_face : de la teinte du visage, pour ne pas écarter un vêtement beige ou brun).
    GrabCut est relancé avec : fond sûr hors du premier plan, au-dessus du menton et sur la peau
    (bras, cou, jambes) ; vêtement sûr au cœur du buste ; vêtement probable dans le reste du buste ;
    fond probable ailleurs dans le premier plan (un jean, un sac). Ce qui est relié au buste est
    gardé, trous bouchés. Sans buste exploitable : le premier plan sous le menton, sans la peau. Si
    ce qui est gardé couvre moins de MIN_GARMENT_SHARE du premier plan sous le menton, ce n'était pas
    une personne (une capuche, un col d'un vêtement à plat) : le premier plan est rendu tel quel.
    """
    foreground = np.asarray(foreground, dtype=bool)
    garment = _torso_garment(rgb, foreground, face, iterations)
    below_chin = foreground.copy()
    below_chin[:face.bottom] = False
    return garment if garment.sum() >= MIN_GARMENT_SHARE * below_chin.sum() else foreground


def _torso_garment(rgb, foreground, face, iterations):
    """Le vêtement du buste selon worn_garment_mask, sans la vérification finale."""
    h, w = foreground.shape
    skin = ndi.binary_dilation(skin_like_face(rgb, face), iterations=1)
    chin = face.bottom                                  # le cou, s'il est nu, fait partie du visage
    below_chin = np.zeros((h, w), dtype=bool)
    below_chin[chin:] = True
    band = np.zeros((h, w), dtype=bool)
    band[chin:min(h, chin + face.height * 6 // 5)] = True
    band &= foreground & ~skin
    fallback = foreground & below_chin & ~skin
    core = ndi.binary_erosion(band, iterations=2)
    if core.sum() < 20 or fallback.sum() < 0.02 * h * w:
        return fallback if fallback.any() else foreground

    mask = np.full((h, w), cv2.GC_BGD, dtype=np.uint8)
    mask[foreground & below_chin] = cv2.GC_PR_BGD
    mask[band] = cv2.GC_PR_FGD
    mask[core] = cv2.GC_FGD
    mask[skin | ~below_chin] = cv2.GC_BGD
    data = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(data, mask, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return fallback
    garment = ndi.binary_opening((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), iterations=1)
    labels, _ = ndi.label(garment)
    touching = np.unique(labels[band & garment])
    garment = ndi.binary_fill_holes(np.isin(labels, touching[touching > 0]))
    return garment if garment.sum() >= 0.5 * core.sum() else fallback


def points_right(mask, min_aspect=1.25, ratio=1.15):
    """True si l'objet du masque est couché (largeur >= min_aspect × hauteur) et plus haut à gauche
    qu'à droite (moyenne des hauteurs de colonnes du tiers gauche > ratio × celle du tiers droit) :
    une chaussure vue de côté, tige ou talon à gauche, qui pointe donc vers la droite."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return False
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    if width < min_aspect * height or width < 6:
        return False
    heights = mask[:, cols[0]:cols[-1] + 1].sum(axis=0)
    third = width // 3
    return bool(heights[:third].mean() > ratio * heights[-third:].mean())


def point_left(intensity, mask):
    """(intensité, masque) retournés de gauche à droite si l'objet pointe vers la droite
    (points_right), tels quels sinon : Fashion-MNIST n'a que des chaussures tournées vers la gauche."""
    if points_right(mask):
        return np.ascontiguousarray(np.asarray(intensity)[:, ::-1]), np.ascontiguousarray(np.asarray(mask)[:, ::-1])
    return intensity, mask
