"""Helpers the test areas share: real Keras models built, randomised and saved (keras_models),
the model zoo (zoo_models), a numpy reference of the IR (ir_reference), calling one dml_lib
function (dml_call), the conformance runner (conformance) and the LeNet forward script for Spark
(spark_lenet). Modules that need an optional package skip the tests that import them when it is
missing (pytest.importorskip)."""
