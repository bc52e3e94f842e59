"""Au-delà du labo : entraîner un modèle qui reconnaît de vraies photos, puis l'affiner sur quelques-unes.

Les images de Fashion-MNIST sont transformées, par lots et à la volée (tf.data), pour ressembler
à ce que la préparation « premier_plan » tire d'une photo : vêtement recadré, plus grand côté à
24 pixels, centré sur son centre de masse, contraste étiré vers [0,2 ; 1], fond à 0. S'y ajoutent
ce que les photos ont et que Fashion-MNIST n'a pas : vêtement tourné vers la droite ou la gauche,
un peu penché, chaussures par paires, éclairage inégal, flou, bruit.
"""
import math
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from matplotlib import pyplot as plt
from sklearn.utils.class_weight import compute_sample_weight

import fashion_utils as fu
import lab_networks
from fast_augmentation import affine_rows, shuffled_batches
from tf_settings import without_autotune

#: Les classes de chaussures (sandales, baskets, bottes de cheville), photographiées par paires.
SHOE_CLASSES = (5, 7, 9)
#: Au-dessus de ce niveau (sur 1), un pixel d'une image de Fashion-MNIST appartient au vêtement.
FOREGROUND_LEVEL = 0.02


def _warp_with_mask(images, masks, transforms):
    """Applique la même transformation affine aux images et à leurs masques (une interpolation)."""
    both = keras.ops.image.affine_transform(tf.concat([images, masks], axis=-1), transforms,
                                            interpolation="bilinear", fill_mode="constant")
    return both[..., :1], both[..., 1:]


def _extent(lines):
    """Nombre de pixels entre la première et la dernière ligne (ou colonne) occupée, par image."""
    index = tf.range(tf.shape(lines)[1], dtype=tf.float32)
    first = tf.reduce_min(tf.where(lines, index, 1e4), axis=1)
    last = tf.reduce_max(tf.where(lines, index, -1e4), axis=1)
    return tf.maximum(last - first + 1.0, 1.0)


def stretch_batch_contrast(images, masks, floor=0.2, low_percentile=2.0, high_percentile=98.0):
    """stretch_contrast sur un lot (n, 28, 28, 1) : dans chaque masque, percentile bas -> floor,
    percentile haut -> 1 ; 0 hors du masque."""
    n = tf.shape(images)[0]
    flat, inside = tf.reshape(images, (n, -1)), tf.reshape(masks > 0.5, (n, -1))
    count = tf.reduce_sum(tf.cast(inside, tf.float32), axis=1)
    ordered = tf.sort(tf.where(inside, flat, 1e6), axis=1)       # les pixels du masque d'abord

    def percentile(q):                                             # interpolation linéaire, comme numpy
        position = q / 100.0 * tf.maximum(count - 1.0, 0.0)
        below = tf.cast(tf.floor(position), tf.int32)
        above = tf.minimum(below + 1, tf.cast(tf.maximum(count - 1.0, 0.0), tf.int32))
        weight = position - tf.floor(position)
        value = ((1 - weight) * tf.gather(ordered, below, batch_dims=1)
                 + weight * tf.gather(ordered, above, batch_dims=1))
        return tf.reshape(value, (-1, 1, 1, 1))

    low, high = percentile(low_percentile), percentile(high_percentile)
    spread = high - low
    stretched = floor + (1.0 - floor) * tf.clip_by_value((images - low) / tf.maximum(spread, 1e-6), 0.0, 1.0)
    stretched = tf.where(spread < 1e-6, tf.ones_like(images), stretched)
    return tf.where(masks > 0.5, stretched, tf.zeros_like(images))


def _uniform(n, low, high):
    """n tirages au hasard entre low et high (un par image du lot)."""
    return tf.random.uniform((n,), low, high)


