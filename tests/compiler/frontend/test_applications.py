"""keras.applications models end to end through the frontend (compile time is measured by
`bench/run.py compile`, not here)."""
from __future__ import annotations

import pytest

from support.keras_models import (assert_matches_keras, assert_params_are_keras_weights, keras, save,
                           compile_graph, perturb_statistics)


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3),
                                        classifier_activation=None)
    model = perturb_statistics(model)
    return model, save(model, tmp_path_factory.mktemp("resnet50"))


def test_resnet50(resnet50):
    model, path = resnet50
    graph = compile_graph(path)
    assert sum(p.value.size for _, p in graph.params()) == model.count_params()
    ops = [n.op for n in graph.nodes]
    assert ops.count("conv2d") == 53 and ops.count("add") == 16 and ops.count("batch_norm") == 53
    # ResNet pads with ZeroPadding2D: the one before conv1 is merged into its padding, the one
    # before the max pool stays (a max pool's padding is not zeros)
    padding = graph.node("conv1_conv").attrs.padding
    assert (padding.top, padding.bottom, padding.left, padding.right) == (3, 3, 3, 3)
    assert ops.count("zero_pad2d") == 1
    assert_params_are_keras_weights(graph, model)
    assert_matches_keras(graph, model, atol=1e-3)


def test_mobilenet_v2(tmp_path):
    keras.utils.set_random_seed(0)
    model = perturb_statistics(keras.applications.MobileNetV2(
        weights=None, input_shape=(64, 64, 3), classifier_activation=None))
    graph = compile_graph(save(model, tmp_path))
    relu6 = [n for n in graph.nodes if n.op == "activation" and n.attrs.max_value == 6.0]
    assert len(relu6) == 35
    assert sum(1 for n in graph.nodes if n.op == "depthwise_conv2d") == 17
    assert_matches_keras(graph, model, atol=1e-3)

