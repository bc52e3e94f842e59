"""Tests de lab_networks : les réseaux du labo et leur compilation."""
import keras
import pytest

import lab_networks
from conftest import tiny_compiled_model


def test_1conv_has_the_lab_architecture():
    model = lab_networks.build_cnn_1conv()
    assert model.count_params() == 693_962
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dense"]
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)


def test_4conv_has_four_convolutions_with_batch_normalization():
    model = lab_networks.build_cnn_4conv()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 4
    assert kinds.count("BatchNormalization") == 6
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [32, 32, 64, 128]
    assert model.output_shape == (None, 10)


def test_compile_model_uses_the_lab_loss_optimizer_and_metric():
    model = tiny_compiled_model()
    assert model.loss is keras.losses.categorical_crossentropy
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    fast = lab_networks.compile_model(tiny_compiled_model(), learning_rate=0.01)
    assert float(fast.optimizer.learning_rate) == pytest.approx(0.01)