def frame_like_photos(images, masks, content_size=24, size_jitter=0.0, shift=0.0):
    """Recadre chaque vêtement comme garment_to_28 : plus grand côté du masque à content_size
    pixels (± size_jitter, en fraction), centre de masse au centre (± shift pixels)."""
    n, size = tf.shape(images)[0], images.shape[1]
    inside = masks[..., 0] > 0.5
    longest = tf.maximum(_extent(tf.reduce_any(inside, axis=2)), _extent(tf.reduce_any(inside, axis=1)))
    weights = images[..., 0] * tf.cast(inside, tf.float32) + 1e-6
    index = tf.range(size, dtype=tf.float32)
    total = tf.reduce_sum(weights, axis=[1, 2])
    centre_y = tf.reduce_sum(weights * index[None, :, None], axis=[1, 2]) / total
    centre_x = tf.reduce_sum(weights * index[None, None, :], axis=[1, 2]) / total
    scale = longest / (content_size * (1.0 + _uniform(n, -size_jitter, size_jitter)))
    centre = (size - 1) / 2.0
    offset_x = centre + _uniform(n, -shift, shift)
    offset_y = centre + _uniform(n, -shift, shift)
    zeros = tf.zeros_like(scale)
    return _warp_with_mask(images, masks, affine_rows(scale, zeros, zeros, scale,
                                                       centre_x, centre_y, offset_x, offset_y))


def turn_and_flip(images, masks, rotation=10.0, flip=True):
    """Rotation aléatoire (± rotation degrés) et, une fois sur deux si flip, miroir horizontal :
    sur une photo, une chaussure pointe à gauche ou à droite, un vêtement penche."""
    n, size = tf.shape(images)[0], images.shape[1]
    theta = _uniform(n, -1.0, 1.0) * math.radians(rotation)
    mirror = tf.where(_uniform(n, 0.0, 1.0) < 0.5, -1.0, 1.0) if flip else tf.ones((n,))
    cos, sin = tf.cos(theta), tf.sin(theta)
    a00, a01, a10, a11 = cos * mirror, -sin, sin * mirror, cos
    centre = (size - 1) / 2.0
    return _warp_with_mask(images, masks, affine_rows(a00, a01, a10, a11, centre, centre, centre, centre))


def _overlay(copies):
    """Deux copies (image, masque) d'une chaussure posées l'une sur l'autre : une paire."""
    (first, first_mask), (second, second_mask) = copies
    return tf.maximum(first, second), tf.maximum(first_mask, second_mask)


def shoe_pairs(images, masks):
    """Une paire faite de deux copies de chaque chaussure de profil (la seconde souvent en miroir),
    côte à côte et se touchant, couchées ou debout, comme sur une photo (vue de dessus :
    shoe_pairs_from_above)."""
    n, size = tf.shape(images)[0], images.shape[1]

    thickness = _extent(tf.reduce_any(masks[..., 0] > 0.5, axis=2))   # hauteur de la chaussure
    base = tf.where(_uniform(n, 0.0, 1.0) < 0.5, 0.0, math.pi / 2) + _uniform(n, -0.25, 0.25)
    scale = 2.0                                                         # deux copies à moitié taille
    gap = thickness / scale * _uniform(n, 0.55, 0.95)                   # entre les deux centres
    along = _uniform(n, -0.15, 0.15) * size / scale                     # l'une un peu devant l'autre
    across_x, across_y = -tf.sin(base), tf.cos(base)
    along_x, along_y = tf.cos(base), tf.sin(base)
    second_mirror = tf.where(_uniform(n, 0.0, 1.0) < 0.7, -1.0, 1.0)
    centre = (size - 1) / 2.0
    copies = []
    for side, mirror in ((-0.5, tf.ones((n,))), (0.5, second_mirror)):
        theta = base + _uniform(n, -0.15, 0.15)
        cos, sin = tf.cos(theta), tf.sin(theta)
        a00, a01, a10, a11 = cos * scale * mirror, sin * scale, -sin * scale * mirror, cos * scale
        out_x = centre + side * (gap * across_x + along * along_x)
        out_y = centre + side * (gap * across_y + along * along_y)
        copies.append(_warp_with_mask(images, masks,
                                      affine_rows(a00, a01, a10, a11, centre, centre, out_x, out_y)))
    return _overlay(copies)


