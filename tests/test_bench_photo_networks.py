"""Banc des réseaux pour les photos : découpages de la moitié dev et score des vêtements."""
import sys

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import bench_photo_networks as bench  # noqa: E402


def test_dev_halves_split_each_class_in_two_disjoint_halves():
    classes = np.repeat([0, 2, 5, 9], [10, 6, 4, 2])
    for a, b in bench.dev_halves(classes, 3):
        assert len(np.intersect1d(a, b)) == 0
        assert sorted(np.concatenate([a, b])) == list(range(len(classes)))
        assert np.bincount(classes[a], minlength=10).tolist() == np.bincount(classes[b], minlength=10).tolist()


def test_dev_halves_differ_from_one_split_to_the_next_and_repeat_with_the_seed():
    classes = np.repeat([0, 1], [20, 20])
    first, second = (b for _, b in bench.dev_halves(classes, 2))
    assert first.tolist() != second.tolist()
    again = next(bench.dev_halves(classes, 1))[1]
    assert again.tolist() == first.tolist()


def test_dev_halves_put_a_class_of_one_photo_in_the_fine_tuning_half():
    classes = np.array([0, 0, 0, 0, 7])
    a, b = next(bench.dev_halves(classes, 1))
    assert 4 in a and 4 not in b


def test_garment_score_averages_the_garment_classes_present_and_ignores_shoes():
    y_true = np.array([0, 0, 1, 1, 5, 5, 7])
    y_pred = np.array([0, 2, 1, 1, 9, 9, 9])          # T-shirts 1/2, pantalons 2/2, chaussures toutes fausses
    assert bench.garment_score(y_true, y_pred) == pytest.approx(0.75)


def test_every_configuration_starts_from_a_new_network_or_a_shipped_model():
    for description, start, epochs in bench.CONFIGS.values():
        assert start in bench.NEW_NETWORKS or (ROOT / "analyse_image" / "modele" / f"{start}.json").is_file(), start
        assert epochs >= 0 and description
