"""Vérification dans un vrai navigateur : JupyterLab et Chromium sans interface exécutent un carnet.

    python scripts/browser_check.py [--notebook test_model.ipynb] [--timeout 600]
                                    [--screenshot runs/browser_check.png]

Copie analyse_image/ dans un dossier temporaire (le carnet du dépôt n'est jamais réenregistré), y lance
JupyterLab sur 127.0.0.1, ouvre le carnet dans Chromium (Playwright, avec le Chromium de Debian :
/usr/bin/chromium ou la variable CHROMIUM), clique « Run › Run All Cells », attend la fin, enregistre
une capture de tout le carnet, puis vérifie qu'aucune cellule n'affiche d'erreur et que toutes ont été
exécutées. Codes de sortie : 0 réussite, 1 échec de la vérification, 2 Chromium ou Playwright absent.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANALYSE_DIR = ROOT / "analyse_image"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Chromium lancé en root, sans carte graphique, et sans rien tenter vers l'extérieur (mises à jour,
# synchronisation, QUIC...) : seul 127.0.0.1 est visité.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
# Réglages de JupyterLab pour ce passage : toutes les cellules dans la page (pas de fenêtrage, pour les
# lire et les photographier), ni nouvelles ni recherche de mises à jour, pas d'enregistrement automatique.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
IGNORED = shutil.ignore_patterns("datas", "__pycache__", ".ipynb_checkpoints", "*.tmp*")
MAX_SCREENSHOT_HEIGHT = 16000  # au-delà, Chromium refuse la capture

# État du carnet lu dans la page : état du noyau, puis chaque cellule de code (invite, code, erreurs).
READ_NOTEBOOK_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')].map((cell, index) => {
    const prompt = cell.querySelector('.jp-InputArea-prompt');
    const editor = cell.querySelector('.jp-InputArea-editor .cm-content');
    const errors = [...cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],' +
        '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"],' +
        '.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"],' +
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')]
      .map(node => ({mime: node.getAttribute('data-mime-type'), text: node.innerText}));
    return {index: index + 1, prompt: prompt ? prompt.innerText.trim() : '',
            source: editor ? editor.innerText : '', errors: errors};
  });
  return {status: indicator ? indicator.getAttribute('data-status') : '',
          images: panel.querySelectorAll('.jp-OutputArea-output img').length, cells: cells};
}"""
NOTEBOOK_HEIGHT_JS = """() => {
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!notebook) return 0;
  return notebook.scrollHeight + notebook.getBoundingClientRect().top + 60;
}"""