def fill_columns(images, masks):
    """Chaque colonne occupée d'une chaussure de profil étirée sur toute la hauteur de l'image : le
    profil devient une bande de la pointe au talon, avec la matière de la chaussure (ses trous
    restent, comme ceux d'une sandale)."""
    size = images.shape[1]
    inside = masks[..., 0] > 0.5
    rows = tf.range(size, dtype=tf.float32)[None, :, None]
    top = tf.reduce_min(tf.where(inside, rows, 1e4), axis=1, keepdims=True)       # (n, 1, colonnes)
    bottom = tf.reduce_max(tf.where(inside, rows, -1e4), axis=1, keepdims=True)
    used = bottom >= top
    source = top + rows / (size - 1) * (bottom - top)                             # (n, lignes, colonnes)
    source = tf.clip_by_value(tf.where(used, source, 0.0), 0.0, size - 1.0)
    source = tf.transpose(source, (0, 2, 1))      # une colonne par rangée (transposé en réels : pour des
    below = tf.floor(source)                      # entiers, oneDNN écrit un avertissement sur stderr)
    weight = tf.transpose(source - below, (0, 2, 1))[..., None]
    below = tf.cast(below, tf.int32)
    above = tf.minimum(below + 1, size - 1)

    def sample(values, index):                    # values (n, lignes, colonnes, c), index (n, colonnes, lignes)
        by_column = tf.transpose(values, (0, 2, 1, 3))
        return tf.transpose(tf.gather(by_column, index, batch_dims=2), (0, 2, 1, 3))

    def stretch(values):
        return tf.where(used[..., None], (1 - weight) * sample(values, below) + weight * sample(values, above), 0.0)

    return stretch(images), tf.cast(stretch(masks) > 0.5, tf.float32)


def shoe_pairs_from_above(images, masks, length_scale=1.25):
    """Une paire vue de dessus, comme sur la plupart des photos de chaussures posées au sol : chaque
    chaussure de profil (pointe à gauche) devient une empreinte (fill_columns, puis un ovale de 30 à
    45 % de sa longueur en largeur), redressée pointe en haut ou en bas ; deux copies, la seconde en
    miroir, côte à côte et presque parallèles, séparées de 1,5 à 3,5 pixels."""
    n, size = tf.shape(images)[0], images.shape[1]

    images, masks = fill_columns(images, masks)
    length = _extent(tf.reduce_any(masks[..., 0] > 0.5, axis=1)) / length_scale   # en sortie
    width = _uniform(n, 0.30, 0.45) * length
    height_scale = size / width                                     # toute la hauteur -> width
    toe = tf.where(_uniform(n, 0.0, 1.0) < 0.5, -1.0, 1.0)          # pointe en haut ou en bas
    gap = _uniform(n, 1.5, 3.5)
    along = _uniform(n, -0.1, 0.1) * length                         # l'une un peu devant l'autre
    tilt = _uniform(n, -0.1, 0.1)                                   # la paire un peu penchée
    centre = (size - 1) / 2.0
    grid = tf.range(size, dtype=tf.float32)
    copies = []
    for side, mirror in ((-1.0, 1.0), (1.0, -1.0)):
        theta = tilt + _uniform(n, -0.03, 0.03)                     # presque parallèles
        cos, sin = tf.cos(theta), tf.sin(theta)
        # sortie (u, v) -> entrée : x le long de la chaussure (vertical en sortie), y en travers
        a00, a01 = -sin * length_scale * toe, cos * length_scale * toe
        a10, a11 = cos * height_scale * mirror, sin * height_scale * mirror
        out_x = centre + side * (width + gap) / 2.0
        out_y = centre + side * along / 2.0
        copy, copy_mask = _warp_with_mask(images, masks, affine_rows(a00, a01, a10, a11, centre, centre, out_x, out_y))
        # l'ovale de l'empreinte (un peu penché comme la copie)
        du = grid[None, None, :] - out_x[:, None, None]
        dv = grid[None, :, None] - out_y[:, None, None]
        across = (cos[:, None, None] * du + sin[:, None, None] * dv) / (width[:, None, None] / 2.0)
        lengthwise = (-sin[:, None, None] * du + cos[:, None, None] * dv) / (length[:, None, None] / 2.0)
        oval = tf.cast(across ** 2 + lengthwise ** 2 <= 1.0, tf.float32)[..., None]
        copies.append((copy * oval, copy_mask * oval))
    return _overlay(copies)


