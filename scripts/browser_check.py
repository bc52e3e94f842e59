"""Vérification dans un vrai navigateur : JupyterLab et Chromium sans interface exécutent un carnet.

    python scripts/browser_check.py [--timeout 600] [--screenshot runs/browser_check.png]
                                    [--folder analyse_image] [--notebook test_model.ipynb]

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
                 "--disable-dev-shm-usage", "--disable-crash-reporter", "--disable-breakpad"]
# Réglages de JupyterLab pour ce passage : toutes les cellules dans la page (pas de fenêtrage, pour les
# lire et les photographier), ni nouvelles ni recherche de mises à jour, pas d'enregistrement automatique.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
IGNORED = shutil.ignore_patterns("datas", "__pycache__", ".ipynb_checkpoints", "*.tmp*")
MAX_SCREENSHOT_HEIGHT = 30000  # pixels ; un carnet plus long est coupé sur la capture (pas dans la vérification)

# État du carnet lu dans la page : état du noyau, puis chaque cellule de code (invite, code, erreurs :
# traceback, texte sur stderr, widget qui ne s'affiche pas).
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
      .map(node => ({mime: node.getAttribute('data-mime-type'), text: node.innerText}))
      .concat([...cell.querySelectorAll('.jp-OutputArea-output')]  // widget (ipywidgets) non affiché
        .filter(node => node.innerText.trim().startsWith('Error displaying widget'))
        .map(node => ({mime: 'widget', text: node.innerText})));
    return {index: index + 1, prompt: prompt ? prompt.innerText.trim() : '',
            source: editor ? editor.innerText : '', errors: errors};
  });
  return {status: indicator ? indicator.getAttribute('data-status') : '',
          images: panel.querySelectorAll('.jp-OutputArea-output img').length, cells: cells};
}"""
# Hauteur de fenêtre qui montre tout le carnet (son contenu défile dans .jp-WindowedPanel-outer) :
# retour en haut, puis bas de la dernière cellule, plus ce qui est sous le carnet (barre d'état).
NOTEBOOK_HEIGHT_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const scroller = panel && (panel.querySelector('.jp-WindowedPanel-outer') || panel.querySelector('.jp-Notebook'));
  const cells = panel ? panel.querySelectorAll('.jp-Notebook .jp-Cell') : [];
  if (!scroller || !cells.length) return 0;
  scroller.scrollTop = 0;
  const below = window.innerHeight - scroller.getBoundingClientRect().bottom;
  return Math.ceil(cells[cells.length - 1].getBoundingClientRect().bottom + below + 40);
}"""


def log(message):
    print(f"[browser_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def chromium_path():
    return os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_copy(workdir, folder=ANALYSE_DIR):
    """Le dossier du carnet copié sans les CSV ni les caches, et les réglages de JupyterLab de ce passage."""
    root = workdir / "analyse_image"
    shutil.copytree(folder, root, ignore=IGNORED)
    for name, values in LAB_SETTINGS.items():
        path = workdir / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return root


def start_lab(workdir, root, port, token):
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # un backend Agg hérité ferait disparaître les figures du carnet
    for name in ("CONFIG", "DATA", "RUNTIME"):  # ni la configuration ni les données personnelles de Jupyter
        env[f"JUPYTER_{name}_DIR"] = str(workdir / f"jupyter-{name.lower()}")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={workdir / 'lab-settings'}",
               f"--LabApp.workspaces_dir={workdir / 'lab-workspaces'}",
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


KERNEL_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const name = panel && panel.querySelector('.jp-Toolbar-kernelName');
  const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return {name: name ? name.innerText.trim() : '', status: indicator ? indicator.getAttribute('data-status') : ''};
}"""


def wait_for_kernel(page, timeout):
    """Le noyau est prêt quand la barre d'outils le nomme et qu'il est au repos deux secondes de suite
    (avant sa connexion, l'indicateur affiche déjà « idle » avec « No Kernel »)."""
    deadline, ready = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        kernel = page.evaluate(KERNEL_JS)
        ready = ready + 1 if kernel["name"] not in ("", "No Kernel") and kernel["status"] == "idle" else 0
        if ready >= 3:
            return kernel["name"]
        page.wait_for_timeout(1000)
    raise TimeoutError(f"le noyau du carnet n'est pas prêt après {timeout:.0f} s ({kernel})")