def log(message):
    print(f"[browser_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def chromium_path():
    return os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_copy(workdir):
    """analyse_image/ copié sans les CSV ni les caches, et les réglages de JupyterLab de ce passage."""
    root = workdir / "analyse_image"
    shutil.copytree(ANALYSE_DIR, root, ignore=IGNORED)
    for name, values in LAB_SETTINGS.items():
        path = workdir / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return root


def start_lab(workdir, root, port, token):
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # un backend Agg hérité ferait disparaître les figures du carnet
    env["JUPYTER_CONFIG_DIR"] = str(workdir / "jupyter-config")  # ni la configuration personnelle...
    env["JUPYTER_RUNTIME_DIR"] = str(workdir / "jupyter-runtime")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={workdir / 'lab-settings'}",
               f"--LabApp.workspaces_dir={workdir / 'lab-workspaces'}",  # ...ni les espaces de travail
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # conteneurs et CI tournent souvent en root
    lab_log = open(workdir / "jupyterlab.log", "wb")
    process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=lab_log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    lab_log.close()
    return process


def wait_for_lab(process, port, token, timeout):
    url = f"http://127.0.0.1:{port}/api/status"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def stop_lab(process):
    """Arrêt propre (JupyterLab arrête alors ses noyaux), puis forcé si besoin."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def show_lab_log(workdir, lines=40):
    path = workdir / "jupyterlab.log"
    if path.exists():
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        print("--- dernières lignes du journal de JupyterLab ---\n" + "\n".join(text), file=sys.stderr)


def run_all_cells(page):
    """Menu « Run » puis « Run All Cells », comme le ferait un utilisateur."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).first.click()
    item = page.locator('.lm-Menu-item[data-command="notebook:run-all-cells"]')
    if item.count() == 0:
        item = page.locator(".lm-Menu-item", has_text=re.compile(r"^\s*Run All Cells\s*$"))
    item.first.click()


def executed(cell):
    return re.fullmatch(r"\[\s*\d+\s*\]:?", cell["prompt"]) is not None


def wait_until_done(page, timeout):
    """Attend que plus aucune cellule ne soit « [*] » et que le noyau soit au repos (état stable)."""
    deadline = time.monotonic() + timeout
    started, stable, last_report = False, 0, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(READ_NOTEBOOK_JS)
        if state is not None:
            running = sum(cell["prompt"].startswith("[*]") for cell in state["cells"])
            done = sum(executed(cell) for cell in state["cells"])
            started = started or running > 0 or done > 0
            if state["status"] == "dead":
                return state, "le noyau s'est arrêté (état « dead »)"
            if started and running == 0 and state["status"] == "idle":
                stable += 1
                if stable >= 4:
                    return state, None
            else:
                stable = 0
            if time.monotonic() - last_report > 30:
                log(f"{done}/{len(state['cells'])} cellules exécutées, noyau : {state['status']}")
                last_report = time.monotonic()
        page.wait_for_timeout(500)
    return page.evaluate(READ_NOTEBOOK_JS), f"l'exécution n'est pas terminée après {timeout:.0f} s"


def take_screenshot(page, path):
    """Toute la hauteur du carnet : la fenêtre est agrandie pour qu'il tienne sans défiler."""
    height = min(int(page.evaluate(NOTEBOOK_HEIGHT_JS)), MAX_SCREENSHOT_HEIGHT)
    width = page.viewport_size["width"]
    if height > page.viewport_size["height"]:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(1500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    log(f"capture enregistrée : {path}")


def problems(state):
    """Les erreurs affichées et les cellules non exécutées, en texte."""
    found = []
    for cell in state["cells"] if state else []:
        for error in cell["errors"]:
            if error["mime"].endswith("stderr") and "Traceback" not in error["text"]:
                continue  # simple avertissement sur stderr
            found.append(f"Erreur dans la cellule {cell['index']} {cell['prompt']}\n"
                         f"--- code ---\n{cell['source'].rstrip()}\n--- sortie ---\n{error['text'].rstrip()[-3000:]}")
        if cell["source"].strip() and not executed(cell):
            found.append(f"Cellule {cell['index']} non exécutée (invite « {cell['prompt'] or '[ ]'} »)\n"
                         f"--- code ---\n{cell['source'].rstrip()[:1500]}")
    return found


def check_in_browser(url, chromium, workdir, timeout, screenshot):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(workdir / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(120_000)
            log("ouverture du carnet dans Chromium")
            page.goto(url, wait_until="domcontentloaded")
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell").first.wait_for(state="visible")
            page.locator('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
                state="attached")
            log("noyau prêt : Run › Run All Cells")
            start = time.monotonic()
            run_all_cells(page)
            state, failure = wait_until_done(page, timeout)
            log(f"exécution terminée en {time.monotonic() - start:.0f} s" if failure is None else failure)
            page.wait_for_timeout(1000)  # dernières figures affichées
            state = page.evaluate(READ_NOTEBOOK_JS) or state
            take_screenshot(page, screenshot)
            return state, failure
        finally:
            context.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="test_model.ipynb", help="carnet de analyse_image/ à exécuter")
    parser.add_argument("--timeout", type=float, default=600, help="durée maximale de l'exécution (s)")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "runs" / "browser_check.png",
                        help="capture de tout le carnet après l'exécution (PNG)")
    args = parser.parse_args(argv)

    chromium = chromium_path()
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        print(f"Chromium introuvable : {chromium}\n"
              "Installez-le (Debian/Ubuntu, en root) : apt-get update && apt-get install -y chromium\n"
              "ou indiquez un autre exécutable par la variable CHROMIUM (CHROMIUM=/chemin/vers/chromium).",
              file=sys.stderr)
        return 2
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("Playwright pour Python n'est pas installé : pip install -r requirements.txt "
              "(ou pip install 'playwright>=1.40,<2'). Inutile de lancer « playwright install » : "
              "le Chromium du système est utilisé.", file=sys.stderr)
        return 2
    if not (ANALYSE_DIR / args.notebook).is_file():
        print(f"Carnet introuvable : {ANALYSE_DIR / args.notebook}", file=sys.stderr)
        return 1

    begin = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="browser_check_") as tmp:
        workdir = Path(tmp)
        root = prepare_copy(workdir)
        port, token = free_port(), secrets.token_hex(16)
        log(f"démarrage de JupyterLab sur http://127.0.0.1:{port} (copie de analyse_image/ dans {root})")
        lab = start_lab(workdir, root, port, token)
        try:
            if not wait_for_lab(lab, port, token, timeout=180):
                print("JupyterLab n'a pas répondu.", file=sys.stderr)
                show_lab_log(workdir)
                return 1
            url = f"http://127.0.0.1:{port}/lab/tree/{args.notebook}?token={token}"
            try:
                state, failure = check_in_browser(url, chromium, workdir, args.timeout, args.screenshot)
            except Exception as error:  # Playwright : page qui ne s'ouvre pas, élément absent...
                print(f"Échec dans le navigateur : {type(error).__name__}: {error}", file=sys.stderr)
                show_lab_log(workdir)
                return 1
        finally:
            stop_lab(lab)
            log("JupyterLab arrêté")

    found = problems(state)
    if failure:
        found.insert(0, failure)
    if state is None or not state["cells"]:
        found.insert(0, "aucune cellule de code trouvée dans la page")
    if found:
        print(f"\nÉCHEC de la vérification dans le navigateur ({args.notebook}) :", file=sys.stderr)
        for text in found:
            print("\n" + text, file=sys.stderr)
        return 1
    log(f"RÉUSSI : {len(state['cells'])} cellules de code exécutées sans erreur, {state['images']} images "
        f"affichées, en {time.monotonic() - begin:.0f} s au total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
