"""Tests de photo_training : Fashion-MNIST transformé comme une photo préparée, affinage sur photos."""
import fashion_data
import fashion_utils as fu
import lab_networks
import numpy as np
import photo_preparation
import photo_training
import pytest
import tensorflow as tf
from scipy import ndimage as ndi

CENTRE = (fashion_data.IMAGE_SIZE - 1) / 2.0


def rectangle_batch(n=1, top=2, bottom=10, left=3, right=20):
    """Lot (n, 28, 28, 1) : un rectangle en dégradé horizontal 0,1 -> 0,9, décentré, fond à 0."""
    images = np.zeros((n, 28, 28, 1), np.float32)
    images[:, top:bottom, left:right, 0] = np.linspace(0.1, 0.9, right - left)[None, None, :]
    return images


def boot_batch():
    """Une botte de profil (tige à droite, semelle en bas), pointe vers la gauche comme Fashion-MNIST."""
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 18:24, 2:26, 0] = 0.8      # semelle et pied
    image[0, 4:18, 16:26, 0] = 0.6      # tige
    return image


def one_hot(classes):
    return np.eye(10, dtype=np.float32)[list(classes)]


def bounding_box(image, level=0.0):
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_photo_format_frames_like_the_photo_pipeline():
    image = photo_training.photo_format(rectangle_batch())[0, :, :, 0]
    top, bottom, left, right = bounding_box(image)
    assert abs((right - left + 1) - 24) <= 1                       # plus grand côté : 24 pixels
    assert (bottom - top + 1) < (right - left + 1)                  # proportions gardées
    cy, cx = ndi.center_of_mass(image)
    assert abs(cy - CENTRE) < 0.75 and abs(cx - CENTRE) < 0.75      # centré par centre de masse
    assert image[:top].max() == 0 and image[bottom + 1:].max() == 0  # fond noir
    inside = image[image > 0]
    assert inside.max() == pytest.approx(1.0) and inside.min() >= 0.2 - 1e-6   # étiré vers [0,2 ; 1]


def test_photo_format_matches_garment_to_28():
    """Les deux côtés (Fashion-MNIST à l'entraînement, photo à l'usage) donnent la même image."""
    batch = rectangle_batch(top=5, bottom=21, left=8, right=18)
    mask = batch[0, :, :, 0] > photo_training.FOREGROUND_LEVEL
    intensity = photo_preparation.garment_intensity(255 * (1 - batch[0, :, :, 0]), mask)
    expected = photo_preparation.garment_to_28(intensity, mask)
    produced = photo_training.photo_format(batch)[0, :, :, 0]
    # center_by_mass place l'objet au pixel près, frame_like_photos au sous-pixel : ±1 pixel d'écart
    best = min(np.abs(np.roll(produced, (dy, dx), axis=(0, 1)) - expected).mean()
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    assert best < 0.02


def test_stretch_batch_contrast_matches_stretch_contrast():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.05, 0.7, (3, 28, 28, 1)).astype(np.float32)
    masks = (rng.uniform(size=(3, 28, 28, 1)) < 0.4).astype(np.float32)
    out = photo_training.stretch_batch_contrast(tf.constant(images), tf.constant(masks)).numpy()
    for i in range(3):
        inside = masks[i, :, :, 0] > 0.5
        expected = photo_preparation.stretch_contrast(images[i, :, :, 0][inside], floor=0.2)
        np.testing.assert_allclose(out[i, :, :, 0][inside], expected, atol=1e-5)
        assert out[i, :, :, 0][~inside].max() == 0


def test_stretch_batch_contrast_uniform_garment_is_full_intensity():
    images = np.full((1, 28, 28, 1), 0.3, np.float32)
    masks = np.zeros_like(images)
    masks[0, 5:10, 5:10] = 1
    out = photo_training.stretch_batch_contrast(tf.constant(images), tf.constant(masks)).numpy()[0, :, :, 0]
    assert out[5:10, 5:10].min() == 1.0 and out.sum() == 25.0


def test_shoe_pairs_makes_two_touching_copies():
    tf.random.set_seed(1)
    boots = np.repeat(boot_batch(), 16, axis=0)
    pairs, masks = photo_training.shoe_pairs(tf.constant(boots), tf.constant((boots > 0).astype(np.float32)))
    pairs = pairs.numpy()[..., 0]
    for pair in pairs:
        labels, count = ndi.label(pair > 0.05)
        assert count <= 2                                           # les deux copies se touchent souvent
        # deux copies à moitié taille : chacune a le quart de la masse, elles se chevauchent un peu
        assert 0.3 * boots[0].sum() < pair.sum() < 0.55 * boots[0].sum()
    assert masks.shape == (16, 28, 28, 1)


