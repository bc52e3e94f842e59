"""Banc d'essai : coût d'une époque d'entraînement, une configuration par processus neuf.

Chaque configuration est mesurée dans son propre processus Python, lancé pour elle seule
(``bench_training.py --worker CONFIG``) : aucun reste d'un entraînement précédent (générateur
d'ImageDataGenerator qui produirait encore des lots, réserves de fils d'exécution de TensorFlow ou
de tf.data, mémoire) ne tourne à côté de la suivante. Le processus parent ne fait qu'ordonner les
mesures et afficher le tableau ; il n'importe pas TensorFlow.

Configurations (réseau, lots de 256 et nombre d'époques du labo) :

    simple          réseau à 1 convolution, fit() sans augmentation
    idg             réseau à 1 convolution, ImageDataGenerator du labo (validation augmentée aussi)
    rapide          réseau à 1 convolution, voie rapide (fast_augmentation.lab_augmented_batches)
    4conv           réseau à 4 convolutions, fit() sans augmentation
    4conv-spe       le même, compilé avec steps_per_execution (--spe, 8 par défaut)
    4conv-threads   le même, fils de TensorFlow fixés (--intra-threads, --inter-threads)
    4conv-onednn0   le même, TF_ENABLE_ONEDNN_OPTS=0 dans l'environnement du processus
    4conv-xla       le même, compilé avec jit_compile=True (XLA ; attendu lent sur processeur)
    4conv-tfdata    le même, lots fournis par un pipeline tf.data (mélange, lots, prefetch)
    4conv-nchw      le même, canaux en premier (data_format="channels_first") ; TensorFlow ne
                    l'apprend sur processeur qu'avec oneDNN, actif seulement sur les processeurs récents
    rapide-un-iterateur  rapide, lots répétés sans fin (.repeat() et steps_per_epoch) : un seul
                    itérateur tf.data pour tout fit(), validation comprise (validation_steps)
    4conv-un-iterateur   4conv, idem (lots mélangés par tf.data, un seul itérateur)
    simple-autotune, 4conv-autotune   simple et 4conv avec le réglage automatique de tf.data que
                    Keras met aux lots tirés de tableaux (tf_settings le désactive) : arrêts entre époques
    simple-malloc, 4conv-malloc   simple et 4conv avec l'allocateur par défaut de TensorFlow
                    (TF_CPU_ALLOCATOR_USE_BFC=false ; tf_settings choisit l'allocateur BFC)
    simple-apres-idg  simple, mesuré dans un processus qui vient de faire un fit() ImageDataGenerator
    rapide-modele   1 convolution, les mêmes transformations dans le réseau (fast_augmentation.LabAugmentation)
    rapide-apres-idg  rapide, idem : l'enchaînement du carnet (la voie rapide y suit l'augmentation
                      du labo), pour voir si ce qui précède ralentit ce qui suit

Chaque processus chronomètre chaque époque, met de côté la première (construction du graphe) et
rapporte le minimum, la médiane et le maximum des suivantes, les pas par époque, les ms par pas,
la précision sur le jeu de test et les GFLOP/s atteints (opérations comptées couche par couche).
Les rapports sont des rapports de médianes mesurées dans la même invocation : simple, idg,
rapide et 4conv rapportés à simple ; les variantes 4conv-* rapportées à 4conv. Avec --repeat N,
la suite entière est jouée N fois en alternance (A B C A B C ...), chaque tour avec sa graine
(13, 14, 15...) pour l'initialisation du réseau, le mélange et l'augmentation (le partage 80/20 reste
celui du labo) : la précision sur le jeu de test est donnée tour par tour, avec sa moyenne, pour
comparer deux configurations au-delà du hasard d'un seul tirage.

Sur une machine virtuelle, l'hyperviseur prend par moments une part des processeurs pour d'autres
machines (le « steal » de /proc/stat) : ici jusqu'à 55 %, par épisodes de quelques minutes, ce qui
allonge d'autant les époques en cours. Chaque époque note donc ce vol et le temps processeur du
processus ; le tableau donne, à côté des médianes, la médiane des époques « calmes » (moins de 5 %
de vol) et celle du temps processeur, avec leurs rapports. Le processus pouvait aussi s'arrêter tout
entier jusqu'à une minute, machine inoccupée et sans vol, au début de chaque validation sur un
flow() (Keras 3 en remplace l'itérateur à chaque époque) : comme le carnet, le banc valide donc sur
des images augmentées une fois, en tableaux.

    python scripts/bench_training.py --epochs 3 --repeat 3 --output bench.json
    python scripts/bench_training.py --epochs 3 --repeat 3 --rows 12000 --test-rows 2000 \\
        --configs 4conv 4conv-spe 4conv-threads 4conv-onednn0 4conv-tfdata 4conv-xla
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANALYSE_DIR = ROOT / "analyse_image"
if str(ANALYSE_DIR) not in sys.path:
    sys.path.insert(0, str(ANALYSE_DIR))

BATCH_SIZE = 256
SEED = 13
#: Un pas d'apprentissage coûte environ trois passes avant : la passe avant, puis, pour la passe
#: arrière, le gradient par rapport aux entrées et celui par rapport aux poids.
TRAINING_FLOPS_FACTOR = 3
#: Une époque est « calme » si l'hyperviseur a pris moins de 5 % des processeurs pendant sa durée.
QUIET_STEAL = 0.05
#: Champs de la ligne « cpu » de /proc/stat (tics d'horloge ; guest et guest_nice sont déjà dans user).
_PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

#: Les configurations : réseau, façon de fournir les lots, référence du rapport et réglage essayé.
CONFIGS = {
    "simple": {"network": "1conv", "pipeline": "simple", "base": None,
               "description": "labo, 1 convolution, sans augmentation"},
    "idg": {"network": "1conv", "pipeline": "idg", "base": "simple",
            "description": "labo, 1 convolution, ImageDataGenerator"},
    "rapide": {"network": "1conv", "pipeline": "rapide", "base": "simple",
               "description": "1 convolution, voie rapide (tf.data)"},
    "rapide-modele": {"network": "1conv", "pipeline": "couche", "base": "simple",
                      "description": "1 convolution, augmentation dans le réseau"},
    "4conv": {"network": "4conv", "pipeline": "simple", "base": "simple",
              "description": "labo, 4 convolutions, sans augmentation"},
    "4conv-spe": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "spe",
                  "description": "4 convolutions, steps_per_execution"},
    "4conv-threads": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "threads",
                      "description": "4 convolutions, fils TensorFlow fixés"},
    "4conv-onednn0": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "onednn0",
                      "description": "4 convolutions, TF_ENABLE_ONEDNN_OPTS=0"},
    "4conv-xla": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "xla",
                  "description": "4 convolutions, XLA (jit_compile=True)"},
    "4conv-tfdata": {"network": "4conv", "pipeline": "tfdata", "base": "4conv",
                     "description": "4 convolutions, lots par tf.data"},
    "4conv-nchw": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "nchw",
                   "description": "4 convolutions, canaux en premier"},
    "rapide-un-iterateur": {"network": "1conv", "pipeline": "rapide", "base": "rapide", "lever": "un-iterateur",
                            "description": "voie rapide, un seul itérateur tf.data"},
    "4conv-un-iterateur": {"network": "4conv", "pipeline": "tfdata", "base": "4conv", "lever": "un-iterateur",
                           "description": "4 convolutions, un seul itérateur tf.data"},
    "simple-autotune": {"network": "1conv", "pipeline": "simple", "base": "simple", "lever": "autotune",
                        "description": "simple, autotune de tf.data (Keras par défaut)"},
    "4conv-autotune": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "autotune",
                       "description": "4 convolutions, autotune de tf.data (Keras par défaut)"},
    "simple-malloc": {"network": "1conv", "pipeline": "simple", "base": "simple", "lever": "malloc",
                      "description": "simple, allocateur par défaut (sans BFC)"},
    "4conv-malloc": {"network": "4conv", "pipeline": "simple", "base": "4conv", "lever": "malloc",
                     "description": "4 convolutions, allocateur par défaut (sans BFC)"},
    "simple-apres-idg": {"network": "1conv", "pipeline": "simple", "base": "simple", "after": "idg",
                         "description": "simple, après un fit() ImageDataGenerator"},
    "rapide-apres-idg": {"network": "1conv", "pipeline": "rapide", "base": "rapide", "after": "idg",
                         "description": "voie rapide, après un fit() ImageDataGenerator"},
}
DEFAULT_CONFIGS = ["simple", "idg", "rapide", "4conv"]

# Instructions vectorielles -> opérations flottantes fp32 par cycle et par cœur, avec UNE unité
# vectorielle de multiplication-addition (FMA) : voies fp32 du registre × 2 (une FMA compte pour
# une multiplication et une addition). Les Xeon Gold/Platinum ont deux unités FMA 512 bits : pic × 2.
_VECTOR_UNITS = (
    ("avx512f", 32, "AVX-512 : 16 voies fp32 × 2 (FMA)"),
    ("fma", 16, "AVX2 + FMA : 8 voies fp32 × 2 (FMA)"),
    ("avx", 16, "AVX : 8 voies fp32, une multiplication + une addition"),
    ("sse2", 8, "SSE2 : 4 voies fp32, une multiplication + une addition"),
)


# ---------------------------------------------------------------------------
# Fonctions pures (testées dans tests/test_bench_training.py)
# ---------------------------------------------------------------------------

def forward_flops_per_image(model):
    """Opérations flottantes d'une passe avant pour une image, comptées couche par couche.

    Une multiplication-addition compte pour 2. Conv1D/Conv2D/Conv3D : 2 × positions de sortie ×
    taille du noyau (pour Conv2D : 2·H_sortie·W_sortie·k·k·C_entrée·C_sortie) ; Dense :
    2 × entrées × sorties (× positions si l'entrée a plus d'une dimension). Les biais,
    BatchNormalization, regroupements, activations, Dropout et Flatten sont négligés (moins de
    1 % pour les réseaux du labo). Les modèles imbriqués sont parcourus.
    """
    import keras

    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):                      # modèle imbriqué
            total += forward_flops_per_image(layer)
            continue
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
            output_shape = tuple(layer.output.shape)
            if getattr(layer, "data_format", "channels_last") == "channels_first":
                positions = output_shape[2:]
            else:
                positions = output_shape[1:-1]
        elif isinstance(layer, keras.layers.Dense):
            positions = tuple(layer.output.shape)[1:-1]
        else:
            continue
        # noyau : (k..., C_entrée / groupes, C_sortie) pour une convolution, (entrées, sorties) pour Dense
        total += 2 * math.prod(positions) * math.prod(layer.kernel.shape)
    return int(total)


def steady_stats(durations):
    """Minimum, médiane et maximum des durées d'époque, la première (qui construit le graphe)
    mise de côté. Avec une seule époque, elle est gardée (et "first_dropped" le dit)."""
    durations = [float(d) for d in durations]
    if not durations:
        raise ValueError("aucune durée d'époque")
    kept = steady(durations)
    return {"n": len(kept), "min": min(kept), "median": statistics.median(kept),
            "max": max(kept), "first_dropped": len(durations) > 1}


def steady(values):
    """Les valeurs des époques stables : toutes sauf la première (s'il y en a plus d'une)."""
    return list(values[1:] or values)


def median_or_none(values):
    """Médiane des valeurs connues (None écartés), ou None s'il n'y en a aucune."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def quiet_seconds(epoch_seconds, epoch_steal):
    """Durées des époques stables pendant lesquelles l'hyperviseur a pris moins de QUIET_STEAL
    des processeurs (vide si le vol n'a pas été mesuré)."""
    if not epoch_steal:
        return []
    return [s for s, v in zip(steady(epoch_seconds), steady(epoch_steal)) if v is not None and v < QUIET_STEAL]


