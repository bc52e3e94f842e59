"""Banc d'essai : quel réseau pour les photos ? Mesuré sur la moitié « dev » des photos seulement.

Pour chaque configuration, un réseau est préparé pour les photos (entraîné sur des images de
Fashion-MNIST transformées comme des photos, photo_training.photo_like_batches), puis, pour chaque
découpage de la moitié « dev » en deux moitiés de mêmes proportions par classe, affiné sur l'une
(photo_training.fine_tuned_copy, comme classification.ipynb) et mesuré sur l'autre
(photo_prediction.predict_photos). La moitié « holdout » n'est jamais lue. Imprime, par découpage et
en moyenne : la précision moyenne des six classes de vêtements (les chaussures de photos-dev sont
trop rares pour une moitié de « dev »), la précision équilibrée de toutes les classes présentes, et la
précision sur le jeu de test de Fashion-MNIST mis au format des photos.

    python scripts/bench_photo_networks.py                          # les quatre configurations
    python scripts/bench_photo_networks.py --configs 1conv 4conv-labo-5 --splits 3

Les configurations qui partent du réseau à 4 convolutions du labo lisent modele/modele_4conv.*.
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "analyse_image"))

import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import bench_photos  # noqa: E402  (scripts/ est le dossier de ce script)
import fashion_utils as fu  # noqa: E402
import lab_networks  # noqa: E402

SEED = 13
GARMENTS = (0, 1, 2, 3, 4, 6)  # T-shirt, pantalon, pull, robe, manteau, chemise
NEW_NETWORKS = {"1conv": lab_networks.build_cnn_1conv, "4conv": lab_networks.build_cnn_4conv}
# nom : (description, point de départ : un réseau neuf de NEW_NETWORKS ou un modèle sauvegardé, époques pour les photos)
CONFIGS = {
    "1conv": ("1 convolution, 15 époques à partir de zéro (modele_photos avant le 7 décembre)", "1conv", 15),
    "4conv-labo": ("4 convolutions du labo, affiné directement", "modele_4conv", 0),
    "4conv-labo-5": ("4 convolutions du labo, 5 époques pour les photos (classification.ipynb)", "modele_4conv", 5),
    "4conv-15": ("4 convolutions, 15 époques pour les photos à partir de zéro", "4conv", 15),
}


def dev_halves(classes, n_splits, seed=100):
    """n_splits découpages (indices A, indices B) en deux moitiés de mêmes proportions par classe ;
    une classe d'une seule photo va toute dans A."""
    classes = np.asarray(classes)
    counts = np.bincount(classes)
    paired = counts[classes] >= 2
    alone = np.flatnonzero(~paired)
    for k in range(n_splits):
        a, b = train_test_split(np.flatnonzero(paired), test_size=0.5, random_state=seed + k,
                                stratify=classes[paired])
        yield np.sort(np.concatenate([a, alone])), np.sort(b)


def garment_score(y_true, y_pred, garments=GARMENTS):
    """Moyenne des précisions (rappels) des classes de vêtements présentes dans y_true."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = [c for c in garments if np.any(y_true == c)]
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))


def photo_network(config, X_app, y_app, X_val_photos, y_val, model_dir):
    """Le réseau de la configuration, préparé pour les photos (avant tout affinage), et ses secondes."""
    import keras
    import photo_training
    _, start, epochs = CONFIGS[config]
    keras.utils.set_random_seed(SEED)
    if start in NEW_NETWORKS:
        model = NEW_NETWORKS[start]()
    else:
        model = lab_networks.compile_model(fu.load_model_files(Path(model_dir) / f"{start}.json",
                                                               Path(model_dir) / f"{start}.weights.h5"))
    start = time.perf_counter()
    if epochs:
        model.fit(photo_training.photo_like_batches(X_app, y_app, batch_size=256), epochs=epochs,
                  validation_data=(X_val_photos, y_val), validation_batch_size=256, verbose=2)
    return model, time.perf_counter() - start


def measure(config, data, photos, photo_classes, n_splits, model_dir):
    """Lignes (découpage, vêtements, précision équilibrée, Fashion-MNIST au format photo) d'une configuration."""
    import error_analysis
    import photo_prediction
    import photo_training
    X_app, y_app, X_val_photos, y_val, X_test_photos, y_test = data
    model, seconds = photo_network(config, X_app, y_app, X_val_photos, y_val, model_dir)
    print(f"{config} : réseau pour les photos prêt en {seconds:.0f} s", flush=True)
    rows = []
    for k, (a, b) in enumerate(dev_halves(photo_classes, n_splits)):
        tuned, _, seconds = photo_training.fine_tuned_copy(
            model, photos[a], np.eye(10, dtype="float32")[photo_classes[a]], X_app, y_app, verbose=0)
        predicted = photo_prediction.predict_photos(tuned, photos[b]).argmax(axis=1)
        fashion = tuned.evaluate(X_test_photos, y_test, batch_size=256, verbose=0)[1]
        rows.append((k, garment_score(photo_classes[b], predicted),
                     error_analysis.balanced_accuracy(photo_classes[b], predicted), fashion))
        print(f"  découpage {k} : vêtements {rows[-1][1]:.3f}, précision équilibrée {rows[-1][2]:.3f}, "
              f"Fashion-MNIST au format photo {fashion:.4f} (affinage {seconds:.0f} s)", flush=True)
    return rows


def load_data(data_dir, rows=None):
    """Fashion-MNIST découpé comme dans le carnet, et ses images de validation et de test au format photo."""
    import fashion_data
    import photo_training
    train_csv, test_csv = fu.ensure_csv_files(data_dir)
    train, test = fu.sample_rows(fu.load_csv(train_csv), rows), fu.load_csv(test_csv)
    X_app, X_val, y_app, y_val, X_test, y_test = fashion_data.lab_arrays(train, test, seed=SEED)
    return X_app, y_app, photo_training.photo_format(X_val), y_val, photo_training.photo_format(X_test), y_test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--splits", type=int, default=3, help="découpages de la moitié dev (3)")
    parser.add_argument("--photos", default=str(bench_photos.DEFAULT_PHOTOS), help="photos rangées par classe")
    parser.add_argument("--data", default=str(ROOT / "analyse_image" / "datas"), help="dossier des CSV")
    parser.add_argument("--rows", type=int, default=None, help="échantillon de lignes d'apprentissage")
    parser.add_argument("--model-dir", default=str(ROOT / "analyse_image" / "modele"))
    args = parser.parse_args(argv)
    import photo_preparation
    photos, photo_classes, kept_out, failures = photo_preparation.prepared_photo_split(
        args.photos, "dev", "vetement_seul", keep_out_folder=ROOT / "analyse_image" / "images", progress=True)
    print(f"{len(photos)} photos de la moitié dev ({kept_out} photos d'exemple écartées, {len(failures)} illisibles)")
    data = load_data(args.data, args.rows)
    results = {config: measure(config, data, photos, photo_classes, args.splits, args.model_dir)
               for config in args.configs}
    print(f"\nMoyennes sur {args.splits} découpages de la moitié dev (affinage sur une moitié, mesure sur l'autre) :")
    print(f"{'configuration':<14} {'vêtements':>9} {'équilibrée':>10} {'FM photo':>9}  description")
    for config, rows in results.items():
        mean = np.mean([row[1:] for row in rows], axis=0)
        print(f"{config:<14} {mean[0]:9.3f} {mean[1]:10.3f} {mean[2]:9.4f}  {CONFIGS[config][0]}")


if __name__ == "__main__":
    main()
