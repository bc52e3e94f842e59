"""Tests de photo_prediction : réponse du modèle moyennée sur l'image préparée et cinq copies."""
import numpy as np
import photo_prediction


class ColumnModel:
    """Faux modèle : « classe » = colonne du pixel le plus clair (modulo 10), en probabilités one-hot."""
    output_shape = (None, 10)

    def predict(self, images, batch_size=None, verbose=0):
        flat = images.reshape(len(images), -1)
        columns = flat.argmax(axis=1) % images.shape[2]
        return np.eye(10, dtype=np.float32)[columns % 10]


def bright_pixels(*positions, size=12):
    """Lot (n, size, size, 1) noir, un pixel clair par image à (ligne, colonne)."""
    images = np.zeros((len(positions), size, size, 1), np.float32)
    for i, (row, col) in enumerate(positions):
        images[i, row, col, 0] = 1.0
    return images


def test_moved_copies_are_the_image_its_mirror_and_four_one_pixel_shifts():
    copies = photo_prediction.moved_copies(bright_pixels((4, 2)))
    where = [tuple(np.argwhere(copy[0, ..., 0] == 1.0)[0]) for copy in copies]
    assert where == [(4, 2), (4, 9), (4, 3), (4, 1), (5, 2), (3, 2)]


def test_predict_photos_averages_the_six_answers_of_each_image():
    probabilities = photo_prediction.predict_photos(ColumnModel(), bright_pixels((4, 2), (6, 5)))
    expected = np.zeros((2, 10), np.float32)
    for image, columns in enumerate([(2, 9, 3, 1, 2, 2), (5, 6, 6, 4, 5, 5)]):
        for column in columns:
            expected[image, column] += 1 / 6
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)


def test_predict_photos_of_no_photo_is_an_empty_table():
    assert photo_prediction.predict_photos(ColumnModel(), np.zeros((0, 12, 12, 1))).shape == (0, 10)
