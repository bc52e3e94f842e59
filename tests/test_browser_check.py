"""scripts/browser_check.py : test_model.ipynb exécuté dans JupyterLab par un vrai Chromium sans interface.

Les tests qui ouvrent le navigateur sont sautés sans Chromium (/usr/bin/chromium ou la variable
CHROMIUM ; Debian : apt-get install chromium) ou sans Playwright pour Python."""
import os
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "browser_check.py"
sys.path.insert(0, str(SCRIPT.parent))
import browser_check  # noqa: E402


def run_check(*args, env=None, timeout=1200):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


@pytest.fixture
def browser():
    pytest.importorskip("playwright.sync_api")
    chromium = browser_check.chromium_path()
    if not os.path.isfile(chromium):
        pytest.skip(f"pas de Chromium ({chromium}) : apt-get install chromium")
    return chromium


def test_missing_chromium_exits_2_with_the_install_hint(tmp_path):
    result = run_check("--screenshot", str(tmp_path / "capture.png"),
                       env=dict(os.environ, CHROMIUM=str(tmp_path / "pas_de_chromium")), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Chromium introuvable" in result.stderr and "apt-get install -y chromium" in result.stderr
    assert not (tmp_path / "capture.png").exists()


def state(*cells):
    return {"status": "idle", "images": 0, "cells": [
        {"index": i, "prompt": prompt, "source": source, "errors": errors}
        for i, (prompt, source, errors) in enumerate(cells, start=1)]}


def test_problems_reports_tracebacks_and_cells_not_run_but_not_plain_stderr():
    traceback = "Traceback (most recent call last)\nZeroDivisionError: division by zero"
    found = browser_check.problems(state(
        ("[1]:", "print(1)", []),
        ("[2]:", "warn()", [{"mime": "application/vnd.jupyter.stderr", "text": "UserWarning: attention"}]),
        ("[3]:", "1 / 0", [{"mime": "application/vnd.jupyter.error", "text": traceback}] * 2),
        ("[4]:", "show()", [{"mime": "widget", "text": "Error displaying widget"}]),
        ("[ ]:", "print('jamais')", []),
        ("[ ]:", "  \n", [])))   # cellule vide : JupyterLab ne l'exécute pas
    assert len(found) == 3, found
    assert found[0].startswith("Erreur dans la cellule 3 [3]:") and "1 / 0" in found[0] and "ZeroDivision" in found[0]
    assert found[1].startswith("Erreur dans la cellule 4") and "Error displaying widget" in found[1]
    assert found[2].startswith("Cellule 5 non exécutée") and "print('jamais')" in found[2]
    assert browser_check.problems(state(("[1]:", "x = 1", []))) == []


def test_test_model_runs_all_cells_in_chromium_without_error(browser, tmp_path):
    committed = (ROOT / "analyse_image" / "test_model.ipynb").read_text(encoding="utf-8")
    code_cells = sum(cell.cell_type == "code" and bool(cell.source.strip())
                     for cell in nbformat.reads(committed, as_version=4).cells)
    screenshot = tmp_path / "browser_check.png"
    result = run_check("--screenshot", str(screenshot))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"RÉUSSI : {code_cells} cellules de code exécutées sans erreur" in result.stdout
    assert screenshot.stat().st_size > 100_000   # le carnet entier, figures comprises
    assert "JupyterLab arrêté" in result.stdout
    # Le carnet exécuté vivait dans une copie : celui du dépôt est intact.
    assert (ROOT / "analyse_image" / "test_model.ipynb").read_text(encoding="utf-8") == committed


def test_a_failing_cell_is_reported_with_its_code_and_the_rest_as_not_run(browser, tmp_path):
    folder = tmp_path / "carnet"
    folder.mkdir()
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell('print("bonjour")'),
                      nbformat.v4.new_code_cell('import sys\nprint("simple avertissement", file=sys.stderr)'),
                      nbformat.v4.new_code_cell("resultat = 1 / 0"),
                      nbformat.v4.new_code_cell('print("jamais")')]
    nbformat.write(notebook, folder / "erreur.ipynb")
    original = (folder / "erreur.ipynb").read_text(encoding="utf-8")
    screenshot = tmp_path / "erreur.png"
    result = run_check("--folder", str(folder), "--notebook", "erreur.ipynb", "--timeout", "120",
                       "--screenshot", str(screenshot), timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Erreur dans la cellule 3" in result.stderr and "resultat = 1 / 0" in result.stderr
    assert "ZeroDivisionError" in result.stderr
    assert "Cellule 4 non exécutée" in result.stderr and "cellule 2" not in result.stderr
    assert screenshot.is_file()
    assert (folder / "erreur.ipynb").read_text(encoding="utf-8") == original