def test_fill_columns_stretches_each_used_column_over_the_whole_height():
    boots = boot_batch()
    filled, masks = photo_training.fill_columns(tf.constant(boots), tf.constant((boots > 0).astype(np.float32)))
    filled, masks = filled.numpy()[0, :, :, 0], masks.numpy()[0, :, :, 0]
    assert masks[:, 2:26].min() == 1 and masks[:, :2].max() == 0 and masks[:, 26:].max() == 0
    np.testing.assert_allclose(filled[:, 5], 0.8, atol=1e-5)       # pied seul : la semelle, étirée
    assert filled[0, 20] == pytest.approx(0.6) and filled[27, 20] == pytest.approx(0.8)   # tige en haut, semelle en bas


def test_shoe_pairs_from_above_makes_two_separate_upright_soles():
    """Vue de dessus : deux empreintes séparées, côte à côte, chacune plus longue que large, pointe
    en haut ou en bas (la longueur de la botte devient verticale)."""
    tf.random.set_seed(2)
    boots = np.repeat(boot_batch(), 16, axis=0)
    pairs, masks = photo_training.shoe_pairs_from_above(tf.constant(boots), tf.constant((boots > 0).astype(np.float32)))
    for pair in pairs.numpy()[..., 0]:
        labels, count = ndi.label(pair > 0.05)
        assert count == 2                                           # séparées d'un à trois pixels
        boxes = ndi.find_objects(labels)
        heights = [box[0].stop - box[0].start for box in boxes]
        widths = [box[1].stop - box[1].start for box in boxes]
        assert min(heights) > 1.5 * max(widths)                     # debout, amincies
        centres = sorted((box[1].start + box[1].stop) / 2 for box in boxes)
        assert centres[1] - centres[0] >= max(widths)               # côte à côte, pas l'une sur l'autre
    assert masks.shape == (16, 28, 28, 1)


def test_photo_like_batch_pairs_only_shoes():
    """Avec une probabilité de paire de 1, un T-shirt reste seul et une botte devient une paire."""
    images = np.concatenate([rectangle_batch(top=4, bottom=24, left=6, right=22), boot_batch()])
    labels = one_hot([0, 9])
    options = dict(rotation=0.0, flip=False, lighting=False, size_jitter=0.0, shift=0.0)
    tf.random.set_seed(3)
    alone = photo_training.photo_like_batch(tf.constant(images), tf.constant(labels),
                                            pair_probability=0.0, **options).numpy()
    tf.random.set_seed(3)
    paired = photo_training.photo_like_batch(tf.constant(images), tf.constant(labels),
                                             pair_probability=1.0, **options).numpy()
    np.testing.assert_allclose(paired[0], alone[0], atol=0.15)      # T-shirt : même cadrage, pas de paire
    assert np.abs(paired[1] - alone[1]).mean() > 0.05               # botte : image différente


def test_photo_like_batch_output_format_and_background():
    tf.random.set_seed(0)
    images = np.concatenate([rectangle_batch(4), boot_batch()])
    out = photo_training.photo_like_batch(tf.constant(images), tf.constant(one_hot([0, 1, 2, 3, 9]))).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    for image in out[..., 0]:
        assert (image == 0).mean() > 0.2                            # fond noir autour du vêtement
        cy, cx = ndi.center_of_mass(image)
        assert abs(cy - CENTRE) < 2.5 and abs(cx - CENTRE) < 2.5


def test_turn_and_flip_mirrors_without_rotation():
    boot = boot_batch()
    tf.random.set_seed(0)
    turned, _ = photo_training.turn_and_flip(tf.constant(np.repeat(boot, 32, axis=0)),
                                             tf.constant(np.repeat((boot > 0).astype(np.float32), 32, axis=0)),
                                             rotation=0.0)
    turned = turned.numpy()[..., 0]
    same = [np.allclose(t, boot[0, :, :, 0], atol=1e-5) for t in turned]
    mirrored = [np.allclose(t, boot[0, :, ::-1, 0], atol=1e-5) for t in turned]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 4 < sum(mirrored) < 28                                   # environ une fois sur deux


def test_photo_like_batches_batches():
    images = np.concatenate([rectangle_batch(5), np.repeat(boot_batch(), 5, axis=0)])
    labels = one_hot([0] * 5 + [9] * 5)
    batches = list(photo_training.photo_like_batches(images, labels, batch_size=4))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    assert sorted(np.concatenate([y.numpy().argmax(1) for _, y in batches])) == [0] * 5 + [9] * 5


