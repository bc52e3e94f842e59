"""Tests de l'envoi de photos depuis le navigateur : noms sûrs, classement immédiat, photos gardées ou non."""
import numpy as np
import pytest

import photo_upload
from conftest import block_image


class ConstantModel:
    """Modèle factice : toujours la classe 2 (un pull), à 80 %."""
    output_shape = (None, 10)

    def predict(self, batch, batch_size=None, verbose=0):
        probabilities = np.full((len(batch), 10), 0.2 / 9)
        probabilities[:, 2] = 0.8
        return probabilities


def png_bytes(tmp_path, name="p.png"):
    block_image((60, 40)).save(tmp_path / name)
    return (tmp_path / name).read_bytes()


pytestmark = pytest.mark.usefixtures("no_show")      # conftest : les figures ne s'affichent pas


def test_safe_file_name_strips_folders_and_odd_characters_and_never_overwrites(tmp_path):
    assert photo_upload.safe_file_name("../../etc/Pull rougé!.JPG", tmp_path).name == "Pull_rouge.jpg"
    (tmp_path / "Pull_rouge.jpg").write_bytes(b"x")
    assert photo_upload.safe_file_name("Pull rougé!.JPG", tmp_path).name == "Pull_rouge-2.jpg"
    assert photo_upload.safe_file_name("notes.exe", tmp_path).name == "notes.jpg"
    assert photo_upload.safe_file_name("👕.png", tmp_path).name == "photo.png"


def test_uploaded_photos_are_classified_at_once_and_kept_only_when_asked(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    uploads = [{"name": "mon pull.png", "content": memoryview(png_bytes(tmp_path))},
               {"name": "casse.jpg", "content": b"\xff\xd8 pas un jpeg"}]
    paths, probabilities, failures = photo_upload.classify_uploads(uploads, ConstantModel(), "labo", images)
    out = capsys.readouterr().out
    assert len(paths) == 1 and probabilities.shape == (1, 10) and len(failures) == 1
    assert "mon_pull.png : selon moi l'image est : Un pull (80 %)" in out and "Photo ignorée" in out
    assert list(images.iterdir()) == []                                  # rien gardé par défaut

    paths, _, _ = photo_upload.classify_uploads(uploads[:1], ConstantModel(), "premier_plan", images, keep=True)
    assert [path.name for path in images.iterdir()] == ["mon_pull.png"] and paths[0].parent == images
    assert "Photos gardées dans" in capsys.readouterr().out


def test_the_upload_box_reads_well_where_widgets_cannot_show(tmp_path):
    box = photo_upload.upload_box(ConstantModel(), "labo", tmp_path)
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"] == photo_upload.OFFLINE_TEXT
    assert "application/vnd.jupyter.widget-view+json" in bundle
