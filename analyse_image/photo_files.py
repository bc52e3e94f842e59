"""Les photos sur le disque : ouvrir n'importe quelle photo avec soin, lister un dossier, lire les
classes attendues (images/labels.csv), partager un dossier de photos rangées par classe en deux
moitiés fixes « dev » et « holdout ».
"""
import hashlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from safe_files import file_sha256

try:                                        # photos HEIC/HEIF des iPhone : lues par le greffon pillow-heif
    from pillow_heif import register_heif_opener
except ImportError:                         # sans lui, list_photos les signale et dit comment les convertir
    HEIF_SUPPORTED = False
else:
    register_heif_opener()
    HEIF_SUPPORTED = True


# Extensions reconnues par list_photos (comparées en minuscules).
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif"})

# Au-delà, la photo est refusée avant décodage (protection contre les « bombes de décompression »).
DEFAULT_MAX_PIXELS = 40_000_000

# En deçà (plus petit côté, en pixels) ou au-delà (rapport des côtés), ce n'est pas une photo de vêtement.
MIN_SIDE = 8
MAX_ASPECT_RATIO = 50
# En deçà de cet écart entre ses gris le plus clair et le plus sombre (sur 255), une photo est unie.
UNIFORM_CONTRAST = 8

# Modes avec canal alpha : composés sur fond blanc avant le passage en gris.
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})
# Modes dont la transparence peut venir d'une couleur transparente (info["transparency"]).
_TRNS_MODES = frozenset({"1", "L", "P", "RGB"})
# Modes de plus de 8 bits par pixel (entiers 16/32 bits, flottants).
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


class PhotoError(ValueError):
    """Photo absente, illisible ou refusée ; le message dit quoi faire."""


def _fmt_int(n):
    """Entier avec espaces comme séparateurs de milliers (usage français)."""
    return f"{n:,}".replace(",", " ")


def _wide_to_gray(image):
    """Image 16/32 bits ou flottante -> 'L' en ramenant sa vraie plage à 0..255 (sans écrêtage)."""
    data = np.asarray(image).astype(np.float64)
    finite = np.isfinite(data)
    if not finite.any():
        return Image.new("L", image.size, 255)
    low, high = float(data[finite].min()), float(data[finite].max())
    if image.mode.startswith("I;16"):
        scale_low, scale_high = 0.0, 65535.0                    # 16 bits : plage nominale
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        scale_low, scale_high = 0.0, 1.0                        # flottants entre 0 et 1
    elif low >= 0.0 and high <= 255.0:
        scale_low, scale_high = 0.0, 255.0                      # déjà sur 8 bits
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        scale_low, scale_high = 0.0, 65535.0                    # 16 bits rangés dans 'I'
    else:
        scale_low, scale_high = low, high                       # plage inconnue : min..max réels
    data = np.where(finite, data, scale_high)                   # NaN/inf -> blanc (fond)
    data = (data - scale_low) * (255.0 / (scale_high - scale_low))
    return Image.fromarray(np.clip(np.rint(data), 0, 255).astype(np.uint8))


def _has_transparency(image):
    return image.mode in _ALPHA_MODES or (image.mode in _TRNS_MODES and "transparency" in image.info)


