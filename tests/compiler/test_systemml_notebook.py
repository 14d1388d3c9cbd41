"""SystemML's Keras2DML MNIST notebook (examples/systemml_notebook.py) runs with only its import
line changed: locally (spark = None) and with a SparkSession, on a slice of MNIST."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from support.keras_models import keras  # noqa: F401  (skips without Keras)
from kerasdml.compiler.datasets import load_mnist, load_mnist_subset

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def notebook():
    spec = importlib.util.spec_from_file_location("systemml_notebook",
                                                  ROOT / "examples" / "systemml_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_notebook(tmp_path, monkeypatch, spark, train: int, test: int, epochs: int):
    monkeypatch.chdir(tmp_path)
    (x_train, y_train), (x_test, y_test) = load_mnist(MNIST) if MNIST.is_file() \
        else load_mnist_subset()
    module = notebook()
    assert all(module.SYSTEMML_IMPORT_LINE in cell or "Keras2DML" not in cell
               for cell in module.CELLS)
    return module.run_cells({"x_train": x_train[:train], "y_train": y_train[:train],
                             "x_test": x_test[:test], "y_test": y_test[:test],
                             "epochs": epochs, "precision": "single", "spark": spark})


def check(cells, capsys, iterations: int):
    err = capsys.readouterr().err
    assert "not compiled in Keras" in err                     # the guide's model is uncompiled
    displayed = [line for line in err.splitlines() if line.startswith("step ")]
    assert [line.split(" ")[1] for line in displayed] == \
        [f"{k}/{iterations}" for k in range(10, iterations + 1, 10)]   # display=10
    model = cells["sysml_model"]
    predicted = model.predict(cells["X_test"])
    assert cells["accuracy"] == pytest.approx(np.mean(predicted == cells["y_test"]))
    assert (Path("weights_dir") / "weights.h5").is_file()


def test_the_notebook_runs_locally(tmp_path, monkeypatch, capsys):
    cells = run_notebook(tmp_path, monkeypatch, None, train=600, test=500, epochs=2)
    check(cells, capsys, iterations=12)
    assert cells["accuracy"] > 0.2                            # chance is 0.1


@pytest.mark.slow
def test_the_notebook_runs_with_a_spark_session(spark, tmp_path, monkeypatch, capsys):
    cells = run_notebook(tmp_path, monkeypatch, spark, train=300, test=200, epochs=1)
    check(cells, capsys, iterations=3)
    assert cells["sysml_model"].spark is spark


def test_the_guide_s_channels_first_lenet_runs(tmp_path, monkeypatch, capsys):
    """The later guide sets Keras' image format to channels_first before building the LeNet
    (every layer, Flatten too, then takes channels first images); the rest is unchanged."""
    module = notebook()
    model_cell = next(cell for cell in module.CELLS if "keras_model = Sequential()" in cell)
    first = model_cell.replace("from keras import backend as K\n",
                               "from keras import backend as K\n"
                               "K.set_image_data_format('channels_first')\n")
    monkeypatch.setattr(module, "CELLS", [first if c is model_cell else c for c in module.CELLS])
    monkeypatch.chdir(tmp_path)
    (x_train, y_train), (x_test, y_test) = load_mnist(MNIST) if MNIST.is_file() \
        else load_mnist_subset()
    from keras import backend
    try:
        cells = module.run_cells({"x_train": x_train[:600], "y_train": y_train[:600],
                                  "x_test": x_test[:500], "y_test": y_test[:500], "epochs": 2,
                                  "precision": "single", "spark": None})
        assert cells["keras_model"].layers[2].data_format == "channels_first"   # Flatten's
    finally:
        backend.set_image_data_format("channels_last")
    check(cells, capsys, iterations=12)
    assert cells["accuracy"] > 0.2

