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
    4conv-nchw      le même, canaux en premier (data_format="channels_first")
    simple-apres-idg  simple, mesuré dans un processus qui vient de faire un fit() ImageDataGenerator
    rapide-modele   1 convolution, les mêmes transformations dans le réseau (fast_augmentation.LabAugmentation)
    rapide-apres-idg  rapide, idem : l'enchaînement du carnet (la voie rapide y suit l'augmentation
                      du labo), pour voir si ce qui précède ralentit ce qui suit

Chaque processus chronomètre chaque époque, met de côté la première (construction du graphe) et
rapporte le minimum, la médiane et le maximum des suivantes, les pas par époque, les ms par pas,
la précision sur le jeu de test et les GFLOP/s atteints (opérations comptées couche par couche).
Les rapports sont des rapports de médianes mesurées dans la même invocation : simple, idg,
rapide et 4conv rapportés à simple ; les variantes 4conv-* rapportées à 4conv. Avec --repeat N,
la suite entière est jouée N fois en alternance (A B C A B C ...) pour que les changements de
vitesse de la machine touchent toutes les configurations de la même façon.

    python scripts/bench_training.py --epochs 5 --repeat 3 --output bench.json
    python scripts/bench_training.py --epochs 4 --configs 4conv 4conv-spe 4conv-threads 4conv-onednn0
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
    steady = durations[1:] or durations
    return {"n": len(steady), "min": min(steady), "median": statistics.median(steady),
            "max": max(steady), "first_dropped": len(durations) > 1}


def summarize_run(raw):
    """Résumé d'une mesure (le dictionnaire écrit par un processus de mesure) : statistiques des
    époques, ms par pas et GFLOP/s de l'apprentissage (validation exclue)."""
    epochs = steady_stats(raw["epoch_seconds"])
    train = steady_stats(raw["train_seconds"])
    seconds = train["median"]
    flops = raw.get("forward_flops_per_image")
    gflops = None
    if flops and seconds > 0:
        gflops = raw["images_per_epoch"] * TRAINING_FLOPS_FACTOR * flops / seconds / 1e9
    probes = raw.get("probe_seconds") or []
    probe = statistics.mean(probes) if probes else None
    return {"config": raw["config"], "round": raw.get("round", 0), "epochs": epochs,
            "train": train, "ms_per_step": 1000 * seconds / raw["steps_per_epoch"],
            "steps_per_epoch": raw["steps_per_epoch"], "gflops": gflops,
            "accuracy": raw["test_accuracy"], "probe": probe,
            "probes_per_epoch": epochs["median"] / probe if probe else None,
            "speed_changed": bool(probes) and max(probes) > 1.15 * min(probes)}


def ratio(value, reference):
    """value / reference, ou None s'il manque l'un des deux."""
    if value is None or not reference:
        return None
    return value / reference


def summarize_configs(raw_runs, configs=CONFIGS):
    """Une ligne par configuration (dans l'ordre de première apparition) à partir des mesures
    brutes d'une invocation : les époques stables de tous les tours réunies (médiane, min, max),
    le rapport des médianes à la configuration de référence (simple, ou 4conv pour les variantes
    4conv-*), le rapport tour par tour, la précision moyenne et les GFLOP/s médians."""
    runs = [summarize_run(raw) for raw in raw_runs]
    order = list(dict.fromkeys(run["config"] for run in runs))
    by_config = {name: [run for run in runs if run["config"] == name] for name in order}
    steady = {}
    for name in order:
        seconds = [s for raw in raw_runs if raw["config"] == name
                   for s in (raw["epoch_seconds"][1:] or raw["epoch_seconds"])]
        steady[name] = {"n": len(seconds), "median": statistics.median(seconds),
                        "min": min(seconds), "max": max(seconds)}
    rows = []
    for name in order:
        spec = configs.get(name, {})
        base = name if spec.get("base") is None else spec["base"]
        reference = steady.get(base, {}).get("median")
        per_round = []
        for run in by_config[name]:
            partner = [r for r in by_config.get(base, []) if r["round"] == run["round"]]
            if partner:
                per_round.append(ratio(run["epochs"]["median"], partner[0]["epochs"]["median"]))
        gflops = [run["gflops"] for run in by_config[name] if run["gflops"] is not None]
        normalized = [run["probes_per_epoch"] for run in by_config[name] if run.get("probes_per_epoch")]
        rows.append({
            "config": name, "description": spec.get("description", name), "network": spec.get("network"),
            "base": base, **steady[name],
            "ratio": ratio(steady[name]["median"], reference),
            "ratio_per_round": per_round,
            "ms_per_step": statistics.median(run["ms_per_step"] for run in by_config[name]),
            "steps_per_epoch": by_config[name][0]["steps_per_epoch"],
            "accuracy": statistics.mean(run["accuracy"] for run in by_config[name]),
            "probes_per_epoch": statistics.median(normalized) if normalized else None,
            "speed_changed": any(run.get("speed_changed") for run in by_config[name]),
            "gflops": statistics.median(gflops) if gflops else None,
        })
    cost = {row["config"]: row["probes_per_epoch"] for row in rows}
    for row in rows:
        row["ratio_normalized"] = ratio(row["probes_per_epoch"], cost.get(row["base"]))
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


