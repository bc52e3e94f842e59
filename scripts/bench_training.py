"""Banc d'essai : chargement des CSV et coût d'une époque, avec et sans augmentation.

Dans un seul processus, sur les mêmes données, entraîne trois réseaux à 1 convolution neufs
pendant N époques : sans augmentation (le labo), avec ImageDataGenerator (le labo) et avec la
voie rapide (transformations affines par lots, Keras 3 + tf.data). Affiche les secondes par époque, le rapport à l'époque
simple et la précision sur le jeu de test.

    python scripts/bench_training.py --epochs 10
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "analyse_image"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import fashion_utils as fu  # noqa: E402
import fast_augmentation  # noqa: E402
from tensorflow.keras.preprocessing.image import ImageDataGenerator  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Mesure la durée de chaque époque."""

    def on_train_begin(self, logs=None):
        self.durations = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self.start)


def time_loading(data_dir):
    """Charge les deux CSV (après un premier chargement qui remplit un éventuel cache) et chronomètre."""
    train_csv, test_csv = fu.ensure_csv_files(data_dir)
    fu.load_csv(train_csv), fu.load_csv(test_csv)
    start = time.perf_counter()
    train, test = fu.load_csv(train_csv), fu.load_csv(test_csv)
    seconds = time.perf_counter() - start
    dtypes = sorted({str(t) for t in list(train.dtypes) + list(test.dtypes)})
    print(f"Chargement des deux CSV : {seconds:.2f} s ({len(train)} + {len(test)} lignes, types {dtypes})")
    return train, test


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="époques par entraînement (10)")
    parser.add_argument("--data", default=str(ROOT / "analyse_image" / "datas"), help="dossier des CSV")
    parser.add_argument("--rows", type=int, default=None, help="échantillon de lignes d'apprentissage")
    args = parser.parse_args()

    tf.config.set_visible_devices([], "GPU")
    train, test = time_loading(args.data)
    train = fu.sample_rows(train, args.rows)
    X = train.iloc[:, 1:].to_numpy()
    y = keras.utils.to_categorical(train.iloc[:, 0].to_numpy(), 10)
    X_app, X_val, y_app, y_val = train_test_split(X, y, test_size=0.2, random_state=13)
    X_app, X_val = fu.to_model_input(X_app), fu.to_model_input(X_val)
    X_test = fu.to_model_input(test.iloc[:, 1:].to_numpy())
    y_test = keras.utils.to_categorical(test.iloc[:, 0].to_numpy(), 10)
    steps = len(X_app) // 256

    def plain(model, timer):
        model.fit(X_app, y_app, batch_size=256, epochs=args.epochs, verbose=0,
                  validation_data=(X_val, y_val), callbacks=[timer])

    def image_data_generator(model, timer):
        generator = ImageDataGenerator(rotation_range=8, width_shift_range=0.08, shear_range=0.3,
                                       height_shift_range=0.08, zoom_range=0.08)
        model.fit(fu.repeat_forever(generator.flow(X_app, y_app, batch_size=256, seed=13)),
                  steps_per_epoch=steps, epochs=args.epochs, shuffle=False, verbose=0,
                  validation_data=fu.repeat_forever(generator.flow(X_val, y_val, batch_size=256, seed=13)),
                  validation_steps=len(X_val) // 256, callbacks=[timer])

    def fast_path(model, timer):
        model.fit(fast_augmentation.lab_augmented_batches(X_app, y_app, batch_size=256), epochs=args.epochs, shuffle=False,
                  verbose=0, validation_data=(X_val, y_val), callbacks=[timer])

    rows = []
    for name, train_fn in (("labo, sans augmentation", plain),
                           ("labo, ImageDataGenerator", image_data_generator),
                           ("voie rapide, Keras 3 + tf.data", fast_path)):
        keras.utils.set_random_seed(13)
        model = fu.build_cnn_1conv()
        timer = EpochTimer()
        train_fn(model, timer)
        _, accuracy = model.evaluate(X_test, y_test, verbose=0)
        # La première époque compile le graphe : on la met à part.
        steady = statistics.median(timer.durations[1:] or timer.durations)
        rows.append((name, steady, sum(timer.durations), accuracy))
        print(f"  {name} : {steady:.2f} s/époque, précision test {accuracy:.4f}", flush=True)

    base = rows[0][1]
    print(f"\n{args.epochs} époques, {len(X_app)} images d'apprentissage, réseau à 1 convolution, "
          f"{os.cpu_count()} cœurs")
    print(f"{'entraînement':40} {'s/époque':>9} {'rapport':>8} {'total s':>8} {'précision':>10}")
    for name, steady, total, accuracy in rows:
        print(f"{name:40} {steady:9.2f} {steady / base:7.2f}x {total:8.1f} {accuracy:10.4f}")


if __name__ == "__main__":
    main()
