"""Banc d'entraînement (scripts/bench_training.py) : comptage des opérations, statistiques,
rapports, pic du processeur, et un passage complet minuscule (une mesure par processus)."""
import json
import os
import shutil
import subprocess
import sys

import keras
import lab_networks
import pytest
from conftest import ROOT
from keras import layers

sys.path.insert(0, str(ROOT / "scripts"))
import bench_training as bench  # noqa: E402


# --------------------------- comptage des opérations -------------------------

def test_flops_of_the_lab_1conv_network_counted_by_hand():
    conv = 26 * 26 * 3 * 3 * 1 * 32 * 2           # sortie 26×26, noyau 3×3, 1 -> 32 canaux
    dense = 5408 * 128 * 2 + 128 * 10 * 2          # 13×13×32 = 5408 -> 128 -> 10
    assert bench.forward_flops_per_image(lab_networks.build_cnn_1conv()) == conv + dense == 1_776_384


def test_flops_of_the_lab_4conv_network_counted_by_hand():
    convs = (26 * 26 * 9 * 1 * 32 + 24 * 24 * 9 * 32 * 32 + 10 * 10 * 9 * 32 * 64 + 8 * 8 * 9 * 64 * 128) * 2
    denses = (4 * 4 * 128 * 512 + 512 * 128 + 128 * 10) * 2
    flops = bench.forward_flops_per_image(lab_networks.build_cnn_4conv())
    assert flops == convs + denses == 26_360_576
    # environ 20 GFLOP par pas d'apprentissage de 256 images, comme l'annonce le ticket
    assert 20e9 < bench.TRAINING_FLOPS_FACTOR * flops * 256 < 20.5e9


def test_channels_first_copy_keeps_layers_parameters_and_flops():
    model = lab_networks.build_cnn_4conv()
    copy = bench.channels_first_copy(model)
    assert tuple(copy.input_shape) == (None, 1, 28, 28) and tuple(copy.output_shape) == (None, 10)
    assert [type(layer) for layer in copy.layers] == [type(layer) for layer in model.layers]
    assert copy.count_params() == model.count_params()
    assert bench.forward_flops_per_image(copy) == bench.forward_flops_per_image(model)
    convs = [layer for layer in copy.layers if isinstance(layer, layers.Conv2D)]
    assert convs and all(layer.data_format == "channels_first" for layer in convs)
    # BatchNormalization normalise par canal : 32, 32, 64, 128 après les convolutions, puis 512, 128
    norms = [layer for layer in copy.layers if isinstance(layer, layers.BatchNormalization)]
    assert [tuple(layer.moving_mean.shape) for layer in norms] == [(32,), (32,), (64,), (128,), (512,), (128,)]


def test_flops_of_a_tiny_model_with_padding_strides_nesting_and_channels_first():
    inner = keras.Sequential([keras.Input((4, 4, 4)), layers.Conv2D(2, (1, 1), strides=2)], name="interne")
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)   # 8·8·3·3·3·4·2 = 13 824
    x = layers.MaxPooling2D()(x)                                      # négligé
    x = layers.BatchNormalization()(x)                                # négligé
    x = inner(x)                                                      # 2·2·1·1·4·2·2 = 64
    x = layers.Flatten()(x)                                           # 8 valeurs
    outputs = layers.Dense(5, activation="softmax")(x)                # 8·5·2 = 80
    assert bench.forward_flops_per_image(keras.Model(inputs, outputs)) == 13_824 + 64 + 80

    sequence = keras.Sequential([keras.Input((6, 4)), layers.Dense(3)])          # 6 positions
    assert bench.forward_flops_per_image(sequence) == 6 * 4 * 3 * 2
    first = keras.Sequential([keras.Input((3, 10, 10)), layers.Conv2D(8, 3, data_format="channels_first")])
    assert bench.forward_flops_per_image(first) == 8 * 8 * 3 * 3 * 3 * 8 * 2


# --------------------------- statistiques et rapports ------------------------