def format_table(rows, peak=None):
    """Le tableau des configurations (une ligne chacune), en texte."""
    with_rounds = any(len(row["ratio_per_round"]) > 1 for row in rows)
    header = (f"{'configuration':15} {'s/époque':>9} {'min–max':>13} {'rapport':>8} {'sondes':>7} "
              f"{'rapport':>8} {'réf.':>7} {'ms/pas':>8} {'pas':>4} {'précision':>9} {'GFLOP/s':>8}")
    if with_rounds:
        header += "  rapport par tour"
    lines = [header]
    for row in rows:
        ratio_text = f"{row['ratio']:7.2f}x" if row["ratio"] is not None else f"{'—':>8}"
        base = row["base"] if row["base"] != row["config"] else ""
        gflops = "—"
        if row["gflops"] is not None and row["network"] == "4conv":
            gflops = f"{row['gflops']:.1f}"
            if peak and peak.get("gflops"):
                gflops += f" ({100 * row['gflops'] / peak['gflops']:.0f} %)"
        probes = f"{row['probes_per_epoch']:7.1f}" if row.get("probes_per_epoch") else f"{'—':>7}"
        normalized = f"{row['ratio_normalized']:7.2f}x" if row.get("ratio_normalized") else f"{'—':>8}"
        line = (f"{row['config']:15} {row['median']:9.2f} {row['min']:6.2f}–{row['max']:<6.2f} "
                f"{ratio_text} {probes} {normalized} {base:>7} {row['ms_per_step']:8.0f} "
                f"{row['steps_per_epoch']:4d} {row['accuracy']:9.4f} {gflops:>8}"
                + (" *" if row.get("speed_changed") else ""))
        if with_rounds:
            line += "  " + " ".join(f"{r:.2f}x" for r in row["ratio_per_round"])
        lines.append(line)
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


def speed_probe(repeats=3, size=768, products=12):
    """Durée (la plus courte de `repeats`) d'un calcul fixe de TensorFlow : `products` produits de
    matrices size × size, sur les mêmes fils que l'apprentissage. Elle suit la vitesse de la machine
    à cet instant : une époque divisée par elle ne dépend plus de ses sauts de vitesse."""
    import tensorflow as tf

    matrix = tf.random.stateless_normal((size, size), seed=(1, 2))
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        product = matrix
        for _ in range(products):
            product = tf.linalg.matmul(matrix, product) * 1e-3
        float(tf.reduce_sum(product))            # attendre la fin du calcul
        durations.append(time.perf_counter() - start)
    return min(durations)