def gaussian_blur(images):
    """Flou gaussien 5 x 5 (écart type d'un pixel, zéros au-delà du bord) d'un lot carré
    (n, taille, taille, 1).

    Le noyau est séparable : flouter les colonnes puis les lignes, c'est multiplier l'image à
    gauche et à droite par une matrice en bande. Même résultat que tf.nn.conv2d avec le noyau
    5 x 5, dix fois plus vite sur processeur (une convolution à un seul canal y est lente)."""
    size = images.shape[1]
    taps = np.exp(-np.arange(-2.0, 3.0) ** 2 / 2.0)
    band = sum(np.eye(size, k=k) * tap for k, tap in zip(range(-2, 3), taps / taps.sum()))
    band = tf.constant(band, tf.float32)
    return tf.matmul(tf.matmul(band, images[..., 0]), band, transpose_b=True)[..., None]


def photo_lighting(images):
    """Conditions de prise de vue : gamma, éclairage en dégradé, plis (champ lisse), flou, bruit."""
    n, size = tf.shape(images)[0], images.shape[1]

    def per_image(low, high):
        return tf.random.uniform((n, 1, 1, 1), low, high)

    images = tf.pow(tf.maximum(images, 1e-4), tf.exp(per_image(-0.8, 0.8)))
    ys, xs = tf.meshgrid(tf.linspace(-1.0, 1.0, size), tf.linspace(-1.0, 1.0, size), indexing="ij")
    angle = per_image(0.0, 2 * math.pi)
    ramp = tf.cos(angle) * xs[None, :, :, None] + tf.sin(angle) * ys[None, :, :, None]
    images = images * (1.0 + per_image(0.0, 0.5) * ramp)
    folds = tf.image.resize(tf.random.normal((n, 6, 6, 1)), (size, size), method="bicubic")
    images = images * (1.0 + per_image(0.0, 0.35) * folds)
    blur = per_image(0.0, 1.0)
    images = (1.0 - blur) * images + blur * gaussian_blur(images)
    return images + per_image(0.0, 0.06) * tf.random.normal(tf.shape(images))