def test_steady_stats_drop_the_first_epoch():
    stats = bench.steady_stats([30.0, 9.0, 11.0, 10.0])
    assert stats == {"n": 3, "min": 9.0, "median": 10.0, "max": 11.0, "first_dropped": True}
    assert bench.steady_stats([5.0]) == {"n": 1, "min": 5.0, "median": 5.0, "max": 5.0, "first_dropped": False}
    with pytest.raises(ValueError):
        bench.steady_stats([])


def fake_run(config, epochs, round_index=0, accuracy=0.8, steps=2, images=500, flops=None, steal=None,
             cpu=None, system=None, faults=None):
    run = {"config": config, "round": round_index, "epoch_seconds": epochs,
           "train_seconds": [e - 1 for e in epochs], "steps_per_epoch": steps,
           "images_per_epoch": images, "test_accuracy": accuracy, "forward_flops_per_image": flops}
    if steal is not None:
        run["epoch_steal"] = steal
    if cpu is not None:
        run["epoch_cpu_seconds"] = cpu
    if system is not None:
        run["epoch_system_seconds"] = system
    if faults is not None:
        run["epoch_page_faults"] = faults
    return run


PROC_STAT = """cpu  2932080 188102 154846 2334869 11891 0 5311 118995 0 0
cpu0 1374367 73456 65491 1295181 2127 0 2876 60555 0 0
intr 123 0
"""


def test_steal_share_between_two_readings_of_proc_stat():
    before = bench.cpu_ticks(PROC_STAT)
    assert before == {"user": 2932080, "nice": 188102, "system": 154846, "idle": 2334869,
                      "iowait": 11891, "irq": 0, "softirq": 5311, "steal": 118995}
    after = dict(before, user=before["user"] + 120, idle=before["idle"] + 40, steal=before["steal"] + 40)
    assert bench.steal_share(before, after) == pytest.approx(40 / 200)
    assert bench.steal_share(before, before) is None                      # aucun tic écoulé
    assert bench.steal_share(None, after) is None                          # pas de /proc/stat
    assert bench.cpu_ticks("cpu  1 2 3 4\n")["steal"] == 0                  # noyau sans compteur steal
    assert bench.cpu_ticks("intr 1 2\n") is None


def test_quiet_epochs_and_cpu_time_cancel_an_hypervisor_that_steals_half_the_machine():
    # rapide coûte vraiment 0,9 fois simple ; pendant la mesure de rapide, l'hyperviseur prend
    # 40 % des processeurs à ses deux dernières époques, qui s'allongent
    runs = [fake_run("simple", [30, 10, 10, 10], steal=[0.0, 0.01, 0.0, 0.02], cpu=[40, 18, 18, 18]),
            fake_run("rapide", [30, 9, 15, 15], steal=[0.0, 0.0, 0.4, 0.4], cpu=[40, 16.2, 16.2, 16.2])]
    rows = {row["config"]: row for row in bench.summarize_configs(runs)}
    assert rows["rapide"]["ratio"] == pytest.approx(1.5)                   # les secondes trompent
    assert rows["rapide"]["steal"] == pytest.approx(0.4)
    assert (rows["rapide"]["quiet_n"], rows["rapide"]["quiet_median"]) == (1, 9)
    assert rows["rapide"]["ratio_quiet"] == pytest.approx(0.9)             # les époques calmes, non
    assert rows["rapide"]["ratio_cpu"] == pytest.approx(0.9)               # le temps processeur non plus
    table = bench.format_table(list(rows.values()))
    assert "40 %" in table and "9.00 (1)" in table and table.count("0.90x") == 2
    # sans relevé (mesures d'avant, ou hors de Linux) : pas de rapport inventé
    bare = bench.summarize_configs([fake_run("simple", [3, 2, 2]), fake_run("rapide", [3, 2, 2])])
    assert all(row[key] is None for row in bare for key in ("steal", "quiet_median", "ratio_quiet", "ratio_cpu"))


