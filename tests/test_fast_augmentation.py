"""Tests de l'augmentation du labo faite par lots entiers (tf.data + keras.ops.image.affine_transform)."""
import fashion_utils as fu
import fast_augmentation as fa
import keras
import lab_networks
import numpy as np
import pytest
import tensorflow as tf


def test_lab_augmented_batches_transforms_images_in_range(tiny_data):
    images, labels = tiny_data
    batches = list(fa.lab_augmented_batches(images, labels, batch_size=32, seed=3))
    assert [b[0].shape[0] for b in batches] == [32, 32]
    augmented = np.concatenate([np.asarray(b[0]) for b in batches])
    assert augmented.shape == images.shape
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0 + 1e-6
    # mélangé et transformé : aucune image de sortie n'est identique à une image d'entrée
    flat_in = images.reshape(len(images), -1)
    for out in augmented.reshape(len(augmented), -1)[:8]:
        assert np.abs(flat_in - out).max(axis=1).min() > 1e-3


def test_lab_augmented_batches_with_zero_ranges_is_a_shuffle(tiny_data):
    images, labels = tiny_data
    dataset = fa.lab_augmented_batches(images, labels, batch_size=64, rotation=0, shift=0, shear=0, zoom=0)
    (batch, batch_labels), = list(dataset)
    batch, batch_labels = np.asarray(batch), np.asarray(batch_labels)
    assert not np.array_equal(batch, images)                   # l'ordre est mélangé…
    order = np.argsort(batch_labels.argmax(1) * 1000 + batch.sum(axis=(1, 2, 3)))
    expected = np.argsort(labels.argmax(1) * 1000 + images.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(batch[order], images[expected], atol=1e-5)   # … mais chaque image est intacte
    np.testing.assert_array_equal(batch_labels[order], labels[expected])


@pytest.mark.parametrize("count, batch_size, sizes", [(70, 32, [32, 32, 6]), (64, 32, [32, 32]), (5, 32, [5])])
def test_shuffled_batches_show_each_image_once_per_epoch_in_a_new_order(count, batch_size, sizes):
    images = np.arange(count, dtype=np.float32).reshape(count, 1, 1, 1) * np.ones((1, 28, 28, 1), np.float32)
    labels = np.eye(10, dtype=np.float32)[np.arange(count) % 10]
    dataset = fa.shuffled_batches(images, labels, lambda x, y: (x, y), batch_size=batch_size, seed=5)
    assert int(dataset.cardinality()) == len(sizes)     # connu d'avance : fit() s'en sert dès la 1re époque
    epochs = []
    for _ in range(2):
        batches = list(dataset)
        assert [len(x) for x, _ in batches] == sizes
        order = np.concatenate([np.asarray(x)[:, 0, 0, 0] for x, _ in batches]).astype(int)
        labels_seen = np.concatenate([np.asarray(y).argmax(1) for _, y in batches])
        assert sorted(order) == list(range(count))                # chaque image une fois
        np.testing.assert_array_equal(labels_seen, order % 10)    # avec son étiquette
        epochs.append(order)
    assert count < 10 or not np.array_equal(epochs[0], epochs[1])  # un autre ordre à l'époque suivante
    again = np.concatenate([np.asarray(x)[:, 0, 0, 0] for x, _ in
                            fa.shuffled_batches(images, labels, lambda x, y: (x, y), batch_size=batch_size, seed=5)])
    np.testing.assert_array_equal(again.astype(int), epochs[0])   # même graine, même ordre


def test_lab_augmented_shifts_stay_within_the_lab_range():
    square = np.zeros((200, 28, 28, 1), np.float32)
    square[:, 10:18, 10:18] = 1.0
    labels = np.zeros((200, 10), np.float32)
    batches = fa.lab_augmented_batches(square, labels, batch_size=100, rotation=0, shear=0, zoom=0)
    out = np.concatenate([np.asarray(b[0])[..., 0] for b in batches])
    centres = (out.sum(axis=1) * np.arange(28)).sum(axis=1) / out.sum(axis=(1, 2))
    shifts = centres - 13.5
    assert np.abs(shifts).max() <= 0.08 * 28 + 0.05      # ±2,24 pixels au plus
    assert shifts.min() < -1.5 and shifts.max() > 1.5     # et les décalages sont bien tirés


def test_random_affine_transforms_without_ranges_are_the_identity():
    transforms = fa.random_affine_transforms(3, rotation=0, shift=0, shear=0, zoom=0).numpy()
    np.testing.assert_allclose(transforms, np.tile([1, 0, 0, 0, 1, 0, 0, 0], (3, 1)), atol=1e-6)


def test_affine_rows_maps_the_output_point_to_the_input_point():
    one = tf.constant([1.0])
    rows = fa.affine_rows(one * 2, one * 0, one * 0, one * 3, input_x=one * 5, input_y=one * 7,
                          output_x=one * 1, output_y=one * 2).numpy()
    a00, a01, a02, a10, a11, a12, c0, c1 = rows[0]
    assert (c0, c1) == (0, 0)
    assert a00 * 1 + a01 * 2 + a02 == pytest.approx(5)
    assert a10 * 1 + a11 * 2 + a12 == pytest.approx(7)
    assert (a00, a01, a10, a11) == (2, 0, 0, 3)


def test_shuffled_batches_applies_the_transform_to_every_batch():
    images = np.arange(10, dtype=np.float32).reshape(10, 1)
    labels = np.arange(10)
    dataset = fa.shuffled_batches(images, labels, lambda x, y: (x * 10, y), batch_size=4, seed=1)
    batches = [(np.asarray(x), np.asarray(y)) for x, y in dataset]
    assert [len(y) for _, y in batches] == [4, 4, 2]
    xs = np.concatenate([x for x, _ in batches])[:, 0]
    ys = np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(xs, ys * 10)               # images et labels restent ensemble
    assert sorted(ys.tolist()) == list(range(10)) and ys.tolist() != list(range(10))


def test_augmentation_layer_changes_images_only_while_learning():
    images = np.zeros((4, 28, 28, 1), np.float32)
    images[:, 8:20, 10:18] = 1.0
    layer = fa.LabAugmentation()
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    augmented = np.asarray(layer(images, training=True))
    assert augmented.shape == images.shape and not np.allclose(augmented, images)
    assert abs(augmented.sum() - images.sum()) < 0.25 * images.sum()        # déplacées, pas effacées
    network = lab_networks.build_cnn_1conv()
    wrapped = keras.Sequential([keras.Input(fu.INPUT_SHAPE), layer, network])
    assert wrapped.count_params() == network.count_params() == 693_962       # aucun poids en plus
    np.testing.assert_allclose(wrapped.predict(images, verbose=0), network.predict(images, verbose=0), atol=1e-6)
    assert fa.LabAugmentation.from_config(layer.get_config()).ranges == layer.ranges


def augmented_epochs(make_dataset, epochs=2):
    """Toutes les images des epochs premières époques d'un pipeline construit par make_dataset,
    après avoir remis les graines du hasard à 5."""
    keras.utils.set_random_seed(5)
    dataset = make_dataset()
    return np.concatenate([np.asarray(x) for _ in range(epochs) for x, _ in dataset])


def test_lab_augmented_batches_are_the_same_each_time_with_the_same_seed():
    # sur une quarantaine de lots : transformés plusieurs à la fois, ils recevaient leurs tirages
    # au hasard dans un ordre qui changeait d'une fois à l'autre
    rng = np.random.default_rng(0)
    images = rng.random((640, fu.IMAGE_SIZE, fu.IMAGE_SIZE, 1), dtype=np.float32)
    labels = np.eye(fu.N_CLASSES, dtype=np.float32)[rng.integers(0, fu.N_CLASSES, 640)]
    first, second = (augmented_epochs(lambda: fa.lab_augmented_batches(images, labels, batch_size=32))
                     for _ in range(2))
    np.testing.assert_array_equal(first, second)
