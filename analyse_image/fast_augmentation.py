"""Au-delà du labo : l'augmentation du labo faite par lots entiers (Keras 3 + tf.data).

ImageDataGenerator transforme les images une par une, en Python. Ici, les mêmes transformations
(rotation, décalages, cisaillement, zoom) sont tirées au hasard, composées en une seule
transformation affine par image et appliquées à un lot entier par keras.ops.image.affine_transform,
dans un pipeline tf.data qui prépare le lot suivant pendant l'apprentissage.
"""
import math

import keras
import tensorflow as tf

from fashion_data import IMAGE_SIZE
from tf_settings import without_autotune


def affine_rows(a00, a01, a10, a11, input_x, input_y, output_x, output_y):
    """Transformations (une par image) au format de keras.ops.image.affine_transform : la partie
    linéaire [[a00, a01], [a10, a11]] (sortie -> entrée), le point de sortie (output_x, output_y)
    venant du point d'entrée (input_x, input_y)."""
    a02 = input_x - a00 * output_x - a01 * output_y
    a12 = input_y - a10 * output_x - a11 * output_y
    zeros = tf.zeros_like(a00)
    return tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)


def random_affine_transforms(n, rotation=8, shift=0.08, shear=0.3, zoom=0.08, size=IMAGE_SIZE):
    """n transformations tirées comme par ImageDataGenerator (rotation et cisaillement en degrés,
    décalages et zoom en fraction de l'image), au format de keras.ops.image.affine_transform.

    Rotation, cisaillement, zoom et décalage sont composés en une seule transformation : chaque
    image n'est interpolée qu'une fois (enchaîner quatre couches Keras la rendrait floue).
    """

    def uniform(limit):
        return tf.random.uniform((n,), -limit, limit)

    theta, sh = uniform(math.radians(rotation)), uniform(math.radians(shear))
    zoom_x, zoom_y = 1.0 + uniform(zoom), 1.0 + uniform(zoom)
    shift_x, shift_y = uniform(shift) * size, uniform(shift) * size
    cos, sin = tf.cos(theta), tf.sin(theta)
    # point de sortie -> point d'entrée : rotation @ cisaillement @ zoom, autour du centre de l'image
    a00, a01 = cos * zoom_x, (-cos * tf.sin(sh) - sin * tf.cos(sh)) * zoom_y
    a10, a11 = sin * zoom_x, (-sin * tf.sin(sh) + cos * tf.cos(sh)) * zoom_y
    center = (size - 1) / 2
    return affine_rows(a00, a01, a10, a11, center + shift_x, center + shift_y, center, center)


def _index_batches(order, batch_size):
    """Une permutation d'indices (tenseur 1D) -> tf.data.Dataset de ses lots, le dernier plus court."""
    count = order.shape[0]
    full = count - count % batch_size
    batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full], (-1, batch_size)))
    return batches.concatenate(tf.data.Dataset.from_tensors(order[full:])) if full < count else batches


def shuffled_batches(images, labels, transform_batch, batch_size=256, seed=13):
    """tf.data.Dataset mélangé à chaque époque, en lots, chaque lot (x, y) passé par
    transform_batch, le lot suivant préparé pendant l'apprentissage (sans le réglage automatique de
    tf.data, qui arrêtait le processus entre deux époques : voir tf_settings).

    On mélange les indices, pas les images, et chaque lot est pris d'un coup dans le tableau
    (tf.gather), comme le fait Keras pour des tableaux NumPy : mêmes lots, dans le même ordre, que
    Dataset.shuffle sur les images avec la même graine, pour 0,2 à 0,3 s de processeur de moins par
    époque de Fashion-MNIST (et sans copie des images dans un tampon de mélange).
    Les lots sont transformés l'un après l'autre, pas plusieurs à la fois : les tirages au hasard
    de transform_batch vont alors toujours aux mêmes lots, et un entraînement refait avec la même
    graine donne les mêmes poids (en parallèle, l'ordre des tirages changeait d'une fois à l'autre).
    """
    count = len(images)
    images, labels = tf.convert_to_tensor(images), tf.convert_to_tensor(labels)
    orders = (tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True)
              .batch(count, drop_remainder=True))              # une permutation par époque
    batches = (orders.flat_map(lambda order: _index_batches(order, batch_size))
               .apply(tf.data.experimental.assert_cardinality(math.ceil(count / batch_size))))
    dataset = batches.map(lambda index: (tf.gather(images, index), tf.gather(labels, index))).map(transform_batch)
    return without_autotune(dataset.prefetch(tf.data.AUTOTUNE))


def lab_augmented_batches(images, labels, batch_size=256, seed=13, **transform_ranges):
    """tf.data.Dataset mélangé, en lots, augmenté à la volée sur des lots entiers par
    keras.ops.image.affine_transform (les transformations de l'ImageDataGenerator du labo)."""

    def augment(x, y):
        transforms = random_affine_transforms(tf.shape(x)[0], **transform_ranges)
        return keras.ops.image.affine_transform(x, transforms, fill_mode="nearest"), y

    return shuffled_batches(images, labels, augment, batch_size=batch_size, seed=seed)


class LabAugmentation(keras.layers.Layer):
    """Les transformations de l'ImageDataGenerator du labo comme première couche du réseau : actives
    seulement pendant l'apprentissage, calculées dans le pas d'apprentissage, sur les mêmes fils que
    lui (un pipeline tf.data à côté lui dispute les deux cœurs)."""

    def __init__(self, rotation=8, shift=0.08, shear=0.3, zoom=0.08, **kwargs):
        super().__init__(**kwargs)
        self.ranges = {"rotation": rotation, "shift": shift, "shear": shear, "zoom": zoom}

    def call(self, images, training=False):
        if not training:
            return images
        transforms = random_affine_transforms(tf.shape(images)[0], **self.ranges)
        return keras.ops.image.affine_transform(images, transforms, fill_mode="nearest")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), **self.ranges}
