"""Keras models -> DML: `compile_model(path_or_model)` gives a CompiledModel (scripts, weights in
DML layout, and the description of its inputs, outputs and parameters); `Keras2DML` trains,
predicts and scores a model with them, scikit-learn style.

Both load on first use, so that the console script (launch.py) can choose the BLAS threads
before anything imports numpy.
"""
from __future__ import annotations

__all__ = ["compile_model", "Keras2DML"]

# systemml.mllearn's other estimators: a notebook ported by its import line learns at the import
# that they are not here (an AttributeError would become Python's bare "cannot import name")
SYSTEMML_ONLY = ("LogisticRegression", "LinearRegression", "SVM", "NaiveBayes", "Caffe2DML")


def __getattr__(name: str):
    if name == "compile_model":
        from .compile import compile_model
        return compile_model
    if name == "Keras2DML":
        from .estimator import Keras2DML
        return Keras2DML
    if name in SYSTEMML_ONLY:
        instead = ("write the network in Keras and train it with Keras2DML" if name == "Caffe2DML"
                   else "use scikit-learn's estimator of that kind")
        raise ImportError(f"kerasdml provides SystemML's Keras2DML only, not systemml.mllearn's "
                          f"{name}: keep SystemML for it or {instead} (`from systemml.mllearn "
                          "import Keras2DML` becomes `from kerasdml.compiler import Keras2DML`)",
                          name=name, path=__file__)
    raise AttributeError(f"module 'kerasdml.compiler' has no attribute {name!r}")