def summarize_run(raw):
    """Résumé d'une mesure (le dictionnaire écrit par un processus de mesure) : statistiques des
    époques, ms par pas et GFLOP/s de l'apprentissage (validation exclue), vol médian, temps
    processeur médian."""
    epochs = steady_stats(raw["epoch_seconds"])
    train = steady_stats(raw["train_seconds"])
    seconds = train["median"]
    flops = raw.get("forward_flops_per_image")
    gflops = None
    if flops and seconds > 0:
        gflops = raw["images_per_epoch"] * TRAINING_FLOPS_FACTOR * flops / seconds / 1e9
    return {"config": raw["config"], "round": raw.get("round", 0), "epochs": epochs,
            "train": train, "ms_per_step": 1000 * seconds / raw["steps_per_epoch"],
            "steps_per_epoch": raw["steps_per_epoch"], "gflops": gflops,
            "accuracy": raw["test_accuracy"],
            "steal": median_or_none(steady(raw.get("epoch_steal") or [])),
            "cpu_seconds": median_or_none(steady(raw.get("epoch_cpu_seconds") or []))}


def cpu_ticks(proc_stat_text):
    """Les compteurs de la ligne « cpu » (toute la machine) d'un texte de /proc/stat, par champ,
    ou None si la ligne manque."""
    for line in proc_stat_text.splitlines():
        if line.startswith("cpu "):
            values = [int(value) for value in line.split()[1:]]
            values += [0] * (len(_PROC_STAT_FIELDS) - len(values))        # noyaux anciens : pas de steal
            return dict(zip(_PROC_STAT_FIELDS, values))
    return None