def run_all_cells(page):
    """Menu « Run » puis « Run All Cells », comme le ferait un utilisateur."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).first.click()
    for selector in ('.lm-Menu-item[data-command="runmenu:run-all"]',
                     '.lm-Menu-item[data-command="notebook:run-all-cells"]'):
        if page.locator(selector).count():
            page.locator(selector).first.click()
            return
    page.locator(".lm-Menu-item", has_text=re.compile(r"^\s*Run All Cells\s*$")).first.click()


def started(state):
    return state is not None and any(cell["prompt"].startswith("[*]") or executed(cell) for cell in state["cells"])


def start_run(page, tries=3):
    """Clique « Run All Cells » ; recommence si aucune cellule n'a démarré (clic perdu pendant un
    rafraîchissement de la page) : une exécution acceptée marque aussitôt les cellules « [*] »."""
    for _ in range(tries):
        run_all_cells(page)
        for _ in range(20):
            page.wait_for_timeout(500)
            if started(page.evaluate(READ_NOTEBOOK_JS)):
                return
        log("aucune cellule n'a démarré : nouveau clic sur « Run All Cells »")
        page.keyboard.press("Escape")
    raise TimeoutError("« Run All Cells » n'a lancé aucune cellule")


def executed(cell):
    return re.fullmatch(r"\[\s*\d+\s*\]:?", cell["prompt"]) is not None


def wait_until_done(page, timeout):
    """Attend que plus aucune cellule ne soit « [*] » et que le noyau soit au repos (état stable)."""
    deadline = time.monotonic() + timeout
    stable, last_report = 0, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(READ_NOTEBOOK_JS)
        if state is not None:
            running = sum(cell["prompt"].startswith("[*]") for cell in state["cells"])
            done = sum(executed(cell) for cell in state["cells"])
            if state["status"] == "dead":
                return state, "le noyau s'est arrêté (état « dead »)"
            if running == 0 and state["status"] == "idle":
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
    """Toute la hauteur du carnet : la fenêtre est agrandie pour qu'il tienne sans défiler (et le
    panneau des fichiers replié pour lui laisser la largeur)."""
    current_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current_tab.count():
        current_tab.first.click()
        page.wait_for_timeout(500)
    height = int(page.evaluate(NOTEBOOK_HEIGHT_JS))
    if height > MAX_SCREENSHOT_HEIGHT:
        log(f"carnet de {height} pixels de haut : capture limitée aux {MAX_SCREENSHOT_HEIGHT} premiers")
        height = MAX_SCREENSHOT_HEIGHT
    width = page.viewport_size["width"]
    if height > page.viewport_size["height"]:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(1500)
        page.evaluate(NOTEBOOK_HEIGHT_JS)  # revient en haut du carnet
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    log(f"capture enregistrée : {path}")


def problems(state):
    """Les erreurs affichées et les cellules non exécutées, en texte."""
    found = []
    for cell in state["cells"] if state else []:
        for error in {error["text"]: error for error in cell["errors"]}.values():  # sans doublons
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

    # Profil, cache et rapports de plantage de Chromium dans le dossier temporaire, pas dans ~/.config.
    env = dict(os.environ, XDG_CONFIG_HOME=str(workdir / "xdg-config"), XDG_CACHE_HOME=str(workdir / "xdg-cache"))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(workdir / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            env=env, viewport={"width": 1280, "height": 900})
        page = context.pages[0] if context.pages else context.new_page()
        try:
            page.set_default_timeout(120_000)
            log("ouverture du carnet dans Chromium")
            page.goto(url, wait_until="domcontentloaded")
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell").first.wait_for(state="visible")
            kernel = wait_for_kernel(page, 180)
            log(f"noyau « {kernel} » prêt : Run › Run All Cells")
            start = time.monotonic()
            start_run(page)
            state, failure = wait_until_done(page, timeout)
            log(f"exécution terminée en {time.monotonic() - start:.0f} s" if failure is None else failure)
            page.wait_for_timeout(1000)  # dernières figures affichées
            take_screenshot(page, screenshot)
            # Relu après la capture : la fenêtre agrandie montre le code de toutes les cellules.
            return page.evaluate(READ_NOTEBOOK_JS) or state, failure
        except Exception:
            try:  # ce que montrait la page au moment de l'échec, pour comprendre
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
                log(f"capture de la page au moment de l'échec : {screenshot}")
            except Exception:
                pass
            raise
        finally:
            context.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="test_model.ipynb", help="carnet à exécuter, dans --folder")
    parser.add_argument("--folder", type=Path, default=ANALYSE_DIR,
                        help="dossier copié pour JupyterLab, avec le carnet et ce qu'il lit (analyse_image/)")
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
    if not (args.folder / args.notebook).is_file():
        print(f"Carnet introuvable : {args.folder / args.notebook}", file=sys.stderr)
        return 1

    begin = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="browser_check_") as tmp:
        workdir = Path(tmp)
        root = prepare_copy(workdir, args.folder)
        port, token = free_port(), secrets.token_hex(16)
        log(f"démarrage de JupyterLab sur http://127.0.0.1:{port} (copie de {args.folder} dans {root})")
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