def test_system_share_and_page_faults_per_step_of_the_steady_epochs():
    # l'allocateur par défaut rend la mémoire au système et la redemande : temps système et défauts de page
    runs = [fake_run("4conv", [60, 40, 40], steps=10, cpu=[100, 80, 80], system=[30, 24, 8], faults=[9e5, 2e5, 3e5]),
            fake_run("4conv-malloc", [60, 40, 40], steps=10, cpu=[100, 80, 80], system=[1, 1, 1], faults=[1e4, 800, 800])]
    rows = {row["config"]: row for row in bench.summarize_configs(runs)}
    assert rows["4conv"]["system_share"] == pytest.approx((24 / 80 + 8 / 80) / 2)        # 1re époque écartée
    assert rows["4conv"]["faults_per_step"] == pytest.approx(25_000)
    assert rows["4conv-malloc"]["faults_per_step"] == pytest.approx(80)
    table = bench.format_table(list(rows.values()))
    assert "20 %" in table and "25000" in table and "défauts/pas" in table
    assert bench.summarize_configs([fake_run("simple", [3, 2, 2])])[0]["faults_per_step"] is None
    assert bench.minor_page_faults() > 0


def test_summarize_run_ms_per_step_and_gflops():
    summary = bench.summarize_run(fake_run("4conv", [9.0, 5.0, 3.0, 4.0], steps=2, images=500, flops=1e6))
    assert summary["epochs"]["median"] == 4.0
    assert summary["ms_per_step"] == pytest.approx(1000 * 3.0 / 2)          # apprentissage : 4, 2, 3
    assert summary["gflops"] == pytest.approx(500 * 3 * 1e6 / 3.0 / 1e9)


def test_ratios_are_medians_within_the_invocation_with_their_reference():
    runs = [fake_run("simple", [20, 10, 10, 12], 0), fake_run("rapide", [20, 11, 11, 13], 0),
            fake_run("4conv", [60, 40, 40], 0), fake_run("4conv-spe", [60, 30, 30], 0),
            fake_run("simple", [20, 8, 8, 8], 1), fake_run("rapide", [20, 8, 9, 10], 1),
            fake_run("4conv", [60, 40, 40], 1), fake_run("4conv-spe", [60, 20, 20], 1)]
    rows = {row["config"]: row for row in bench.summarize_configs(runs)}
    assert list(rows) == ["simple", "rapide", "4conv", "4conv-spe"]
    # époques stables des deux tours réunies : simple 10 10 12 8 8 8 -> 9 ; rapide 11 11 13 8 9 10 -> 10,5
    assert rows["simple"]["median"] == 9 and rows["simple"]["ratio"] == 1.0
    assert (rows["simple"]["min"], rows["simple"]["max"]) == (8, 12)
    assert rows["rapide"]["ratio"] == pytest.approx(10.5 / 9) and rows["rapide"]["base"] == "simple"
    assert rows["rapide"]["ratio_per_round"] == pytest.approx([11 / 10, 9 / 8])
    assert rows["4conv"]["ratio"] == pytest.approx(40 / 9)
    assert rows["4conv-spe"]["base"] == "4conv" and rows["4conv-spe"]["ratio"] == pytest.approx(25 / 40)
    assert rows["4conv-spe"]["ratio_per_round"] == pytest.approx([30 / 40, 20 / 40])

    table = bench.format_table(list(rows.values()))
    simple_line = next(line for line in table.splitlines() if line.startswith("simple "))
    assert "1.00x" in simple_line and "1.17x" in table and "rapport par tour" in table


def test_accuracy_is_given_round_by_round_with_one_seed_per_round():
    runs = [fake_run("idg", [20, 10, 10], 1, accuracy=0.84), fake_run("rapide", [20, 10, 10], 1, accuracy=0.85),
            fake_run("idg", [20, 10, 10], 0, accuracy=0.86), fake_run("rapide", [20, 10, 10], 0, accuracy=0.83)]
    rows = bench.summarize_configs(runs)
    assert [row["accuracy_per_round"] for row in rows] == [[0.86, 0.84], [0.83, 0.85]]   # dans l'ordre des tours
    assert [row["accuracy"] for row in rows] == pytest.approx([0.85, 0.84])
    text = bench.format_accuracy(rows, 3)
    assert "après 3 époque(s)" in text and "(13, 14)" in text
    idg = next(line for line in text.splitlines() if line.startswith("idg "))
    assert idg.split()[1:] == ["0.8500", "0.0200", "0.8600", "0.8400"]
    assert [bench.round_seed(k) for k in range(3)] == [13, 14, 15]