def convert_to_rgb(image):
    """Convertit une image PIL de n'importe quel mode en couleur 'RGB' (transparence -> blanc)."""
    if image.mode in _WIDE_MODES:
        return _wide_to_gray(image).convert("RGB")
    if _has_transparency(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def convert_to_gray(image):
    """Convertit une image PIL de n'importe quel mode en niveaux de gris 'L' (transparence -> blanc)."""
    if image.mode in _WIDE_MODES:
        return _wide_to_gray(image)
    if _has_transparency(image):
        return convert_to_rgb(image).convert("L")
    if image.mode in ("1", "L", "RGB", "P"):
        return image.convert("L")
    # CMYK, YCbCr, LAB, HSV... : passage par RGB, puis luminance.
    return image.convert("RGB").convert("L")


def open_photo(image_path, max_pixels=DEFAULT_MAX_PIXELS):
    """Ouvre une photo de façon robuste et la renvoie en niveaux de gris (image PIL en mode 'L').

    Orientation EXIF appliquée, transparence posée sur fond blanc, 16 bits / flottants ramenés
    sur 8 bits, première image d'un GIF animé. Lève PhotoError (message en français) si le fichier
    manque, n'est pas une image, est tronqué ou dépasse max_pixels (None : pas de limite propre).
    """
    return convert_to_gray(open_photo_upright(image_path, max_pixels))


def open_photo_upright(image_path, max_pixels=DEFAULT_MAX_PIXELS):
    """La photo décodée et redressée selon son EXIF, dans son mode d'origine (voir open_photo)."""
    path = Path(image_path)
    if not path.exists():
        raise PhotoError(
            f"Photo introuvable : « {path} ». Vérifiez le chemin et le nom du fichier "
            "(extension comprise) ; list_photos(dossier) liste les photos d'un dossier."
        )
    if path.is_dir():
        raise PhotoError(
            f"« {path} » est un dossier, pas une photo. Donnez le chemin d'un fichier image, "
            "ou utilisez list_photos(dossier) pour lister les photos qu'il contient."
        )
    try:
        empty = path.stat().st_size == 0
    except OSError:
        empty = False
    if empty:
        raise PhotoError(
            f"Le fichier « {path} » est vide (0 octet) : la copie ou le téléchargement a échoué. "
            "Copiez la photo à nouveau ou choisissez-en une autre."
        )
    try:
        with warnings.catch_warnings():
            # La taille est contrôlée ci-dessous avec max_pixels : l'avertissement de Pillow est inutile.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size                      # lu dans l'en-tête, rien n'est décodé
                if max_pixels is not None and width * height > max_pixels:
                    raise PhotoError(
                        f"La photo « {path} » est trop grande : {_fmt_int(width)} x "
                        f"{_fmt_int(height)} = {_fmt_int(width * height)} pixels (maximum "
                        f"{_fmt_int(max_pixels)}). Réduisez-la (par exemple à 2000 pixels de "
                        "côté) avant de la classer, ou augmentez max_pixels si le fichier est sûr."
                    )
                image.seek(0)                                   # GIF/TIFF multi-images : la première
                image.load()
                try:
                    return ImageOps.exif_transpose(image)
                except Exception:                               # EXIF abîmées : on garde l'image telle quelle
                    return image.copy()
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoError(
            f"La photo « {path} » annonce une taille démesurée (plus de "
            f"{_fmt_int(2 * Image.MAX_IMAGE_PIXELS)} pixels) : Pillow refuse de la décoder (risque "
            "de « bombe de décompression »). Réduisez-la (par exemple à 2000 pixels de côté) "
            "avant de la classer."
        ) from exc
    except PermissionError as exc:
        raise PhotoError(
            f"Impossible de lire « {path} » : accès refusé. Vérifiez les droits du fichier "
            "ou copiez-le dans votre dossier de travail."
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise PhotoError(
            f"Le fichier « {path} » n'est pas une image lisible (format non reconnu). Utilisez une "
            "photo JPEG, PNG, WebP, BMP, GIF ou TIFF ; une photo HEIC d'iPhone doit d'abord être "
            "exportée en JPEG."
        ) from exc
    except Exception as exc:  # erreurs de décodage des différents formats (OSError, SyntaxError...)
        if "truncated" in str(exc).lower():
            problem = "est tronquée (fichier incomplet : copie ou téléchargement interrompu)"
        else:
            problem = f"est abîmée ou illisible (détail technique : {type(exc).__name__}: {exc})"
        raise PhotoError(
            f"La photo « {path} » {problem}. Copiez-la à nouveau ou ré-exportez-la en JPEG/PNG "
            "depuis votre téléphone ou votre logiciel d'images."
        ) from exc


def check_photo_usable(image_path):
    """Refuse (PhotoError) une photo où l'on ne peut pas reconnaître de vêtement : trop petite, trop
    allongée, ou unie (toute blanche, toute noire). Une photo illisible passe : open_photo dira pourquoi."""
    path = Path(image_path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if min(width, height) >= MIN_SIDE and max(width, height) <= MAX_ASPECT_RATIO * min(width, height):
                image.draft("L", (64, 64))                 # JPEG : décodage réduit, rapide
                small = convert_to_gray(image.copy())
                small.thumbnail((64, 64))
                contrast = int(np.ptp(np.asarray(small)))
            else:
                contrast = None
    except Exception:
        return
    if contrast is None:
        raise PhotoError(
            f"La photo « {path.name} » mesure {_fmt_int(width)} x {_fmt_int(height)} pixels : trop petite ou "
            f"trop allongée pour qu'on y reconnaisse un vêtement (au moins {MIN_SIDE} pixels de côté, et un "
            f"côté au plus {MAX_ASPECT_RATIO} fois plus long que l'autre). Choisissez une autre photo, ou "
            "recadrez-la autour du vêtement.")
    if contrast < UNIFORM_CONTRAST:
        raise PhotoError(f"Aucun vêtement trouvé sur « {path.name} » : la photo est unie (toute blanche, toute "
                         "noire ou sans contraste). Choisissez une photo où le vêtement se détache du fond.")


def thumbnail_for_display(image_path, size=256):
    """La photo en couleur, redressée selon son EXIF et réduite, pour l'afficher."""
    image = convert_to_rgb(open_photo_upright(image_path))
    image.thumbnail((size, size))
    return image


#: Les classes, dans l'ordre des labels 0 à 9, sous les noms qu'on peut écrire dans images/labels.csv.
CLASS_NAMES = (
    ("t-shirt/haut", "t-shirt", "tshirt", "haut", "un t-shirt/haut", "t-shirt/top", "t-shirt_top", "top"),
    ("pantalon", "un pantalon", "trouser", "trousers"),
    ("pull", "un pull", "pullover"),
    ("robe", "une robe", "dress"),
    ("manteau", "un manteau", "coat"),
    ("sandales", "sandale", "des sandales", "sandal", "sandals"),
    ("chemise", "une chemise", "shirt"),
    ("baskets", "basket", "des baskets", "sneaker", "sneakers"),
    ("sac", "un sac", "bag"),
    ("bottes de cheville", "bottes", "bottines", "des bottes de cheville", "ankle boot", "ankle_boot", "ankle boots"),
)
_LABEL_OF_NAME = {name: label for label, names in enumerate(CLASS_NAMES) for name in names}
LABELS_FILE_HELP = ("images/labels.csv : une ligne d'en-tête « fichier,classe », puis une ligne par photo, "
                    "par exemple « pull_rouge.jpg,2 » ou « pull_rouge.jpg,pull » (classe de 0 à 9 ou son nom ; "
                    "séparateur « , » ou « ; »).")


def class_label(text):
    """L'indice (0 à 9) d'une classe écrite en chiffre ou en toutes lettres (« 2 », « Pull », « pullover »),
    ou None si le texte ne désigne aucune classe."""
    text = " ".join(str(text).strip().casefold().split())
    if text.isascii() and text.isdigit():
        return int(text) if int(text) < len(CLASS_NAMES) else None
    return _LABEL_OF_NAME.get(text)


def read_expected_labels(folder):
    """Les classes attendues des photos d'un dossier, lues dans son labels.csv (voir LABELS_FILE_HELP).

    Renvoie ({nom de fichier : classe}, problèmes) : un fichier absent donne ({}, []) ; une ligne
    illisible est écartée et décrite, avec son numéro, dans la liste des problèmes (en français).
    """
    path = Path(folder) / "labels.csv"
    if not path.is_file():
        return {}, []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")          # fichier enregistré par Excel sous Windows
    lines = text.splitlines()
    separator = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    labels, problems = {}, []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [cell.strip().strip('"') for cell in line.split(separator)]
        name, written = cells[0], (cells[1] if len(cells) > 1 else "")
        label = class_label(written)
        if not name:
            problems.append(f"{path.name}, ligne {number} : nom de fichier vide.")
        elif not written:
            problems.append(f"{path.name}, ligne {number} : pas de classe pour « {name} ».")
        elif label is None:
            problems.append(f"{path.name}, ligne {number} : classe « {written} » inconnue pour « {name} » "
                            "(un nombre de 0 à 9 ou un nom comme « pull », « baskets »).")
        else:
            labels[name] = label
    return labels, problems


def readable_name(path):
    """Le nom d'un fichier, lisible même s'il n'est pas en UTF-8 (archive zip faite sous Windows) :
    les octets inconnus deviennent « \ufffd »."""
    return Path(path).name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


#: Fichiers qui accompagnent les photos d'un dossier et qu'il est normal de ne pas classer.
COMPANION_FILES = frozenset({"labels.csv", "CREDITS.md", "README.md"})


def unused_files(folder):
    """Les fichiers et dossiers de folder que list_photos ne retient pas, chacun avec la raison, en
    français : [(nom, raison)]. Les fichiers cachés et ceux de COMPANION_FILES ne sont pas cités."""
    unused = []
    for entry in sorted(Path(folder).iterdir(), key=lambda p: p.name):
        name, suffix = readable_name(entry), entry.suffix.lower()
        if entry.name.startswith(".") or entry.name in COMPANION_FILES:
            continue
        if entry.is_dir():
            unused.append((name, "c'est un dossier : les photos doivent être directement dans le dossier"))
        elif suffix in (".heic", ".heif") and not HEIF_SUPPORTED:
            unused.append((name, "photo HEIC d'iPhone : installez pillow-heif (pip install pillow-heif) ou "
                                 "exportez-la en JPEG"))
        elif suffix not in PHOTO_EXTENSIONS:
            shown = f"extension « {suffix} »" if suffix else "pas d'extension"
            unused.append((name, f"pas une photo ({shown}) : formats acceptés "
                                 f"{', '.join(sorted(ext.lstrip('.') for ext in PHOTO_EXTENSIONS))}"))
    return unused


def list_photos(folder):
    """Liste triée (Path) des photos d'un dossier, repérées par leur extension ; fichiers cachés ignorés."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "n'est pas un dossier" if folder.exists() else "est introuvable"
        raise FileNotFoundError(
            f"Le dossier de photos « {folder} » {what}. Vérifiez le chemin "
            "(par exemple « images » à côté du notebook)."
        )
    photos = [
        entry for entry in folder.iterdir()
        if not entry.name.startswith(".")
        and entry.suffix.lower() in PHOTO_EXTENSIONS
        and (HEIF_SUPPORTED or entry.suffix.lower() not in (".heic", ".heif"))
        and entry.is_file()
    ]
    return sorted(photos, key=lambda p: (p.name.casefold(), p.name))


# ---------------------------------------------------------------------------
# Photos rangées par classe : partage dev / holdout (banc d'essai, affinage)
# ---------------------------------------------------------------------------

#: Nom de dossier -> indice de classe Fashion-MNIST (« / » et espace remplacés par « _ »).
FOLDER_TO_LABEL = {
    "T-shirt_top": 0, "Trouser": 1, "Pullover": 2, "Dress": 3, "Coat": 4,
    "Sandal": 5, "Shirt": 6, "Sneaker": 7, "Bag": 8, "Ankle_boot": 9,
}
SPLITS = ("dev", "holdout", "all")


def split_key(name):
    """Empreinte stable d'un nom de fichier (entier), indépendante de la machine et du système."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def split_names(names, split):
    """Les noms d'une classe qui tombent dans `split`.

    Les noms sont triés par empreinte ; la première moitié (arrondie au-dessus) est « dev »,
    le reste « holdout ». Ajouter une photo ne fait passer au plus qu'une photo d'une partie à l'autre.
    """
    if split not in SPLITS:
        raise ValueError(f"partie inconnue : {split!r} (choisir parmi {', '.join(SPLITS)})")
    ordered = sorted(names, key=lambda name: (split_key(name), name))
    if split == "all":
        return ordered
    n_dev = (len(ordered) + 1) // 2
    return ordered[:n_dev] if split == "dev" else ordered[n_dev:]


def collect_photos(folder, split="all"):
    """Liste de (chemin, classe) des photos de la partie `split` de `folder`, rangées dans un
    dossier par classe (noms de FOLDER_TO_LABEL, comme photos-dev), et avertissements.

    Les dossiers de nom inconnu et les fichiers posés à la racine sont signalés et ignorés.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dossier de photos introuvable : « {folder} ».")
    entries, ignored = [], []
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith("."):
            continue
        if not sub.is_dir():
            if sub.suffix.lower() in PHOTO_EXTENSIONS:
                ignored.append(f"photo ignorée hors d'un dossier de classe : {sub.name}")
            continue
        if sub.name not in FOLDER_TO_LABEL:
            ignored.append(f"dossier ignoré (classe inconnue) : {sub.name}")
            continue
        by_name = {path.name: path for path in list_photos(sub)}
        for name in split_names(by_name, split):
            entries.append((by_name[name], FOLDER_TO_LABEL[sub.name]))
    return entries, ignored


def photos_for_fine_tuning(folder, split="dev", keep_out_folder=None):
    """Les photos (chemin, classe) de la partie `split` de `folder` (collect_photos), sans celles dont
    le contenu est celui d'une photo de keep_out_folder (les photos d'exemple de images/, qui doivent
    rester des photos jamais vues). Renvoie (photos, nombre de photos écartées)."""
    entries, _ = collect_photos(folder, split)
    keep_out = (set() if keep_out_folder is None or not Path(keep_out_folder).is_dir()
                else {file_sha256(path) for path in list_photos(keep_out_folder)})
    kept = [(path, label) for path, label in entries
            if not keep_out or file_sha256(path) not in keep_out]      # rien à écarter : rien à relire
    return kept, len(entries) - len(kept)
