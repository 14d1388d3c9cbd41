"""`kerasdml compile`, `inspect` and `predict` (the compiler's subcommands) and `kerasdml run`
on what they write, called in-process through the console script's main."""
from __future__ import annotations

import os
import re

import h5py
import numpy as np
import pytest

from support.keras_models import keras, predict, randomize, save, sequential
from kerasdml.compiler.cli import main
from support.zoo_models import ZOO

L = keras.layers


@keras.saving.register_keras_serializable(package="clitest")
class Doubler(L.Layer):
    def call(self, x):
        return 2 * x


@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory):
    model = randomize(sequential(
        (8, 8, 3), L.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
        L.MaxPooling2D(2, name="pool"), L.Flatten(name="flat"),
        L.Dense(5, activation="softmax", name="classes"), name="cli_cnn"))
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 3)).astype("float32")
    return model, save(model, tmp_path_factory.mktemp("cnn")), x


def run_cli(capsys, *argv) -> tuple:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compile_writes_scripts_weights_and_summary(cnn_file, tmp_path, capsys):
    model, path, _ = cnn_file
    code, out, err = run_cli(capsys, "compile", path, "-o", tmp_path / "out")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == ["predict.dml", "summary.txt", "train.dml",
                                                   "weights.h5"]
    assert "cli_cnn" in out and "kerasdml run predict.dml" in out
    with h5py.File(tmp_path / "out" / "weights.h5") as f:
        assert sorted(f) == ["classes_W", "classes_b", "conv_W", "conv_b"]
        assert f["conv_W"].shape == (4, 27) and f["conv_W"].dtype == np.float64
    assert [n for n in os.listdir(tmp_path) if n != "out"] == []  # no temporary folder left


def test_run_on_the_compiled_predict_script_gives_keras_predictions(cnn_file, tmp_path, capsys,
                                                                   monkeypatch):
    model, path, x = cnn_file
    assert run_cli(capsys, "compile", path, "-o", tmp_path / "out")[0] == 0
    np.savetxt(tmp_path / "x.csv", x.reshape(len(x), -1), delimiter=",", fmt="%.9g")
    monkeypatch.chdir(tmp_path / "out")  # weights.h5 is found in the working folder
    code, _, err = run_cli(capsys, "run", "predict.dml", "-nvargs", f"X={tmp_path / 'x.csv'}",
                           f"Y={tmp_path / 'y.csv'}", "batch_size=4")
    assert code == 0, err
    got = np.loadtxt(tmp_path / "y.csv", delimiter=",")
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-5)


@pytest.mark.parametrize("script, files, message", [
    ("predict.dml", {"X": (6, 150)}, "X has 150 columns per row; expected 192 for the model's "
                                     "input 'input_layer' (shape (8, 8, 3) per sample)"),
    ("train.dml", {"X": (6, 192), "y": (6, 4)}, "y has 4 columns per row; expected 5 for the "
                                                "targets of 'classes' (shape (5,) per sample)"),
    ("train.dml", {"X": (6, 192), "y": (5, 5)}, "y has 5 rows but X has 6: one row per example "
                                                "in each"),
])
def test_the_generated_scripts_refuse_data_files_of_the_wrong_shape(cnn_file, tmp_path, capsys,
                                                                  monkeypatch, script, files,
                                                                  message):
    """A file of the wrong width (or a target file of other rows) is named where it is read,
    not met as a dimension mismatch inside a layer."""
    _, path, _ = cnn_file
    assert run_cli(capsys, "compile", path, "-o", tmp_path / "out")[0] == 0
    for name, shape in files.items():
        np.savetxt(tmp_path / f"{name}.csv", np.zeros(shape), delimiter=",")
    monkeypatch.chdir(tmp_path / "out")
    code, out, err = run_cli(capsys, "run", script, "-nvargs",
                             *[f"{name}={tmp_path / name}.csv" for name in files],
                             f"Y={tmp_path / 'out.csv'}", f"out={tmp_path / 'trained'}")
    # the input layer's name takes Keras' session counter (input_layer_96)
    pattern = re.escape(message).replace("input_layer", r"input_layer\w*")
    assert code != 0 and re.search(pattern, err), err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "trained").exists()


def test_compile_replaces_an_existing_folder(cnn_file, tmp_path, capsys):
    _, path, _ = cnn_file
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.txt").write_text("old")
    assert run_cli(capsys, "compile", path, "-o", tmp_path / "out")[0] == 0
    assert "stale.txt" not in os.listdir(tmp_path / "out")


def test_uncompiled_model_gets_no_train_script_without_a_loss(tmp_path, capsys):
    path = save(randomize(ZOO["mlp"]()), tmp_path)
    code, out, _ = run_cli(capsys, "compile", path, "-o", tmp_path / "a")
    assert code == 0 and "train.dml not written" in out and "pass loss=" in out
    assert not (tmp_path / "a" / "train.dml").exists()
    code, _, _ = run_cli(capsys, "compile", path, "--loss", "mse", "-o", tmp_path / "b")
    assert code == 0 and "mean_squared_error" in (tmp_path / "b" / "train.dml").read_text()


