"""Plain functions and data the test areas share, importable as `support.<module>` (pytest puts
tests/ on the path): real Keras models built, randomised and saved (keras_models), the model zoo
(zoo_models), a numpy reference of the IR (ir_reference), calling one dml_lib function
(dml_call), the conformance runner (conformance), the LeNet forward script for Spark
(spark_lenet) and scoring rows (scoring_data).

They stay functions rather than fixtures because tests call them with arguments of their own
(a layer, a shape, a seed, a folder) and because parametrize lists are built from them when the
tests are collected (`ZOO`, the conformance `PROGRAMS`), before any fixture exists. What a test
needs set up for it is a fixture in a conftest.py: the shared local Spark (`spark`,
tests/conftest.py), the Spark runtime (tests/runtime/spark/conftest.py), the saved .keras models
of the spark.ml tests (tests/compiler/spark_ml/conftest.py), and the compile-and-compare-with-Keras
check bound to the test's tmp_path (`assert_predicts_like_keras`, tests/compiler/conftest.py).
Modules that need an optional package skip the tests that import them when it is missing
(pytest.importorskip); tests/test_optional_packages.py checks that the suite collects without
any of them."""