def photo_like_batch(images, labels, pair_probability=0.5, rotation=10.0, flip=True, lighting=True,
                     size_jitter=0.08, shift=1.0, from_above=0.5):
    """Un lot de Fashion-MNIST (n, 28, 28, 1) dans [0, 1], étiquettes one-hot -> le même lot tel
    que la préparation « premier_plan » le produirait d'une photo (voir le début de la section).
    Une chaussure devient une paire avec la probabilité pair_probability ; une paire est vue de
    dessus avec la probabilité from_above, de profil sinon."""
    masks = tf.cast(images > FOREGROUND_LEVEL, tf.float32)
    turned, turned_masks = turn_and_flip(images, masks, rotation=rotation, flip=flip)
    if pair_probability > 0:
        classes = tf.argmax(labels, axis=1, output_type=tf.int32)
        is_shoe = tf.reduce_any(tf.equal(classes[:, None], tf.constant(SHOE_CLASSES)[None, :]), axis=1)
        paired = is_shoe & (tf.random.uniform(tf.shape(is_shoe)) < pair_probability)
        above = tf.random.uniform(tf.shape(is_shoe)) < from_above
        for make_pairs, chosen in ((shoe_pairs, paired & ~above), (shoe_pairs_from_above, paired & above)):
            where = tf.where(chosen)                               # les paires, seules calculées
            pairs, pair_masks = make_pairs(tf.gather_nd(images, where), tf.gather_nd(masks, where))
            turned = tf.tensor_scatter_nd_update(turned, where, pairs)
            turned_masks = tf.tensor_scatter_nd_update(turned_masks, where, pair_masks)
    framed, framed_masks = frame_like_photos(turned, turned_masks, size_jitter=size_jitter, shift=shift)
    if lighting:
        framed = photo_lighting(framed)
    return stretch_batch_contrast(framed, framed_masks)


def photo_format(images):
    """Images de Fashion-MNIST mises, sans hasard, au format de « premier_plan » (pour évaluer)."""
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    framed, masks = frame_like_photos(images, tf.cast(images > FOREGROUND_LEVEL, tf.float32))
    return stretch_batch_contrast(framed, masks).numpy()


def photo_like_batches(images, labels, batch_size=256, seed=13, **options):
    """tf.data.Dataset mélangé, en lots, transformé à la volée par photo_like_batch (options)."""
    def make_photo_like(x, y):
        return photo_like_batch(x, y, **options), y

    return shuffled_batches(images, labels, make_photo_like, batch_size=batch_size, seed=seed)


def real_photo_variations(seed=13):
    """Petites variations au hasard d'une vraie photo déjà préparée : miroir, décalage de 8 %,
    zoom de 10 %, rotation de 10°, comme en prendrait une autre photo du même vêtement."""
    return keras.Sequential([layers.RandomFlip("horizontal", seed=seed),
                             layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed),
                             layers.RandomZoom(0.1, fill_mode="constant", seed=seed),
                             layers.RandomRotation(0.03, fill_mode="constant", seed=seed)],
                            name="variations_photos")


def fine_tuning_batches(photos, photo_labels, images, labels, batch_size=32, seed=13):
    """Lots sans fin pour affiner un modèle : batch_size vraies photos préparées (variées au hasard,
    pondérées pour que chaque classe compte autant) suivies de batch_size images de Fashion-MNIST
    transformées comme des photos (photo_like_batch), pour apprendre les photos sans oublier
    Fashion-MNIST. Étiquettes en one-hot ; chaque lot est (x, y, poids)."""
    photo_weights = compute_sample_weight("balanced", np.argmax(photo_labels, axis=1)).astype(np.float32)
    vary = real_photo_variations(seed)

    def vary_photos(x, y, weight):
        return vary(x, training=True), y, weight

    def make_photo_like(x, y):
        return photo_like_batch(x, y), y, tf.ones(tf.shape(y)[0])

    def join(real, fashion):
        return tuple(tf.concat([a, b], axis=0) for a, b in zip(real, fashion))

    real = (tf.data.Dataset.from_tensor_slices((np.asarray(photos, np.float32), np.asarray(photo_labels, np.float32),
                                                photo_weights))
            .repeat().shuffle(len(photos), seed=seed).batch(batch_size).map(vary_photos))
    fashion = (tf.data.Dataset.from_tensor_slices((np.asarray(images, np.float32), np.asarray(labels, np.float32)))
               .repeat().shuffle(min(len(images), 20_000), seed=seed).batch(batch_size).map(make_photo_like))
    return without_autotune(tf.data.Dataset.zip(real, fashion).map(join).prefetch(tf.data.AUTOTUNE))


