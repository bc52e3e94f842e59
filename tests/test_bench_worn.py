"""Banc des vêtements portés (scripts/bench_worn.py) sur un petit dossier de T-shirts dessinés."""
import sys

from conftest import ROOT
from PIL import Image

sys.path.insert(0, str(ROOT / "scripts"))
import bench_worn  # noqa: E402
import worn_figures as figures  # noqa: E402


def test_tops_are_worn_by_the_figure_found_again_and_scored(tmp_path, capsys):
    colours = {"T-shirt_top": [(200, 30, 40), (40, 90, 160)], "Shirt": [(30, 30, 30), (20, 120, 60)]}
    for folder, palette in colours.items():
        (tmp_path / folder).mkdir()
        for i, colour in enumerate(palette):
            photo = Image.new("RGB", (300, 400), (120, 120, 125))          # à plat, sur du gris
            tshirt = figures.drawn_tshirt(colour, size=(200, 170))
            photo.paste(tshirt, (50, 110), tshirt)
            photo.save(tmp_path / folder / f"{i}.png")
    examples = tmp_path / "exemples.png"
    assert bench_worn.main(["--photos", str(tmp_path), "--split", "all", "--per-class", "2",
                            "--save-examples", str(examples)]) == 0
    out = capsys.readouterr().out
    assert "4 photos de hauts (all)" in out
    assert "Personne trouvée : 4 silhouettes sur 4 ; 0 photos d'origine sur 4 (fausses alertes)" in out
    rows = [line for line in out.splitlines() if line.startswith(("photo d'origine", "portée"))]
    assert [line.split("  ")[0] for line in rows] == ["photo d'origine, premier_plan", "portée, premier_plan",
                                                      "portée, vetement_seul"]
    assert Image.open(examples).size[1] == 224                              # silhouettes et images 28 × 28


def test_skin_tones_of_the_monk_scale_are_each_measured(tmp_path, capsys):
    (tmp_path / "T-shirt_top").mkdir()
    for i, colour in enumerate([(200, 30, 40), (40, 90, 160)]):
        photo = Image.new("RGB", (300, 400), (120, 120, 125))
        tshirt = figures.drawn_tshirt(colour, size=(200, 170))
        photo.paste(tshirt, (50, 110), tshirt)
        photo.save(tmp_path / "T-shirt_top" / f"{i}.png")
    assert len(figures.MONK_SKIN_TONES) == 10
    assert bench_worn.main(["--photos", str(tmp_path), "--split", "all", "--teints", "5", "10"]) == 0
    out = capsys.readouterr().out
    assert "teint Monk 5 : personne trouvée 2 sur 2" in out                 # une teinte moyenne : trouvée
    table = out.split("Teintes de peau de l'échelle Monk")[1].splitlines()[2:]
    assert [line.split()[0] for line in table] == ["5", "10"]