def test_each_round_s_worker_gets_its_own_seed(tmp_path):
    args = bench.parse_args(["--repeat", "2"])
    commands = [bench.worker_command("rapide", args, tmp_path / "r.json", bench.round_seed(k)) for k in range(2)]
    seeds = [command[command.index("--seed") + 1] for command in commands]
    assert seeds == ["13", "14"]
    assert bench.parse_args(["--worker", "rapide", "--result", "r.json", "--seed", "14"]).seed == 14


def test_first_seed_moves_every_round_s_seed(tmp_path, monkeypatch):
    args = bench.parse_args(["--repeat", "2", "--seed", "18", "--configs", "rapide"])
    launched = []
    monkeypatch.setattr(bench.subprocess, "run", lambda command, **_: launched.append(command) or
                        bench.subprocess.CompletedProcess(command, 1, "", "échec simulé"))
    for round_index in range(2):
        assert bench.measure_in_child("rapide", args, round_index) is None
    assert [command[command.index("--seed") + 1] for command in launched] == ["18", "19"]
    rows = bench.summarize_configs([fake_run("rapide", [20, 10, 10], 0, accuracy=0.85)])
    assert "(18)" in bench.format_accuracy(rows, 3, first_seed=18)


def test_missing_reference_gives_no_ratio():
    rows = bench.summarize_configs([fake_run("4conv-xla", [50, 40, 42])])
    assert rows[0]["ratio"] is None and rows[0]["base"] == "4conv"
    assert "—" in bench.format_table(rows)
    assert bench.ratio(3.0, None) is None and bench.ratio(3.0, 1.5) == 2.0


