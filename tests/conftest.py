"""Réglages communs des tests : le module fashion_utils est importable, TensorFlow reste discret."""
import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Les carnets exécutés par papermill héritent de cet environnement : un MPLBACKEND=Agg y
# remplacerait l'affichage « inline » et les figures disparaîtraient des sorties.
os.environ.pop("MPLBACKEND", None)

ROOT = Path(__file__).resolve().parents[1]
ANALYSE_DIR = ROOT / "analyse_image"
sys.path.insert(0, str(ANALYSE_DIR))


@pytest.fixture(autouse=True, scope="session")
def photo_cache_outside_the_project(tmp_path_factory):
    """Les photos préparées pendant les tests (et les carnets qu'ils exécutent) vont dans un
    dossier temporaire, pas dans analyse_image/.cache."""
    os.environ["PHOTOS_CACHE_DIR"] = str(tmp_path_factory.mktemp("photos_preparees"))


def block_image(size=(60, 40), box=None, fg=40, bg=255, mode="L"):
    """Image unie bg avec un rectangle fg (par défaut au centre, la moitié de chaque côté)."""
    width, height = size
    if box is None:
        box = (width // 4, height // 4, width - width // 4 - 1, height - height // 4 - 1)
    image = Image.new(mode, size, bg)
    ImageDraw.Draw(image).rectangle(box, fill=fg)
    return image


def dead_pid():
    """Le numéro d'un processus qui vient de se terminer (et qui n'existe donc plus)."""
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    return child.pid


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1), dtype=np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    return images, labels


def tiny_compiled_model(units=4, seed=1):
    """Un tout petit réseau (Flatten, Dense) compilé comme le labo, pour les tests rapides."""
    import keras
    import lab_networks

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    return lab_networks.compile_model(model)


@pytest.fixture
def no_show(monkeypatch):
    """Les fonctions de graphiques appellent plt.show() : rien ne s'affiche pendant les tests."""
    from matplotlib import pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    yield
    plt.close("all")


@contextlib.contextmanager
def local_http_server(directory, requests=None):
    """Serveur HTTP local (127.0.0.1, port libre) servant directory ; donne son adresse de base.
    Les chemins demandés sont ajoutés à la liste requests, si elle est donnée."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if requests is not None:
                requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
