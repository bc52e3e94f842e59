"""Banc d'essai des vêtements portés : des hauts de photos-dev « portés » par une silhouette dessinée.

Aucun jeu de photos de vêtements portés n'est fourni au projet. Pour chaque photo de haut (T-shirt,
pull, robe, manteau, chemise) de la partie choisie : le vêtement est détouré par GrabCut
(photo_preparation.garment_region), posé sur le buste de la silhouette de worn_figures.py (visage,
cheveux, bras nus, jean, fond blanc de photo de boutique), puis classé. Trois mesures par classe :
la photo d'origine (« premier_plan »), le vêtement porté préparé par « premier_plan » (la silhouette
reste dans l'image), et par « vetement_seul » (la silhouette retirée). S'y ajoute la part des photos
d'origine où find_face croit voir une personne (fausses alertes : photos-dev n'a que des vêtements
à plat ou sur cintre).

Avec --teints, la silhouette est redessinée avec chacune des teintes de peau choisies de l'échelle
Monk (1, la plus claire, à 10, la plus foncée) : pour chacune, la part des silhouettes où une
personne est trouvée et la précision des hauts portés préparés par « vetement_seul ».

    python scripts/bench_worn.py --per-class 40 --split holdout
    python scripts/bench_worn.py --per-class 20 --teints 1 2 3 4 5 6 7 8 9 10
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "analyse_image"))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_photos  # noqa: E402
import fashion_utils as fu  # noqa: E402
import photo_files  # noqa: E402
import photo_person  # noqa: E402
import photo_prediction  # noqa: E402
import photo_preparation  # noqa: E402
import worn_figures  # noqa: E402

TOPS = (0, 2, 3, 4, 6)          # T-shirt/haut, pull, robe, manteau, chemise


def cut_out_garment(small, mask):
    """Le vêtement d'une photo réduite, détouré selon son masque GrabCut (RGBA, transparent hors du
    masque), recadré."""
    rgba = np.dstack([np.asarray(small.convert("RGB")), (mask * 255).astype(np.uint8)])
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return Image.fromarray(rgba[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], "RGBA")


def dress_figures(garments, folder, prefix, skin=worn_figures.SKIN):
    """Chaque vêtement détouré (image RGBA, classe) porté par la silhouette de teinte skin, enregistré
    dans folder : liste de (chemin, classe)."""
    entries = []
    for i, (garment, label) in enumerate(garments):
        path = Path(folder) / f"{prefix}_{i:04d}.png"
        worn_figures.person_wearing(garment, skin=skin)[0].save(path)
        entries.append((path, label))
    return entries


def count_people(entries):
    """Nombre de photos où photo_person.find_face trouve une personne."""
    return sum(photo_person.find_face(np.asarray(small.convert("RGB")), mask) is not None
               for small, mask, _ in (photo_preparation.garment_region(path) for path, _ in entries))


def score_entries(model, entries, preparation):
    """Scores (bench_photos.score_predictions) du modèle sur des photos préparées par preparation."""
    images, ok, _ = bench_photos.prepare_entries(entries, preparation)
    predicted = photo_prediction.predict_photos(model, images[..., None]).argmax(axis=1)
    y_true = np.array([label for _, label in entries])
    return bench_photos.score_predictions(y_true, bench_photos.predictions_with_failures(len(entries), ok, predicted))


def per_class_cells(scores):
    """Les précisions par classe des hauts (TOPS), en colonnes de 9 caractères."""
    return " ".join(f"{scores.per_class.get(c, float('nan')):9.2f}" for c in TOPS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=str(bench_photos.DEFAULT_PHOTOS))
    parser.add_argument("--model", default=str(ROOT / "analyse_image" / "modele" / "modele_photos_affine"))
    parser.add_argument("--split", default="holdout", choices=photo_files.SPLITS)
    parser.add_argument("--per-class", type=int, default=40, help="photos par classe au plus (40)")
    parser.add_argument("--save-examples", metavar="PNG", help="quelques silhouettes et ce que voit le modèle")
    parser.add_argument("--teints", nargs="+", type=int, choices=range(1, 11), metavar="N", default=[],
                        help="teintes de peau de l'échelle Monk (1 à 10) à essayer en plus")
    args = parser.parse_args(argv)

    entries, _ = photo_files.collect_photos(args.photos, args.split)
    chosen = []
    for label in TOPS:
        chosen += [(path, c) for path, c in entries if c == label][:args.per_class]
    model = bench_photos.load_model(args.model)
    print(f"{len(chosen)} photos de hauts ({args.split}), modèle {Path(args.model).name}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_worn_") as folder:
        garments, kept, alarms = [], [], 0
        for path, label in chosen:
            try:
                small, mask, _ = photo_preparation.garment_region(path)
                alarms += photo_person.find_face(np.asarray(small.convert("RGB")), mask) is not None
                garments.append((cut_out_garment(small, mask), label))
            except Exception as exc:  # noqa: BLE001 - une photo ratée n'arrête pas le banc
                print(f"  {path.name} : {type(exc).__name__} : {exc}")
                continue
            kept.append((path, label))
        worn_entries = dress_figures(garments, folder, "porte")
        cases = {"photo d'origine, premier_plan": (kept, "premier_plan"),
                 "portée, premier_plan": (worn_entries, "premier_plan"),
                 "portée, vetement_seul": (worn_entries, "vetement_seul")}
        rows = {name: score_entries(model, case_entries, preparation)
                for name, (case_entries, preparation) in cases.items()}
        detected = count_people(worn_entries)
        tones = {}
        for tone in args.teints:
            tone_entries = dress_figures(garments, folder, f"teint{tone}", skin=worn_figures.MONK_SKIN_TONES[tone - 1])
            found = count_people(tone_entries)
            tones[tone] = (found, len(tone_entries), score_entries(model, tone_entries, "vetement_seul"))
            print(f"  teint Monk {tone} : personne trouvée {found} sur {len(tone_entries)}", flush=True)
        if args.save_examples:
            examples = [Image.open(p).convert("L").resize((112, 112)) for p, _ in worn_entries[::max(1, len(worn_entries) // 8)][:8]]
            seen = [Image.fromarray((photo_preparation.prepare_garment(p) * 255).astype(np.uint8)).resize((112, 112), 0)
                    for p, _ in worn_entries[::max(1, len(worn_entries) // 8)][:8]]
            sheet = Image.new("L", (112 * len(examples), 224))
            for j, (a, b) in enumerate(zip(examples, seen)):
                sheet.paste(a, (112 * j, 0))
                sheet.paste(b, (112 * j, 112))
            sheet.save(args.save_examples)

    names = [fu.NOMS_COURTS[c] for c in TOPS]
    print(f"\nPersonne trouvée : {detected} silhouettes sur {len(worn_entries)} ; "
          f"{alarms} photos d'origine sur {len(kept)} (fausses alertes)")
    print(f"\n{'mesure':32} " + " ".join(f"{n[:9]:>9}" for n in names) + f" {'équilibrée':>10}")
    for name, scores in rows.items():
        print(f"{name:32} {per_class_cells(scores)} {scores.balanced_accuracy:10.3f}")
    if tones:
        print("\nTeintes de peau de l'échelle Monk (hauts portés, vetement_seul) :")
        print(f"{'teint':>5} {'personne':>9} " + " ".join(f"{n[:9]:>9}" for n in names) + f" {'équilibrée':>10}")
        for tone, (found, total, scores) in tones.items():
            found_share = f"{found:4d}/{total:<4d}"
            print(f"{tone:5d} {found_share} {per_class_cells(scores)} {scores.balanced_accuracy:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
