"""Images fabriquées pour essayer photo_person : un vêtement porté par une silhouette dessinée, une
chaussure vue de côté. Aucun jeu de photos de vêtements portés n'est fourni au projet : les tests
(tests/test_photo_person.py) et le banc bench_worn.py s'en servent à la place.

Silhouette (proportions d'une photo de boutique 224 × 224 sur fond blanc) : cheveux, visage et cou
couleur peau, bras nus, jean ; le vêtement (une image RGBA, transparente hors du vêtement) est
posé sur le buste, sous le cou, par-dessus les bras et le jean.
"""
from PIL import Image, ImageDraw

SKIN = (224, 172, 140)
#: Les dix teintes de référence de l'échelle de couleurs de peau Monk (Google, 2022), de la plus
#: claire (1) à la plus foncée (10), en RGB.
MONK_SKIN_TONES = ((246, 237, 228), (243, 231, 219), (247, 234, 208), (234, 218, 186), (215, 189, 150),
                   (160, 126, 86), (130, 92, 67), (96, 65, 52), (58, 49, 42), (41, 36, 32))
HAIR = (45, 30, 22)
JEANS = (50, 70, 120)
BACKGROUND = (250, 250, 250)

#: Boîtes (gauche, haut, droite, bas) des parties de la silhouette, sur 224 × 224.
HEAD = (95, 19, 129, 61)
HAIR_BOX = (88, 4, 136, 48)
NECK = (104, 56, 120, 70)
TORSO = (62, 66, 162, 150)
ARMS = ((48, 78, 62, 150), (162, 78, 176, 150))
LEGS = ((80, 150, 110, 224), (114, 150, 144, 224))


def drawn_tshirt(colour=(200, 30, 40), size=(100, 84)):
    """Un T-shirt à plat, vu de face (RGBA, transparent autour) : corps et manches courtes."""
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    sleeve = width // 5
    shape = [(sleeve, 0), (width - sleeve, 0), (width, height // 4), (width - sleeve, height // 3),
             (width - sleeve, height), (sleeve, height), (sleeve, height // 3), (0, height // 4)]
    ImageDraw.Draw(image).polygon(shape, fill=(*colour, 255))
    return image


def person_wearing(garment, size=224, torso=TORSO, skin=SKIN):
    """La silhouette qui porte garment (RGBA), visage, cou et bras couleur skin : image RGB
    size × size et la boîte où le vêtement a été posé (gauche, haut, droite, bas, à l'échelle de size)."""
    scale = size / 224
    image = Image.new("RGB", (224, 224), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for leg in LEGS:
        draw.rectangle(leg, fill=JEANS)
    for arm in ARMS:
        draw.rectangle(arm, fill=skin)
        draw.ellipse((arm[0], arm[3] - 6, arm[2], arm[3] + 8), fill=skin)       # la main
    draw.ellipse(HAIR_BOX, fill=HAIR)
    draw.ellipse(HEAD, fill=skin)
    draw.rectangle(NECK, fill=skin)
    fitted = garment.copy()
    fitted.thumbnail((torso[2] - torso[0], 224 - torso[1]), Image.Resampling.LANCZOS)
    left = (torso[0] + torso[2] - fitted.width) // 2
    image.paste(fitted, (left, torso[1]), fitted)
    box = (left, torso[1], left + fitted.width, torso[1] + fitted.height)
    if size != 224:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
        box = tuple(round(v * scale) for v in box)
    return image, box


def drawn_shoe(pointing="left", size=(200, 120), colour=(40, 40, 40), background=BACKGROUND):
    """Une chaussure montante vue de côté : semelle, bout bas et tige haute au talon. pointing :
    « left » (comme Fashion-MNIST, tige à droite) ou « right » (tige à gauche)."""
    image = Image.new("RGB", size, background)
    width, height = size
    outline = [(10, height - 20), (20, height - 45), (width * 0.55, height - 55), (width * 0.62, 15),
               (width - 15, 15), (width - 10, height - 20)]
    ImageDraw.Draw(image).polygon(outline, fill=colour)
    return image if pointing == "left" else image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