def _refused_models():
    x, image = keras.Input((4,)), keras.Input((4, 4, 3))
    return {
        "lambda": sequential((4,), L.Lambda(lambda t: t + 1, name="shift"), name="m_lambda"),
        "custom": keras.Model(x, Doubler(name="twice")(x), name="m_custom"),
        "attribute": sequential((6, 6, 2), L.Conv2DTranspose(2, 3, dilation_rate=2,
                                                             name="dilated"),
                                name="m_attr"),
        "backend": keras.Model(image, L.Flatten()(L.Concatenate(axis=1, name="rows")(
            [image, image])), name="m_rows"),
        "unknown": sequential((5, 3), L.Hashing(num_bins=3, name="bins"), name="m_bins"),
    }


REFUSALS = {"lambda": "'shift' (Lambda)", "custom": "'twice' (Doubler)",
            "attribute": "dilation_rate", "backend": "layer 'rows' (Concatenate): axis",
            "unknown": "'bins' (Hashing)"}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_model_exits_1_with_one_message_and_no_folder(case, tmp_path, capsys):
    path = save(_refused_models()[case], tmp_path)
    code, out, err = run_cli(capsys, "compile", path, "-o", tmp_path / "out")
    assert code == 1
    assert err.startswith("kerasdml compile: error: ") and REFUSALS[case] in err
    assert "Traceback" not in err and out == ""
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(path)]  # no OUTDIR, no temp


@pytest.mark.parametrize("content", [None, b"not a model"], ids=["missing", "corrupt"])
def test_bad_model_file_exits_1(content, tmp_path, capsys):
    path = tmp_path / "model.keras"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run_cli(capsys, "compile", path, "-o", tmp_path / "out")
    assert code == 1 and "model.keras" in err and not (tmp_path / "out").exists()


def test_inspect_prints_the_layer_table(cnn_file, capsys):
    _, path, _ = cnn_file
    code, out, _ = run_cli(capsys, "inspect", path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["layer", "class", "IR", "ops", "output", "shape", "params",
                                "supported"]
    conv = next(line for line in lines if line.startswith("conv "))
    assert "Conv2D" in conv and "conv2d + activation" in conv and "(8, 8, 4)" in conv
    assert "112" in conv and conv.rstrip().endswith("yes")
    assert lines[-1] == "5 layers, 437 parameters"


def test_inspect_says_why_a_layer_is_refused(tmp_path, capsys):
    path = save(_refused_models()["lambda"], tmp_path)
    code, out, _ = run_cli(capsys, "inspect", path)
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("shift"))
    assert "Lambda" in row and "no: a Lambda layer holds Python code" in row


@pytest.mark.parametrize("kind", ["predict", "train"])
def test_inspect_prints_a_script(kind, cnn_file, capsys):
    _, path, _ = cnn_file
    code, out, _ = run_cli(capsys, "inspect", path, "--script", kind)
    assert code == 0 and out.startswith("#---") and "conv2d::forward(" in out
    assert ("sgd::update(" in out) == (kind == "train")


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_predict_gives_model_predict(suffix, cnn_file, tmp_path, capsys):
    model, path, x = cnn_file
    source, target = tmp_path / f"x{suffix}", tmp_path / f"y{suffix}"
    if suffix == ".npy":
        np.save(source, x)
    else:
        np.savetxt(source, x.reshape(len(x), -1), delimiter=",", fmt="%.9g")
    code, _, err = run_cli(capsys, "predict", path, "--input", source, "--output", target,
                           "--batch-size", 4)
    assert code == 0, err
    got = np.load(target) if suffix == ".npy" else np.loadtxt(target, delimiter=",")
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-5)


def test_predict_of_an_image_model_returns_keras_shapes(tmp_path, capsys):
    model = randomize(ZOO["autoencoder"]())
    path = save(model, tmp_path)
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    assert run_cli(capsys, "predict", path, "--input", tmp_path / "x.npy", "--output",
                   tmp_path / "y.npy")[0] == 0
    got = np.load(tmp_path / "y.npy")
    assert got.shape == (3, *model.output_shape[1:]) and got.ndim == 4
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-5)


def test_predict_with_several_inputs_and_outputs(tmp_path, capsys):
    model = randomize(ZOO["multi_input"]())
    path = save(model, tmp_path)
    rng = np.random.default_rng(2)
    image, vector = rng.normal(size=(4, 6, 6, 2)), rng.normal(size=(4, 4))
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "vector.npy", vector)
    assert run_cli(capsys, "predict", path, "--input", tmp_path / "image.npy", "--input",
                   tmp_path / "vector.npy", "--output", tmp_path / "y.npy")[0] == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"),
                               predict(model, [image.astype("float32"),
                                               vector.astype("float32")])[0], atol=1e-5)


def test_predict_refuses_samples_of_the_wrong_shape(cnn_file, tmp_path, capsys):
    _, path, _ = cnn_file
    np.save(tmp_path / "x.npy", np.zeros((2, 7, 7, 3)))
    code, _, err = run_cli(capsys, "predict", path, "--input", tmp_path / "x.npy", "--output",
                           tmp_path / "y.npy")
    assert code == 1 and "do not fit the model's input shape (8, 8, 3)" in err
    assert not (tmp_path / "y.npy").exists()