def fit_with_image_data_generator(model, X_app, y_app, X_val, y_val, epochs, callbacks=()):
    """Le fit() du labo avec ImageDataGenerator (validation augmentée aussi) ; renvoie les pas
    par époque."""
    import fashion_utils as fu
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(rotation_range=8, width_shift_range=0.08, shear_range=0.3,
                                   height_shift_range=0.08, zoom_range=0.08)
    steps = max(1, len(X_app) // BATCH_SIZE)
    model.fit(fu.repeat_forever(generator.flow(X_app, y_app, batch_size=BATCH_SIZE, seed=SEED)),
              steps_per_epoch=steps, epochs=epochs, shuffle=False, verbose=0,
              validation_data=fu.repeat_forever(generator.flow(X_val, y_val, batch_size=BATCH_SIZE,
                                                               seed=SEED)),
              validation_steps=max(1, len(X_val) // BATCH_SIZE), callbacks=list(callbacks))
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
    import fashion_utils as fu
    import fast_augmentation
    import keras
    import numpy as np
    from sklearn.model_selection import train_test_split

    start = time.perf_counter()
    train_csv, test_csv = fu.ensure_csv_files(args.data)
    train, test = fu.load_csv(train_csv), fu.load_csv(test_csv)
    loading_seconds = time.perf_counter() - start

    train, test = fu.sample_rows(train, args.rows), fu.sample_rows(test, args.test_rows)
    X = train.iloc[:, 1:].to_numpy()
    y = keras.utils.to_categorical(train.iloc[:, 0].to_numpy(), 10)
    X_app, X_val, y_app, y_val = train_test_split(X, y, test_size=0.2, random_state=SEED)
    X_app, X_val = fu.to_model_input(X_app), fu.to_model_input(X_val)
    X_test = fu.to_model_input(test.iloc[:, 1:].to_numpy())
    y_test = keras.utils.to_categorical(test.iloc[:, 0].to_numpy(), 10)

    if spec.get("after") == "idg":
        # Comme dans le carnet : un autre réseau vient d'apprendre avec ImageDataGenerator.
        keras.utils.set_random_seed(SEED)
        fit_with_image_data_generator(fu.build_cnn_1conv(), X_app, y_app, X_val, y_val, args.epochs)

    keras.utils.set_random_seed(SEED)
    model = fu.build_cnn_1conv() if spec["network"] == "1conv" else fu.build_cnn_4conv()
    if spec["pipeline"] == "couche":
        model = fu.compile_model(keras.Sequential([keras.Input(fu.INPUT_SHAPE), fast_augmentation.LabAugmentation(),
                                                   model]))
    if lever == "nchw":
        model = fu.compile_model(channels_first_copy(model))
        X_app, X_val, X_test = (np.transpose(x, (0, 3, 1, 2)) for x in (X_app, X_val, X_test))
    steps_per_execution = args.spe if lever == "spe" else 1
    if lever in ("spe", "xla"):
        # Même compilation que fu.compile_model, plus le réglage essayé.
        model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.Adam(0.001),
                      metrics=["accuracy"], steps_per_execution=steps_per_execution,
                      jit_compile=(lever == "xla") or "auto")

    class EpochTimer(keras.callbacks.Callback):
        """Durée de chaque époque, et de sa partie apprentissage (jusqu'à la fin du dernier lot,
        avant la validation)."""

        def on_train_begin(self, logs=None):
            self.epoch_seconds, self.train_seconds = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.last_batch_end = None
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last_batch_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            self.epoch_seconds.append(end - self.start)
            self.train_seconds.append((self.last_batch_end or end) - self.start)

    timer = EpochTimer()
    speed_probe(repeats=1)                                   # premier appel : construction, non compté
    probe_before = speed_probe()
    if spec["pipeline"] == "idg":
        steps = fit_with_image_data_generator(model, X_app, y_app, X_val, y_val, args.epochs, [timer])
        images_per_epoch = steps * BATCH_SIZE
    elif spec["pipeline"] == "tfdata":
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        batches = (tf.data.Dataset.from_tensor_slices((X_app, y_app))
                   .shuffle(len(X_app), seed=SEED, reshuffle_each_iteration=True)
                   .batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE))
        model.fit(batches, epochs=args.epochs, verbose=0, validation_data=(X_val, y_val),
                  callbacks=[timer])
    elif spec["pipeline"] == "rapide":
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        model.fit(fast_augmentation.lab_augmented_batches(X_app, y_app, batch_size=BATCH_SIZE),
                  epochs=args.epochs, shuffle=False, verbose=0, validation_data=(X_val, y_val),
                  callbacks=[timer])
    else:
        steps, images_per_epoch = math.ceil(len(X_app) / BATCH_SIZE), len(X_app)
        model.fit(X_app, y_app, batch_size=BATCH_SIZE, epochs=args.epochs, verbose=0,
                  validation_data=(X_val, y_val), callbacks=[timer])
    probe_after = speed_probe()
    _, accuracy = model.evaluate(X_test, y_test, verbose=0)

    return {
        "config": config, "epochs": args.epochs, "rows": len(train), "n_train": len(X_app),
        "n_validation": len(X_val), "n_test": len(X_test), "batch_size": BATCH_SIZE,
        "epoch_seconds": timer.epoch_seconds, "train_seconds": timer.train_seconds,
        "steps_per_epoch": steps, "images_per_epoch": images_per_epoch,
        "test_accuracy": float(accuracy), "forward_flops_per_image": forward_flops_per_image(model),
        "probe_seconds": [probe_before, probe_after],
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
    return env


def worker_command(config, args, result_path):
    """La ligne de commande d'un processus de mesure."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", config,
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
        completed = subprocess.run(worker_command(config, args, result_path), env=worker_environment(config),
                                   capture_output=True, text=True, check=False)
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
            probes = " / ".join(f"{p:.3f}" for p in raw.get("probe_seconds", []))
            print(f"  [tour {round_index + 1}/{args.repeat}] {config} : {summary['epochs']['median']:.2f} s/époque "
                  f"(médiane de {summary['epochs']['n']}), précision {summary['accuracy']:.4f}, "
                  f"sonde avant / après {probes} s, processus {raw['process_seconds']:.0f} s", flush=True)
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
    print("sondes : une époque en durées d'un calcul fixe mesuré dans le même processus avant et après "
          "l'apprentissage (speed_probe) ; le second rapport, sur ces époques en sondes, ne dépend pas des sauts "
          "de vitesse de la machine d'un processus à l'autre ; * : la vitesse a changé de plus de 15 % "
          "pendant la mesure")
    print()
    print(format_table(rows, peak))
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