def read_cpu_ticks():
    """cpu_ticks() de la machine courante (None hors de Linux)."""
    try:
        return cpu_ticks(Path("/proc/stat").read_text())
    except OSError:
        return None


def minor_page_faults():
    """Défauts de page mineurs du processus depuis son début (mémoire demandée au système puis
    touchée pour la première fois) ; 0 hors de Unix."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def steal_share(before, after):
    """Part du temps des processeurs que l'hyperviseur a donnée à d'autres machines virtuelles
    (« steal ») entre deux relevés de cpu_ticks(), entre 0 et 1 ; None sans relevé ou sans tic écoulé."""
    if not before or not after:
        return None
    elapsed = sum(after[field] - before[field] for field in _PROC_STAT_FIELDS)
    return (after["steal"] - before["steal"]) / elapsed if elapsed > 0 else None


def ratio(value, reference):
    """value / reference, ou None s'il manque l'un des deux."""
    if value is None or not reference:
        return None
    return value / reference


def summarize_configs(raw_runs, configs=CONFIGS):
    """Une ligne par configuration (dans l'ordre de première apparition) à partir des mesures
    brutes d'une invocation : les époques stables de tous les tours réunies (médiane, min, max),
    le rapport des médianes à la configuration de référence (simple, ou 4conv pour les variantes
    4conv-*), le rapport tour par tour, la précision (moyenne et tour par tour) et les GFLOP/s médians."""
    runs = [summarize_run(raw) for raw in raw_runs]
    order = list(dict.fromkeys(run["config"] for run in runs))
    by_config = {name: [run for run in runs if run["config"] == name] for name in order}
    raw_by_config = {name: [raw for raw in raw_runs if raw["config"] == name] for name in order}
    wall = {}
    for name in order:
        seconds = [s for raw in raw_by_config[name] for s in steady(raw["epoch_seconds"])]
        wall[name] = {"n": len(seconds), "median": statistics.median(seconds),
                      "min": min(seconds), "max": max(seconds)}
    rows = []
    for name in order:
        spec = configs.get(name, {})
        base = name if spec.get("base") is None else spec["base"]
        reference = wall.get(base, {}).get("median")
        per_round = []
        for run in by_config[name]:
            partner = [r for r in by_config.get(base, []) if r["round"] == run["round"]]
            if partner:
                per_round.append(ratio(run["epochs"]["median"], partner[0]["epochs"]["median"]))
        gflops = [run["gflops"] for run in by_config[name] if run["gflops"] is not None]
        raws = raw_by_config[name]
        quiet = [s for raw in raws for s in quiet_seconds(raw["epoch_seconds"], raw.get("epoch_steal"))]
        rows.append({
            "config": name, "description": spec.get("description", name), "network": spec.get("network"),
            "base": base, **wall[name],
            "ratio": ratio(wall[name]["median"], reference),
            "ratio_per_round": per_round,
            "ms_per_step": statistics.median(run["ms_per_step"] for run in by_config[name]),
            "steps_per_epoch": by_config[name][0]["steps_per_epoch"],
            "accuracy": statistics.mean(run["accuracy"] for run in by_config[name]),
            "accuracy_per_round": [run["accuracy"] for run in sorted(by_config[name], key=lambda r: r["round"])],
            "steal": median_or_none(s for raw in raws for s in steady(raw.get("epoch_steal") or [])),
            "quiet_n": len(quiet), "quiet_median": statistics.median(quiet) if quiet else None,
            "cpu_seconds": median_or_none(s for raw in raws for s in steady(raw.get("epoch_cpu_seconds") or [])),
            "system_share": median_or_none(system / cpu for raw in raws
                                           for system, cpu in zip(steady(raw.get("epoch_system_seconds") or []),
                                                                  steady(raw.get("epoch_cpu_seconds") or []))
                                           if cpu > 0),
            "faults_per_step": median_or_none(faults / raw["steps_per_epoch"] for raw in raws
                                              for faults in steady(raw.get("epoch_page_faults") or [])),
            "gflops": statistics.median(gflops) if gflops else None,
        })
    by_name = {row["config"]: row for row in rows}
    for row in rows:
        reference = by_name.get(row["base"], {})
        row["ratio_quiet"] = ratio(row["quiet_median"], reference.get("quiet_median"))
        row["ratio_cpu"] = ratio(row["cpu_seconds"], reference.get("cpu_seconds"))
    return rows


def cpu_peak(cpuinfo_text, max_freq_khz=None, cores=None):
    """Pic théorique fp32 du processeur : cœurs × GHz × opérations par cycle et par cœur.

    cpuinfo_text est le contenu de /proc/cpuinfo (ses "flags" donnent les instructions
    vectorielles), max_freq_khz la fréquence maximale en kHz (cpufreq/cpuinfo_max_freq) si elle
    est connue, sinon la ligne "cpu MHz", sinon le "@ 2.50GHz" du nom du modèle.
    """
    flags_match = re.search(r"^flags\s*:\s*(.*)$", cpuinfo_text, re.MULTILINE)
    flags = set(flags_match.group(1).split()) if flags_match else set()
    flop_per_cycle, isa = 4, "scalaire (aucune instruction vectorielle reconnue)"
    for flag, value, description in _VECTOR_UNITS:
        if flag in flags:
            flop_per_cycle, isa = value, description
            break
    if max_freq_khz:
        ghz, source = float(max_freq_khz) / 1e6, "cpuinfo_max_freq"
    else:
        mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo_text, re.MULTILINE)
        name = re.search(r"@\s*([\d.]+)\s*GHz", cpuinfo_text)
        if mhz:
            ghz, source = float(mhz.group(1)) / 1000, "cpu MHz"
        elif name:
            ghz, source = float(name.group(1)), "nom du modèle"
        else:
            ghz, source = None, "inconnue"
    if cores is None:
        cores = len(re.findall(r"^processor\s*:", cpuinfo_text, re.MULTILINE)) or 1
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo_text, re.MULTILINE)
    gflops = cores * ghz * flop_per_cycle if ghz else None
    return {"model": model.group(1).strip() if model else "inconnu", "cores": cores, "ghz": ghz,
            "frequency_source": source, "flop_per_cycle": flop_per_cycle, "isa": isa, "gflops": gflops}


def read_cpu_peak():
    """cpu_peak() pour la machine courante (cœurs dont ce processus dispose)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    try:
        max_freq = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
    except (OSError, ValueError):
        max_freq = None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return cpu_peak(cpuinfo, max_freq, cores)


def _cell(value, pattern, width, suffix=""):
    """value mise en forme (pattern, puis suffix), ou un tiret, sur width caractères."""
    return (f"{value:{pattern}}{suffix}" if value is not None else "—").rjust(width)


def format_table(rows, peak=None):
    """Le tableau des configurations (une ligne chacune), en texte."""
    with_rounds = any(len(row["ratio_per_round"]) > 1 for row in rows)
    width = max([15] + [len(row["config"]) for row in rows])
    header = (f"{'configuration':{width}} {'s/époque':>9} {'min–max':>13} {'rapport':>8} {'vol':>5} "
              f"{'calmes':>10} {'rapport':>8} {'CPU s':>7} {'rapport':>8} {'réf.':>7} "
              f"{'ms/pas':>7} {'pas':>4} {'précision':>9} {'GFLOP/s':>10} {'sys':>5} {'défauts/pas':>11}")
    if with_rounds:
        header += "  rapport par tour"
    lines = [header]
    for row in rows:
        base = row["base"] if row["base"] != row["config"] else ""
        gflops = "—"
        if row["gflops"] is not None and row["network"] == "4conv":
            gflops = f"{row['gflops']:.1f}"
            if peak and peak.get("gflops"):
                gflops += f" ({100 * row['gflops'] / peak['gflops']:.0f} %)"
        steal = f"{100 * row['steal']:.0f} %" if row.get("steal") is not None else "—"
        quiet = f"{row['quiet_median']:.2f} ({row['quiet_n']})" if row.get("quiet_median") is not None else "—"
        line = (f"{row['config']:{width}} {row['median']:9.2f} {row['min']:6.2f}–{row['max']:<6.2f} "
                f"{_cell(row['ratio'], '.2f', 8, 'x')} {steal:>5} {quiet:>10} "
                f"{_cell(row.get('ratio_quiet'), '.2f', 8, 'x')} {_cell(row.get('cpu_seconds'), '.1f', 7)} "
                f"{_cell(row.get('ratio_cpu'), '.2f', 8, 'x')} {base:>7} {row['ms_per_step']:7.0f} "
                f"{row['steps_per_epoch']:4d} {row['accuracy']:9.4f} {gflops:>10} "
                f"{_cell(None if row.get('system_share') is None else 100 * row['system_share'], '.0f', 5, ' %')} "
                f"{_cell(row.get('faults_per_step'), '.0f', 11)}")
        if with_rounds:
            line += "  " + " ".join(f"{r:.2f}x" for r in row["ratio_per_round"])
        lines.append(line)
    return "\n".join(lines)


def format_accuracy(rows, epochs, first_seed=SEED):
    """La précision sur le jeu de test de chaque configuration, tour par tour (une graine par tour),
    avec sa moyenne et l'écart entre le plus haut et le plus bas."""
    seeds = max(len(row["accuracy_per_round"]) for row in rows)
    lines = [f"Précision sur le jeu de test après {epochs} époque(s), un tour par graine "
             f"({', '.join(str(round_seed(k, first_seed)) for k in range(seeds))}) :",
             f"{'configuration':16} {'moyenne':>8} {'écart':>7}  par tour"]
    for row in rows:
        values = row["accuracy_per_round"]
        lines.append(f"{row['config']:16} {row['accuracy']:8.4f} {max(values) - min(values):7.4f}  "
                     + " ".join(f"{value:.4f}" for value in values))
    return "\n".join(lines)


def describe_peak(peak):
    """Une ligne qui dit le pic et l'hypothèse qui le donne."""
    if not peak.get("gflops"):
        return f"Pic théorique du processeur : inconnu (fréquence introuvable, {peak['isa']})"
    return (f"Pic théorique fp32 du processeur ({peak['model']}) : {peak['cores']} cœurs × "
            f"{peak['ghz']:.2f} GHz ({peak['frequency_source']}) × {peak['flop_per_cycle']} FLOP/cycle "
            f"= {peak['gflops']:.0f} GFLOP/s\n"
            f"  hypothèse : {peak['isa']}, UNE unité FMA par cœur, fréquence nominale tenue ; "
            f"un processeur à deux unités FMA (Xeon Gold/Platinum) a un pic double "
            f"({2 * peak['gflops']:.0f} GFLOP/s) ; des cœurs virtuels qui partagent un cœur physique, "
            f"un pic moitié.")


# ---------------------------------------------------------------------------
# Processus de mesure : une configuration, puis il se termine
# ---------------------------------------------------------------------------

def channels_first_copy(model):
    """Le même réseau (mêmes couches, même nombre de paramètres), canaux en premier : entrée
    (1, 28, 28), data_format="channels_first" pour les convolutions et regroupements,
    BatchNormalization sur l'axe 1 après une convolution."""
    import keras

    config = model.get_config()
    channels_axis_is_1 = True                     # jusqu'au Flatten, les canaux sont l'axe 1
    config.pop("build_config", None)
    for layer in config["layers"]:
        layer.pop("build_config", None)           # formes d'entrée enregistrées : canaux en dernier
        layer_config = layer["config"]
        if layer["class_name"] == "InputLayer":
            shape = layer_config["batch_shape"]
            layer_config["batch_shape"] = [shape[0], shape[-1], *shape[1:-1]]
        elif "data_format" in layer_config:
            layer_config["data_format"] = "channels_first"
        elif layer["class_name"] == "BatchNormalization" and channels_axis_is_1:
            layer_config["axis"] = 1
        if layer["class_name"] == "Flatten":
            channels_axis_is_1 = False
    return keras.Sequential.from_config(config)


def round_seed(round_index, first_seed=SEED):
    """Graine d'un tour : first_seed (13) au premier tour, puis la suivante à chaque tour."""
    return first_seed + round_index


def fit_with_image_data_generator(model, X_app, y_app, X_val, y_val, epochs, callbacks=(), seed=SEED):
    """Le fit() du carnet avec ImageDataGenerator (validation augmentée une fois, en tableaux) ;
    renvoie les pas par époque."""
    import fashion_utils as fu
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(rotation_range=8, width_shift_range=0.08, shear_range=0.3,
                                   height_shift_range=0.08, zoom_range=0.08)
    steps = max(1, len(X_app) // BATCH_SIZE)
    X_val_augmented, y_val_augmented = next(generator.flow(X_val, y_val, batch_size=len(X_val),
                                                           shuffle=False, seed=seed))
    model.fit(fu.repeat_forever(generator.flow(X_app, y_app, batch_size=BATCH_SIZE, seed=seed)),
              steps_per_epoch=steps, epochs=epochs, shuffle=False, verbose=0,
              validation_data=(X_val_augmented, y_val_augmented), callbacks=list(callbacks))
    return steps


def run_worker(config, args):
    """Entraîne un réseau neuf selon la configuration et renvoie les mesures brutes."""
    spec = CONFIGS[config]
    lever = spec.get("lever")
    import tensorflow as tf
    if lever == "threads":
        # Avant toute opération TensorFlow : sinon le réglage est refusé (RuntimeError).
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads)
    tf.config.set_visible_devices([], "GPU")
    import fashion_data
    import fashion_utils as fu
    import fast_augmentation
    import lab_networks
    import keras
    import numpy as np
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    if lever == "autotune":
        # Le get_tf_dataset de Keras, sans le without_autotune que tf_settings lui ajoute.
        ArrayDataAdapter.get_tf_dataset = ArrayDataAdapter.get_tf_dataset.__wrapped__

    start = time.perf_counter()
    train_csv, test_csv = fu.ensure_csv_files(args.data)
    train, test = fu.load_csv(train_csv), fu.load_csv(test_csv)
    loading_seconds = time.perf_counter() - start

    train, test = fu.sample_rows(train, args.rows), fu.sample_rows(test, args.test_rows)
    X_app, X_val, y_app, y_val, X_test, y_test = fashion_data.lab_arrays(train, test, seed=SEED)

    if spec.get("after") == "idg":
        # Comme dans le carnet : un autre réseau vient d'apprendre avec ImageDataGenerator.
        keras.utils.set_random_seed(args.seed)
        fit_with_image_data_generator(lab_networks.build_cnn_1conv(), X_app, y_app, X_val, y_val, args.epochs,
                                      seed=args.seed)

    keras.utils.set_random_seed(args.seed)
    model = lab_networks.build_cnn_1conv() if spec["network"] == "1conv" else lab_networks.build_cnn_4conv()
    if spec["pipeline"] == "couche":
        model = lab_networks.compile_model(
            keras.Sequential([keras.Input(fu.INPUT_SHAPE), fast_augmentation.LabAugmentation(), model]))
    if lever == "nchw":
        model = lab_networks.compile_model(channels_first_copy(model))
        X_app, X_val, X_test = (np.transpose(x, (0, 3, 1, 2)) for x in (X_app, X_val, X_test))
    steps_per_execution = args.spe if lever == "spe" else 1
    if lever in ("spe", "xla"):
        # Même compilation que lab_networks.compile_model, plus le réglage essayé.
        model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.Adam(0.001),
                      metrics=["accuracy"], steps_per_execution=steps_per_execution,
                      jit_compile=(lever == "xla") or "auto")

    class EpochTimer(keras.callbacks.Callback):
        """Pour chaque époque : sa durée, celle de sa partie apprentissage (jusqu'à la fin du
        dernier lot, avant la validation), le temps processeur de ce processus (tous ses fils) et
        la part des processeurs prise par l'hyperviseur (steal_share) ; les lots de chaque validation."""

        def on_train_begin(self, logs=None):
            self.epoch_seconds, self.train_seconds, self.cpu_seconds, self.steal = [], [], [], []
            self.system_seconds, self.page_faults = [], []
            self.validation_batches = []

        def on_test_begin(self, logs=None):
            self.validation_batches.append(0)

        def on_test_batch_end(self, batch, logs=None):
            self.validation_batches[-1] += 1

        def on_epoch_begin(self, epoch, logs=None):
            self.last_batch_end = None
            self.ticks = read_cpu_ticks()
            self.cpu_start = time.process_time()
            self.system_start, self.faults_start = os.times().system, minor_page_faults()
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last_batch_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            self.epoch_seconds.append(end - self.start)
            self.train_seconds.append((self.last_batch_end or end) - self.start)
            self.cpu_seconds.append(time.process_time() - self.cpu_start)
            self.system_seconds.append(os.times().system - self.system_start)
            self.page_faults.append(minor_page_faults() - self.faults_start)
            self.steal.append(steal_share(self.ticks, read_cpu_ticks()))

    timer = EpochTimer()
    if lever == "un-iterateur":
        # Keras 3 remplace l'itérateur d'un jeu de données fini à chaque époque (et celui de la
        # validation à chaque validation) ; un jeu répété sans fin, avec steps_per_epoch et
        # validation_steps, garde le même itérateur d'un bout à l'autre de fit().
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        if spec["pipeline"] == "rapide":
            batches = fast_augmentation.lab_augmented_batches(X_app, y_app, batch_size=BATCH_SIZE, seed=args.seed)
        else:
            batches = (tf.data.Dataset.from_tensor_slices((X_app, y_app))
                       .shuffle(len(X_app), seed=args.seed, reshuffle_each_iteration=True)
                       .batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE))
        validation = tf.data.Dataset.from_tensor_slices((X_val, y_val)).batch(BATCH_SIZE).repeat()
        model.fit(batches.repeat(), steps_per_epoch=steps, epochs=args.epochs, verbose=0,
                  validation_data=validation, validation_steps=math.ceil(len(X_val) / BATCH_SIZE),
                  callbacks=[timer])
    elif spec["pipeline"] == "idg":
        steps = fit_with_image_data_generator(model, X_app, y_app, X_val, y_val, args.epochs, [timer],
                                              seed=args.seed)
        images_per_epoch = steps * BATCH_SIZE
    elif spec["pipeline"] == "tfdata":
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        batches = (tf.data.Dataset.from_tensor_slices((X_app, y_app))
                   .shuffle(len(X_app), seed=args.seed, reshuffle_each_iteration=True)
                   .batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE))
        model.fit(batches, epochs=args.epochs, verbose=0, validation_data=(X_val, y_val),
                  callbacks=[timer])
    elif spec["pipeline"] == "rapide":
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        # comme le carnet : validation par lots de 256 (Keras la ferait par lots de 32 après un tf.data)
        model.fit(fast_augmentation.lab_augmented_batches(X_app, y_app, batch_size=BATCH_SIZE, seed=args.seed),
                  epochs=args.epochs, shuffle=False, verbose=0, validation_data=(X_val, y_val),
                  validation_batch_size=BATCH_SIZE,
                  callbacks=[timer])
    else:
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        model.fit(X_app, y_app, batch_size=BATCH_SIZE, epochs=args.epochs, verbose=0,
                  validation_data=(X_val, y_val), callbacks=[timer])
    _, accuracy = model.evaluate(X_test, y_test, verbose=0)

    return {
        "config": config, "seed": args.seed, "epochs": args.epochs, "rows": len(train), "n_train": len(X_app),
        "n_validation": len(X_val), "n_test": len(X_test), "batch_size": BATCH_SIZE,
        "epoch_seconds": timer.epoch_seconds, "train_seconds": timer.train_seconds,
        "steps_per_epoch": steps, "images_per_epoch": images_per_epoch,
        "test_accuracy": float(accuracy), "forward_flops_per_image": forward_flops_per_image(model),
        "epoch_cpu_seconds": timer.cpu_seconds, "epoch_steal": timer.steal,
        "epoch_system_seconds": timer.system_seconds, "epoch_page_faults": timer.page_faults,
        "TF_CPU_ALLOCATOR_USE_BFC": os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"),
        "tf_data_autotune_on_arrays": not hasattr(ArrayDataAdapter.get_tf_dataset, "__wrapped__"),
        "validation_batches": timer.validation_batches,
        "loading_seconds": loading_seconds,
        "steps_per_execution": steps_per_execution, "jit_compile": bool(model.jit_compile),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "tensorflow": tf.__version__, "keras": keras.__version__, "pid": os.getpid(),
    }