def _write_input(folder, case):
    """A file (or folder) that `predict --input` cannot use, and the message expected."""
    if case == "empty_csv":
        (folder / "x.csv").write_text("")
        return folder / "x.csv", "x.csv: no samples in the file"
    if case == "no_rows":
        np.save(folder / "x.npy", np.zeros((0, 8, 8, 3)))
        return folder / "x.npy", "x.npy: no samples in the file"
    if case == "strings":
        np.save(folder / "x.npy", np.array([["a"] * 192]))
        return folder / "x.npy", "x.npy: holds values of type <U1; expected numbers"
    if case == "not_npy":
        (folder / "x.npy").write_text("1,2,3\n")
        return folder / "x.npy", "x.npy: cannot read samples: not a .npy file"
    if case == "empty_npy":
        (folder / "x.npy").write_bytes(b"")
        return folder / "x.npy", "x.npy: cannot read samples: the file is empty or cut off"
    (folder / "samples").mkdir()   # "folder": no parquet inside, so no Spark session starts
    (folder / "samples" / "x.npy").write_bytes(b"")
    return folder / "samples", "samples: a folder without parquet files"


@pytest.mark.parametrize("case", ["empty_csv", "no_rows", "strings", "not_npy", "empty_npy",
                                  "folder"])
def test_predict_refuses_unusable_input_files_by_name(case, cnn_file, tmp_path, capsys):
    _, path, _ = cnn_file
    source, expected = _write_input(tmp_path, case)
    code, _, err = run_cli(capsys, "predict", path, "--input", source, "--output",
                           tmp_path / "y.npy")
    assert code == 1 and expected in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y.npy").exists()


def test_predict_of_no_rows_from_python_is_one_clear_error(cnn_file):
    from kerasdml.compiler import compile_model
    _, path, _ = cnn_file
    with pytest.raises(ValueError, match="has no samples"):
        compile_model(path).predict(np.zeros((0, 8, 8, 3)))


def test_run_still_runs_dml(tmp_path, capsys):
    script = tmp_path / "hello.dml"
    script.write_text('x = 6 * 7\nprint("x = " + x)\n')
    code, out, _ = run_cli(capsys, "run", script)
    assert code == 0 and "x = 42" in out


@pytest.mark.slow
def test_predict_on_spark_gives_the_local_predictions(cnn_file, tmp_path):
    """`kerasdml predict --master local[2]` (its own Spark, in a subprocess): every operation
    on Spark, all rows in one distributed pass, the same result as the local runtime."""
    import subprocess
    import sys
    from pathlib import Path

    model, path, x = cnn_file
    source, local, spark = tmp_path / "x.npy", tmp_path / "local.npy", tmp_path / "spark.npy"
    np.save(source, x)
    command = [str(Path(sys.executable).with_name("kerasdml")), "predict", str(path), "--input", str(source)]
    subprocess.run(command + ["--output", str(local)], check=True, capture_output=True, timeout=300)
    result = subprocess.run(command + ["--output", str(spark), "--master", "local[2]", "--exec", "spark",
                                       "--conf", "spark.ui.enabled=false", "--explain"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(spark), np.load(local), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.load(spark), predict(model, [x])[0], atol=1e-5)
    on_spark = {line.split()[0] for line in result.stdout.splitlines() if "SPARK(" in line}
    assert {"conv2d", "bias_add", "max_pool", "%*%"} <= on_spark, result.stdout


@pytest.mark.parametrize("command", ["compile", "predict", "fit"])
def test_a_folder_that_cannot_be_created_is_named(command, cnn_file, tmp_path, capsys):
    model, path, _ = cnn_file
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    target = blocker / "out"
    np.save(tmp_path / "x.npy", np.zeros((2, *model.input_shape[1:]), "float32"))
    np.savez(tmp_path / "train.npz", x=np.zeros((2, *model.input_shape[1:]), "float32"),
             y=np.zeros((2, *model.output_shape[1:]), "float32"))
    argv = {"compile": ["compile", path, "-o", target],
            "predict": ["predict", path, "--input", tmp_path / "x.npy", "--output",
                        target / "y.npy"],
            "fit": ["fit", path, "--data", tmp_path / "train.npz", "--loss", "mse", "--quiet",
                    "-o", target / "m.keras"]}[command]
    code, _, err = run_cli(capsys, *argv)
    assert code == 1, err
    assert err.strip() == (f"kerasdml {command}: error: cannot create the folder {target}: "
                           "Not a directory")


def test_version_names_the_installed_version(capsys):
    from importlib.metadata import version
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"kerasdml {version('kerasdml')}"


def test_the_demo_loads_keras_without_tensorflows_start_up_lines():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", "from kerasdml.compiler.demo import "
                           "keras_module; keras_module()"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "oneDNN" not in done.stderr and "cuda" not in done.stderr
