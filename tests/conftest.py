"""Réglages communs des tests : le module fashion_utils est importable, TensorFlow reste discret."""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Les carnets exécutés par papermill héritent de cet environnement : un MPLBACKEND=Agg y
# remplacerait l'affichage « inline » et les figures disparaîtraient des sorties.
os.environ.pop("MPLBACKEND", None)

ROOT = Path(__file__).resolve().parents[1]
ANALYSE_DIR = ROOT / "analyse_image"
sys.path.insert(0, str(ANALYSE_DIR))