def first_block(model):
    """Les couches du premier bloc du réseau, celles d'avant son premier MaxPooling2D (deux
    convolutions et leur normalisation dans le réseau à 4 convolutions)."""
    block = []
    for layer in model.layers:
        if isinstance(layer, layers.MaxPooling2D):
            break
        block.append(layer)
    return block


def fine_tuned_copy(model, photos, photo_labels, images, labels, epochs=20, learning_rate=3e-4,
                    batch_size=32, seed=13, **fit_options):
    """Une copie de model (déjà entraîné) affinée sur de vraies photos avec fine_tuning_batches ;
    model lui-même ne change pas. Une époque montre chaque photo environ 4 fois, avec un pas
    d'apprentissage plus petit qu'au départ. Le premier bloc (first_block) reste gelé pendant
    l'affinage : ses filtres repèrent bords et textures, utiles aux photos comme à Fashion-MNIST ; la
    copie rendue a de nouveau toutes ses couches entraînables (et l'optimiseur qui va avec, pour être
    sauvegardée et relue comme les autres modèles). Renvoie (copie, historique, secondes)."""
    if len(photos) == 0:
        raise ValueError("Aucune vraie photo pour l'affinage : il en faut au moins une par classe à apprendre.")
    keras.utils.set_random_seed(seed)
    tuned = keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    frozen = first_block(tuned)
    for layer in frozen:
        layer.trainable = False
    lab_networks.compile_model(tuned, learning_rate)
    steps = math.ceil(4 * len(photos) / batch_size)
    dataset = fine_tuning_batches(photos, photo_labels, images, labels, batch_size=batch_size, seed=seed)
    start = time.perf_counter()
    history = tuned.fit(dataset, epochs=epochs, steps_per_epoch=steps, **fit_options)
    seconds = time.perf_counter() - start
    for layer in frozen:
        layer.trainable = True
    lab_networks.compile_model(tuned, learning_rate)     # optimiseur de toutes les couches, comme au rechargement
    tuned.optimizer.build(tuned.trainable_variables)
    return tuned, history, seconds


def show_photo_like_examples(images, labels, photos=None, photo_classes=None, per_class=1, seed=13):
    """Une colonne par classe, trois rangées : une image de Fashion-MNIST, la même transformée par
    photo_like_batch, et une vraie photo de cette classe passée par la préparation « premier_plan »
    (photos : tableau (n, 28, 28) ; photo_classes : leurs classes ; case vide sans photo)."""
    labels = np.asarray(labels)
    classes = labels.argmax(axis=1) if labels.ndim == 2 else labels
    picked = np.concatenate([np.flatnonzero(classes == c)[:per_class] for c in range(fu.N_CLASSES)])
    tf.random.set_seed(seed)
    one_hot = np.eye(fu.N_CLASSES, dtype=np.float32)[classes[picked]]
    transformed = photo_like_batch(tf.constant(images[picked], dtype=tf.float32), tf.constant(one_hot)).numpy()
    rows = [("Fashion-MNIST", list(images[picked])), ("transformées comme des photos", list(transformed))]
    if photos is not None and len(photos):
        first_photo = {}                                           # classe -> sa première photo
        for photo_class, photo in zip(photo_classes, photos):
            first_photo.setdefault(photo_class, photo)
        rows.append(("vraies photos (premier_plan)", [first_photo.get(classes[i]) for i in picked]))
    fig, axes = plt.subplots(len(rows), len(picked), figsize=(len(picked) * 1.1, len(rows) * 1.35), squeeze=False)
    for row, (title, row_images) in enumerate(rows):
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if row_images[col] is not None:
                ax.imshow(np.asarray(row_images[col]).reshape(fu.IMAGE_SIZE, fu.IMAGE_SIZE), cmap="gray", vmin=0, vmax=1)
            if row == 0:
                ax.set_title(fu.NOMS_COURTS[classes[picked[col]]], fontsize=7)
        axes[row, 0].text(-0.1, 0.5, title, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    plt.show()
    return fig