# ---------------------------------------------------------------------------
# Processus parent : lance les mesures, une par processus, et affiche
# ---------------------------------------------------------------------------

def worker_environment(config):
    """Environnement du processus de mesure : celui du parent, plus le réglage de la configuration
    (TF_ENABLE_ONEDNN_OPTS est lu par TensorFlow à son importation : il doit être là avant)."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if CONFIGS[config].get("lever") == "onednn0":
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    if CONFIGS[config].get("lever") == "malloc":
        env["TF_CPU_ALLOCATOR_USE_BFC"] = "false"
    return env


def worker_command(config, args, result_path, seed=SEED):
    """La ligne de commande d'un processus de mesure."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", config, "--seed", str(seed),
               "--result", str(result_path), "--epochs", str(args.epochs), "--data", str(args.data),
               "--spe", str(args.spe), "--intra-threads", str(args.intra_threads),
               "--inter-threads", str(args.inter_threads)]
    if args.rows is not None:
        command += ["--rows", str(args.rows)]
    if args.test_rows is not None:
        command += ["--test-rows", str(args.test_rows)]
    return command


def measure_in_child(config, args, round_index):
    """Lance un processus neuf pour la configuration et attend ses mesures (None s'il échoue)."""
    with tempfile.TemporaryDirectory(prefix="bench_training_") as folder:
        result_path = Path(folder) / "mesures.json"
        start = time.perf_counter()
        completed = subprocess.run(worker_command(config, args, result_path, round_seed(round_index, args.seed)),
                                   env=worker_environment(config), capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if completed.returncode != 0 or not result_path.exists():
            print(f"  {config} : le processus de mesure a échoué (code {completed.returncode}) :", flush=True)
            for line in (completed.stderr or completed.stdout).strip().splitlines()[-15:]:
                print(f"    {line}")
            return None
        raw = json.loads(result_path.read_text(encoding="utf-8"))
    raw["round"] = round_index
    raw["process_seconds"] = wall
    return raw


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10,
                        help="époques par entraînement (10) ; la première est mise de côté")
    parser.add_argument("--data", default=str(ANALYSE_DIR / "datas"), help="dossier des CSV")
    parser.add_argument("--rows", type=int, default=None, help="échantillon de lignes d'apprentissage")
    parser.add_argument("--test-rows", type=int, default=None,
                        help="échantillon du jeu de test (tout le jeu par défaut ; pour un essai rapide)")
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS),
                        metavar="CONFIG", help=f"configurations à mesurer ({' '.join(DEFAULT_CONFIGS)}) "
                                               f"parmi : {' '.join(CONFIGS)}")
    parser.add_argument("--repeat", type=int, default=1,
                        help="nombre de tours de la suite entière, en alternance (1)")
    parser.add_argument("--spe", type=int, default=8, help="steps_per_execution de 4conv-spe (8)")
    default_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--intra-threads", type=int, default=default_threads,
                        help=f"fils intra-opération de 4conv-threads (cœurs disponibles : {default_threads})")
    parser.add_argument("--inter-threads", type=int, default=1, help="fils inter-opérations de 4conv-threads (1)")
    parser.add_argument("--output", default=None, help="fichier JSON où garder les mesures brutes et le tableau")
    parser.add_argument("--worker", choices=list(CONFIGS), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"graine du premier tour ({SEED}), puis la suivante à chaque tour")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeat < 1:
        parser.error("--epochs et --repeat doivent valoir au moins 1")
    if args.worker and not args.result:
        parser.error("--worker demande --result")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        raw = run_worker(args.worker, args)
        Path(args.result).write_text(json.dumps(raw), encoding="utf-8")
        return 0

    configs = list(dict.fromkeys(args.configs))
    peak = read_cpu_peak()
    print(f"{len(configs)} configuration(s) × {args.repeat} tour(s), {args.epochs} époques chacune, "
          f"un processus neuf par mesure", flush=True)
    if args.epochs < 2:
        print("  attention : une seule époque, qui comprend la construction du graphe", flush=True)
    if "4conv-xla" in configs:
        print("  4conv-xla : XLA (jit_compile=True) a déjà été mesuré environ 4x plus lent sur ce "
              "processeur ; attendu lent", flush=True)
    raw_runs = []
    for round_index in range(args.repeat):
        for config in configs:
            raw = measure_in_child(config, args, round_index)
            if raw is None:
                continue
            raw_runs.append(raw)
            summary = summarize_run(raw)
            epochs = " ".join(f"{seconds:.1f}" + (f" ({100 * steal:.0f} %)" if steal is not None else "")
                              for seconds, steal in zip(raw["epoch_seconds"], raw.get("epoch_steal") or [None] * len(raw["epoch_seconds"])))
            print(f"  [tour {round_index + 1}/{args.repeat}] {config} : {summary['epochs']['median']:.2f} s/époque "
                  f"(médiane de {summary['epochs']['n']}), précision {summary['accuracy']:.4f}, "
                  f"processus {raw['process_seconds']:.0f} s ; époques (vol) : {epochs}", flush=True)
    if not raw_runs:
        print("Aucune mesure.")
        return 1

    rows = summarize_configs(raw_runs)
    first = raw_runs[0]
    loading = statistics.median(raw["loading_seconds"] for raw in raw_runs)
    print(f"\n{args.epochs} époques (la première mise de côté), {first['n_train']} images d'apprentissage, "
          f"{first['n_validation']} de validation, {first['n_test']} de test, lots de {BATCH_SIZE}, "
          f"TensorFlow {first['tensorflow']}, Keras {first['keras']}")
    print(f"Chargement des deux CSV : {loading:.2f} s (médiane des processus)")
    print(describe_peak(peak))
    flops = {CONFIGS[raw["config"]]["network"]: raw["forward_flops_per_image"] for raw in raw_runs}
    for network, label in (("1conv", "1 convolution"), ("4conv", "4 convolutions")):
        if network in flops:
            print(f"Réseau à {label} : {flops[network] / 1e6:.2f} MFLOP par image en passe avant ; "
                  f"apprentissage ≈ {TRAINING_FLOPS_FACTOR} × passe avant = "
                  f"{TRAINING_FLOPS_FACTOR * flops[network] * BATCH_SIZE / 1e9:.2f} GFLOP par pas de {BATCH_SIZE}")
    print("s/époque : médiane des époques (validation comprise) ; rapport : des médianes, mesurées dans "
          "cette invocation, à la configuration « réf. » ; ms/pas et GFLOP/s : partie apprentissage seule")
    print("vol : part médiane des processeurs que l'hyperviseur a donnée à d'autres machines virtuelles "
          "pendant les époques (steal de /proc/stat) ; elle varie d'une minute à l'autre et allonge les "
          f"époques d'autant. calmes : médiane des époques à moins de {100 * QUIET_STEAL:.0f} % de vol (leur "
          "nombre), et son rapport ; CPU s : temps processeur de l'époque (tous les fils du processus), "
          "que le vol n'allonge pas, et son rapport ; sys : part de ce temps passée dans le système ; "
          "défauts/pas : défauts de page mineurs par pas (mémoire rendue au système puis redemandée)")
    print()
    print(format_table(rows, peak))
    print()
    print(format_accuracy(rows, args.epochs, args.seed))
    failed = [config for config in configs if config not in {row["config"] for row in rows}]
    if failed:
        print(f"\nSans mesure (échec) : {' '.join(failed)}")

    if args.output:
        from safe_files import write_json_atomically
        write_json_atomically({"arguments": {key: value for key, value in vars(args).items()
                                             if key not in ("worker", "result")},
                               "cpu_peak": peak, "summary": rows, "runs": raw_runs}, args.output)
        print(f"\nMesures brutes : {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
