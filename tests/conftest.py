"""Réglages communs des tests : le module fashion_utils est importable, TensorFlow reste discret."""
import os
import subprocess
import sys
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
