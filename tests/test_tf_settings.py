"""tf_settings : TensorFlow importé sans lignes de démarrage, allocateur BFC, lots sans autotune."""
import os
import subprocess
import sys

import fashion_utils as fu  # noqa: F401  (importe tf_settings, comme les carnets)
import fast_augmentation
import numpy as np
import photo_training
import tensorflow as tf
import tf_settings
from conftest import ROOT
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter


def autotune_enabled(dataset):
    return dataset.options().autotune.enabled


def test_without_autotune_keeps_the_batches_and_turns_autotuning_off():
    dataset = tf.data.Dataset.range(10).batch(4).prefetch(tf.data.AUTOTUNE)
    assert autotune_enabled(dataset) is not False
    quiet = tf_settings.without_autotune(dataset)
    assert autotune_enabled(quiet) is False
    assert [b.numpy().tolist() for b in quiet] == [b.numpy().tolist() for b in dataset]


def test_batches_that_keras_draws_from_arrays_are_not_autotuned():
    x, y = np.zeros((10, 28, 28, 1), np.float32), np.eye(10, dtype=np.float32)
    adapter = ArrayDataAdapter(x, y, batch_size=4, shuffle=True)
    dataset = adapter.get_tf_dataset()
    assert autotune_enabled(dataset) is False
    assert sum(int(batch[0].shape[0]) for batch in dataset) == 10                    # toutes les images, en lots
    # le get_tf_dataset de Keras reste accessible (le banc le remet pour le comparer) et n'est enveloppé qu'une fois
    assert not hasattr(ArrayDataAdapter.get_tf_dataset.__wrapped__, "__wrapped__")
    assert autotune_enabled(ArrayDataAdapter.get_tf_dataset.__wrapped__(adapter)) is not False


def test_the_project_batches_are_not_autotuned():
    images = np.random.default_rng(0).random((40, 28, 28, 1), dtype=np.float32)
    labels = np.eye(10, dtype=np.float32)[np.arange(40) % 10]
    assert autotune_enabled(fast_augmentation.lab_augmented_batches(images, labels, batch_size=8)) is False
    assert autotune_enabled(photo_training.photo_like_batches(images, labels, batch_size=8)) is False
    assert autotune_enabled(photo_training.fine_tuning_batches(images[:10], labels[:10], images, labels,
                                                               batch_size=4)) is False


def run_python(code, **environment):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPU_ALLOCATOR_USE_BFC"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT / "analyse_image", capture_output=True,
                          text=True, timeout=300, check=True, env={**env, **environment})


def test_bfc_allocator_by_default_unless_the_user_chose_and_no_startup_lines():
    code = "import os, fashion_utils; print(os.environ['TF_CPU_ALLOCATOR_USE_BFC'])"
    completed = run_python(code)
    assert completed.stdout.strip() == "true"
    assert completed.stderr == ""                                  # pas de cadre rouge dans un carnet
    assert run_python(code, TF_CPU_ALLOCATOR_USE_BFC="false").stdout.strip() == "false"