# --------------------------- pic du processeur -------------------------------

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Processor @ 2.50GHz
cpu MHz\t\t: 2500.008
flags\t\t: fpu sse2 avx fma avx2 avx512f avx512dq
processor\t: 1
model name\t: Intel(R) Xeon(R) Processor @ 2.50GHz
cpu MHz\t\t: 2500.008
flags\t\t: fpu sse2 avx fma avx2 avx512f avx512dq
"""


def test_cpu_peak_from_flags_and_frequency():
    peak = bench.cpu_peak(CPUINFO)
    assert (peak["cores"], peak["flop_per_cycle"], peak["frequency_source"]) == (2, 32, "cpu MHz")
    assert peak["gflops"] == pytest.approx(2 * 2.500008 * 32)
    assert bench.cpu_peak(CPUINFO, max_freq_khz=3_000_000, cores=4)["gflops"] == pytest.approx(4 * 3.0 * 32)
    avx2 = bench.cpu_peak(CPUINFO.replace(" avx512f avx512dq", "").replace("cpu MHz", "bogomips"))
    assert (avx2["flop_per_cycle"], avx2["ghz"], avx2["frequency_source"]) == (16, 2.5, "nom du modèle")
    assert "UNE unité FMA" in bench.describe_peak(peak)


# --------------------------- passage complet ---------------------------------

def test_importing_the_script_does_not_load_tensorflow():
    code = ("import sys; sys.path.insert(0, 'scripts'); import bench_training; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_tiny_benchmark_of_the_sequence_and_pipeline_levers(tmp_path):
    output = tmp_path / "banc.json"
    nice = ["nice", "-n", "19"] if shutil.which("nice") else []
    command = [*nice, sys.executable, "scripts/bench_training.py", "--rows", "600", "--test-rows", "100",
               "--epochs", "2", "--configs", "rapide-apres-idg", "4conv-tfdata",
               "rapide-un-iterateur", "4conv-un-iterateur", "--output", str(output)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    saved = json.loads(output.read_text(encoding="utf-8"))
    # (4conv-nchw n'est pas lancé ici : TensorFlow n'apprend en canaux d'abord sur processeur qu'avec
    # oneDNN, qu'il n'active que sur les processeurs récents ; channels_first_copy a son propre test)
    assert [run["config"] for run in saved["runs"]] == ["rapide-apres-idg", "4conv-tfdata",
                                                         "rapide-un-iterateur", "4conv-un-iterateur"]
    # 120 images de validation. Quand fit() reçoit un tf.data.Dataset, Keras valide les tableaux par
    # lots de 32 (4 lots, 4conv-tfdata), sauf avec validation_batch_size=256, comme la voie rapide du
    # carnet (1 lot) ; avec des tableaux, par lots de 256 (1 lot) ; les configurations à un seul
    # itérateur valident par lots de 256, répétés sans fin (1 lot).
    validation_batches = {"rapide-apres-idg": 1, "4conv-tfdata": 4,
                          "rapide-un-iterateur": 1, "4conv-un-iterateur": 1}
    for run in saved["runs"]:
        assert run["steps_per_epoch"] == 2 and len(run["epoch_seconds"]) == 2
        assert run["n_validation"] == 120
        assert run["validation_batches"] == [validation_batches[run["config"]]] * 2, run["config"]
    flops = [run["forward_flops_per_image"] for run in saved["runs"]]
    assert flops == [1_776_384, 26_360_576, 1_776_384, 26_360_576]
    # sans leur référence (rapide, 4conv) dans cette invocation : pas de rapport inventé
    assert [row["ratio"] for row in saved["summary"]] == [None] * 4
    # les réglages de tf_settings, dans chaque processus de mesure
    assert all(run["TF_CPU_ALLOCATOR_USE_BFC"] == "true" and not run["tf_data_autotune_on_arrays"]
               for run in saved["runs"])


def test_tiny_benchmark_of_the_tensorflow_settings_levers(tmp_path):
    output = tmp_path / "banc.json"
    nice = ["nice", "-n", "19"] if shutil.which("nice") else []
    command = [*nice, sys.executable, "scripts/bench_training.py", "--rows", "600", "--test-rows", "100",
               "--epochs", "2", "--configs", "simple-autotune", "simple-malloc", "--output", str(output)]
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPU_ALLOCATOR_USE_BFC"}
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                               env={**environment, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    runs = {run["config"]: run for run in json.loads(output.read_text(encoding="utf-8"))["runs"]}
    assert runs["simple-autotune"]["tf_data_autotune_on_arrays"] is True              # Keras par défaut
    assert runs["simple-autotune"]["TF_CPU_ALLOCATOR_USE_BFC"] == "true"
    assert runs["simple-malloc"]["tf_data_autotune_on_arrays"] is False
    assert runs["simple-malloc"]["TF_CPU_ALLOCATOR_USE_BFC"] == "false"               # l'allocateur par défaut
    for run in runs.values():
        assert len(run["epoch_system_seconds"]) == len(run["epoch_page_faults"]) == 2
        assert all(faults > 0 for faults in run["epoch_page_faults"])
    assert "défauts/pas" in completed.stdout


def test_tiny_benchmark_measures_each_configuration_in_its_own_process(tmp_path):
    output = tmp_path / "banc.json"
    nice = ["nice", "-n", "19"] if shutil.which("nice") else []       # à côté d'un autre calcul, lui laisse la main
    command = [*nice, sys.executable, "scripts/bench_training.py", "--rows", "600", "--epochs", "2",
               "--configs", "simple", "rapide", "--output", str(output)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    simple = next(line for line in lines if line.startswith("simple "))
    rapide = next(line for line in lines if line.startswith("rapide "))
    assert "1.00x" in simple and "simple" in rapide.split("x", 1)[1]
    assert "GFLOP/s" in completed.stdout and "Pic théorique" in completed.stdout

    saved = json.loads(output.read_text(encoding="utf-8"))
    assert [run["config"] for run in saved["runs"]] == ["simple", "rapide"]
    pids = {run["pid"] for run in saved["runs"]}
    assert len(pids) == 2 and os.getpid() not in pids                 # deux processus neufs
    for run in saved["runs"]:
        assert len(run["epoch_seconds"]) == 2 and run["n_train"] == 480 and run["steps_per_epoch"] == 2
        assert run["forward_flops_per_image"] == 1_776_384
        assert run["seed"] == 13                                        # un seul tour : la graine du premier
    assert [row["config"] for row in saved["summary"]] == ["simple", "rapide"]
    assert "Précision sur le jeu de test après 2 époque(s)" in completed.stdout
