"""Au-delà du labo : la réponse du modèle sur des photos préparées, moyennée sur quelques copies.

Sur une vraie photo, la réponse du modèle change parfois d'une classe à l'autre quand l'image
préparée bouge d'un pixel. On lui montre donc chaque image préparée et cinq copies à peine
changées (en miroir, décalées d'un pixel dans chaque direction), et on fait la moyenne des six
réponses : c'est l'augmentation au moment du test (*test-time augmentation*). Le modèle du labo,
avec la préparation du labo, répond toujours sur la seule image, comme dans le labo.
"""
import numpy as np


def moved_copies(images):
    """Le lot (n, h, w, 1) et cinq copies : en miroir gauche-droite, puis décalées d'un pixel vers
    la droite, la gauche, le bas et le haut (le fond, à 0 au bord d'une image préparée, fait le tour)."""
    images = np.asarray(images)
    shifts = [np.roll(images, step, axis=axis) for axis, step in ((2, 1), (2, -1), (1, 1), (1, -1))]
    return [images, images[:, :, ::-1]] + shifts


def predict_photos(model, images, batch_size=256):
    """Probabilités (n, 10) du modèle sur des photos préparées : moyenne de ses réponses sur les
    images et leurs copies (moved_copies). Un lot vide donne un tableau (0, 10)."""
    if len(images) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    copies = moved_copies(images)
    answers = model.predict(np.concatenate(copies), batch_size=batch_size, verbose=0)
    return answers.reshape(len(copies), len(images), -1).mean(axis=0)
