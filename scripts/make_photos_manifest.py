"""Construit le manifeste des photos réelles (analyse_image/photos_manifest.csv) à partir d'un dossier
de photos rangées par classe (un sous-dossier par classe, comme photos-dev).

Une ligne par photo : fichier,classe,sha256 (classe = nom du sous-dossier, par exemple Sneaker),
triées par classe puis par nom de fichier. photo_dataset.find_photos_dir télécharge et vérifie
les photos d'après ce manifeste.

    python scripts/make_photos_manifest.py ../shared/data/photos-dev
"""
import argparse
import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "analyse_image"))

import photo_dataset  # noqa: E402
import photo_files  # noqa: E402
from safe_files import file_sha256, write_atomically  # noqa: E402


def manifest_rows(folder):
    """Lignes (fichier, classe, sha256) des photos de folder, triées par classe puis par nom ;
    et les avertissements (dossiers de classe inconnue, photos hors d'un dossier de classe)."""
    entries, warnings = photo_files.collect_photos(folder, "all")
    rows = [(path.name, path.parent.name, file_sha256(path)) for path, _ in entries]
    return sorted(rows, key=lambda row: (row[1], row[0])), warnings


def manifest_text(rows):
    """Contenu CSV du manifeste (en-tête puis une ligne par photo, fins de ligne « \\n »)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(photo_dataset.MANIFEST_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", help="dossier des photos rangées par classe")
    parser.add_argument("--output", default=str(photo_dataset.MANIFEST_PATH),
                        help="manifeste à écrire (défaut : analyse_image/photos_manifest.csv)")
    args = parser.parse_args(argv)
    rows, warnings = manifest_rows(args.photos)
    for warning in warnings:
        print(f"Attention : {warning}")
    if not rows:
        print(f"Aucune photo dans un dossier de classe de « {args.photos} » : manifeste non écrit.")
        return 1
    text = manifest_text(rows)
    write_atomically(Path(args.output), lambda file: file.write(text.encode("utf-8")),
                     verify=lambda tmp: photo_dataset.read_manifest(tmp))
    counts = {}
    for _, folder, _ in rows:
        counts[folder] = counts.get(folder, 0) + 1
    print(f"{len(rows)} photos écrites dans {args.output} : "
          + ", ".join(f"{folder} {n}" for folder, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