def test_gaussian_blur_is_the_5x5_gaussian_convolution():
    images = tf.random.stateless_uniform((3, 28, 28, 1), seed=(1, 2))
    taps = np.exp(-np.arange(-2.0, 3.0) ** 2 / 2.0)
    kernel = (np.outer(taps, taps) / taps.sum() ** 2).astype(np.float32).reshape(5, 5, 1, 1)
    expected = tf.nn.conv2d(images, kernel, 1, "SAME").numpy()
    np.testing.assert_allclose(photo_training.gaussian_blur(images).numpy(), expected, atol=1e-5)


def bars(n, vertical):
    """Lot (n, 28, 28, 1) de barres claires, verticales ou horizontales, un peu déplacées."""
    images = np.zeros((n, 28, 28, 1), np.float32)
    for i in range(n):
        start = 8 + i % 6
        if vertical:
            images[i, 4:24, start:start + 5, 0] = 0.9
        else:
            images[i, start:start + 5, 4:24, 0] = 0.9
    return images


def test_fine_tuning_batches_halves_photos_and_fashion_mnist():
    photos = np.concatenate([bars(6, True), bars(2, False)])
    photo_labels = one_hot([3] * 6 + [5] * 2)                        # classe 5 trois fois plus rare
    images, labels = rectangle_batch(10), one_hot([0] * 10)
    batches = photo_training.fine_tuning_batches(photos, photo_labels, images, labels, batch_size=4)
    x, y, weight = next(iter(batches))
    assert x.shape == (8, 28, 28, 1) and y.shape == (8, 10)
    assert set(y.numpy()[:4].argmax(1)) <= {3, 5} and set(y.numpy()[4:].argmax(1)) == {0}
    photo_weight = {3: 8 / (2 * 6), 5: 8 / (2 * 2)}                   # chaque classe pèse autant
    assert weight.numpy()[:4] == pytest.approx([photo_weight[c] for c in y.numpy()[:4].argmax(1)])
    assert weight.numpy()[4:] == pytest.approx([1.0] * 4)


def test_fine_tuned_copy_learns_the_photos_and_leaves_the_model_alone():
    import keras
    keras.utils.set_random_seed(0)
    model = lab_networks.compile_model(lab_networks.build_cnn_1conv())
    before = [w.copy() for w in model.get_weights()]
    photos = np.concatenate([bars(12, True), bars(12, False)])
    classes = np.array([3] * 12 + [5] * 12)
    images, labels = np.concatenate([bars(12, True), bars(12, False)]), one_hot(classes)
    tuned, history, seconds = photo_training.fine_tuned_copy(model, photos, one_hot(classes), images, labels,
                                                             epochs=15, learning_rate=3e-3, batch_size=8,
                                                             verbose=0)
    assert len(history.history["loss"]) == 15 and seconds > 0
    assert (tuned.predict(photos, verbose=0).argmax(1) == classes).mean() >= 0.9
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))   # l'original intact
    assert tuned is not model


def test_fine_tuned_copy_keeps_the_first_block_frozen():
    import keras
    keras.utils.set_random_seed(0)
    model = lab_networks.compile_model(lab_networks.build_cnn_4conv())
    assert [type(layer).__name__ for layer in photo_training.first_block(model)] == [
        "Conv2D", "BatchNormalization", "Conv2D", "BatchNormalization"]
    photos = np.concatenate([bars(8, True), bars(8, False)])
    classes = np.array([3] * 8 + [5] * 8)
    tuned, _, _ = photo_training.fine_tuned_copy(model, photos, one_hot(classes), photos, one_hot(classes),
                                                 epochs=2, batch_size=8, verbose=0)
    for before, after in zip(model.layers, tuned.layers):
        same = all(np.array_equal(a, b) for a, b in zip(before.get_weights(), after.get_weights()))
        assert same == (before in photo_training.first_block(model) or not before.get_weights())
    assert all(layer.trainable for layer in tuned.layers)          # la copie rendue est ordinaire


def test_show_photo_like_examples_rows(no_show):
    images = np.concatenate([rectangle_batch(10), boot_batch()])
    labels = np.arange(11) % 10
    fig = photo_training.show_photo_like_examples(images, labels)
    assert len(fig.axes) == 2 * 10                                  # une colonne par classe
    photos = np.stack([np.full((28, 28), value) for value in (0.1, 0.2, 0.3, 0.4)])
    photo_classes = [7, 1, 7, 3]                                     # pas dans l'ordre des classes
    fig = photo_training.show_photo_like_examples(images, one_hot(labels), photos=photos,
                                                  photo_classes=photo_classes)
    assert len(fig.axes) == 3 * 10
    assert [ax.get_title() for ax in fig.axes[:10]] == fu.NOMS_COURTS
    shown = {col: ax.get_images()[0].get_array().mean()
             for col, ax in enumerate(fig.axes[20:]) if ax.get_images()}
    assert shown == pytest.approx({1: 0.2, 3: 0.4, 7: 0.1})           # sous sa classe, la 1re de la classe
