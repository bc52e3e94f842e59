"""TensorFlow importé et réglé pour apprendre sur le processeur d'un portable.

fashion_utils l'importe avant tout le reste ; les modules qui construisent des tf.data.Dataset
passent les leurs par without_autotune. Trois réglages, mesurés par scripts/bench_training.py :

- les lignes techniques que TensorFlow écrit en C++ à son démarrage (oneDNN, CUDA absent) sont
  cachées : TF_CPP_MIN_LOG_LEVEL ne les cache pas, et dans un carnet elles formeraient un cadre rouge ;
- l'allocateur « BFC » de TensorFlow (TF_CPU_ALLOCATOR_USE_BFC) garde la mémoire des lots d'un pas
  à l'autre, au lieu de la rendre au système et de la redemander ;
- le réglage automatique de tf.data (autotune) est désactivé pour les lots que Keras tire de
  tableaux NumPy et pour ceux du projet : à la fin de chaque époque, en détruisant l'itérateur de
  l'époque, TensorFlow attend le fil de ce réglage, qui ne se réveille qu'à son prochain réglage
  (intervalle qui double jusqu'à une minute) ; le processus restait alors inoccupé, souvent 10 s
  par époque.
"""
import contextlib
import functools
import os


@contextlib.contextmanager
def _stderr_hidden():
    """Envoie la sortie d'erreur du processus (descripteur 2) vers /dev/null le temps du bloc."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
with _stderr_hidden():
    import tensorflow as tf
    tf.config.list_physical_devices("GPU")          # la recherche d'une carte graphique écrit aussi
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter  # noqa: E402


def without_autotune(dataset):
    """Le même tf.data.Dataset, sans réglage automatique (voir plus haut) ; les parallélismes
    « AUTOTUNE » prennent alors le nombre de cœurs."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _arrays_without_autotune(get_tf_dataset):
    """ArrayDataAdapter.get_tf_dataset (les lots que fit(), evaluate() et predict() tirent de
    tableaux) suivi de without_autotune."""
    @functools.wraps(get_tf_dataset)
    def wrapper(self):
        return without_autotune(get_tf_dataset(self))
    return wrapper


if not hasattr(ArrayDataAdapter.get_tf_dataset, "__wrapped__"):
    ArrayDataAdapter.get_tf_dataset = _arrays_without_autotune(ArrayDataAdapter.get_tf_dataset)
