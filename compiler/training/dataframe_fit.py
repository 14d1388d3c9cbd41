"""Keras2DML's Spark DataFrame methods: fit(df), predict(df), score(df).

fit(df) reads `features_col` and `label_col` into distributed matrices on the executors
(dataframe_data.py) and binds them to train.dml as they are: paramserv hands them to its
workers, minibatch reads one batch at a time (each epoch's shuffle is a distributed
permutation of the rows, done before the script runs, so the script's own shuffle, which
gathers the data, is off). The Spark runtime the training runs through is kept for the fit,
so what it collected to the driver (`runtime.collected`) can be read afterwards.
"""
from __future__ import annotations

import secrets

import numpy as np

from kerasdml.runtime.api import is_spark_dataframe
from kerasdml.runtime.values import MatrixHandle

from .data import DataError, class_ids, r2_score
from .dataframe_data import check_algo, columns_of, training_matrices


class DataFrameMethods:
    """Mixed into Keras2DML (which provides model, spark, precision, features_col, ...)."""

    def spark_runtime(self):
        """The Spark runtime fit and predict run through (None without Spark): the one given
        as spark=, or one made for the session (or the training DataFrame's session)."""
        from kerasdml.runtime.spark.runtime import SparkRuntime

        session = self.spark if self.spark is not None else getattr(self, "_data_session", None)
        if session is None or isinstance(session, SparkRuntime):
            return session
        key = (id(session), self.precision)
        if getattr(self, "_runtime_key", None) != key:
            from kerasdml.runtime.spark.session import spark_runtime
            self._runtime, self._runtime_key = spark_runtime(session, self.precision), key
        return self._runtime

    def _dataframe_data(self, model, df, y, validation_data):
        """((X, y), held_out) as distributed matrices, validation from a DataFrame too."""
        from kerasdml.runtime.spark.arrow_columns import RowInputError

        if y is not None:
            raise DataError("fit(df) reads the labels from the DataFrame's label_col "
                            f"({self.label_col!r}); give no y")
        if self.validation_split:
            raise DataError("validation_split takes the last rows of numpy data; with a "
                            "DataFrame give validation_data=df_val (e.g. from df.randomSplit)")
        check_algo(self.train_algo)
        self._data_session = df.sparkSession
        runtime = self.spark_runtime()
        try:
            X, y = self._matrices(runtime, model, df)
            train = [X], y      # one matrix per model input, as the numpy path has it
            held_out = None
            if validation_data is not None:
                if not is_spark_dataframe(validation_data):
                    raise DataError("with a DataFrame to train on, validation_data is a "
                                    "DataFrame with the same columns")
                X_val, y_val = self._matrices(runtime, model, validation_data)
                held_out = [X_val], y_val
        except RowInputError as err:
            raise DataError(str(err)) from None
        return train, held_out

    def _matrices(self, runtime, model, df):
        dtype = np.float32 if self.precision == "single" else np.float64
        df, features_col, first_class = self._training_frame(model, df)
        return training_matrices(runtime, df, model, features_col, self.label_col, dtype,
                                 first_class)

    def _training_frame(self, model, df):
        """(df, its features column(s), the number of its first class); SystemML's form
        overrides it with its own conventions (compiler/systemml/frames.py)."""
        return df, self.features_col, 0

    def _features_frame(self, df):
        """df's features as one array<double> column (the per-partition scoring input)."""
        from kerasdml.runtime.spark.dataframes import as_array_column

        return df.select(as_array_column(df, columns_of(self.features_col), "features"))

    def _predicted(self, model, weights: dict, X):
        """The model's outputs (N x K numpy) for features X: numpy, or a distributed matrix,
        scored panel by panel on the executors where it lives (only the outputs come back)."""
        if not isinstance(X[0], MatrixHandle):
            predictions = model.predict_arrays(X, weights=weights, **self._run_options())
            return np.hstack([p.reshape(len(p), -1) for p in predictions])
        from kerasdml.runtime.spark.row_program import run_on_matrix

        from ..spark_ml.scoring import row_program

        program = row_program(model, precision=self.precision, weights=weights)
        runtime = self.spark_runtime()
        return runtime.collect(runtime.guarded(run_on_matrix, program, X[0]))

    def _epoch_order(self, X, y, epoch: int):
        """(X, y, whether train.dml shuffles): distributed data is shuffled here."""
        distributed = isinstance(y, MatrixHandle)
        if not distributed or not self.shuffle or self.train_algo == "paramserv":
            return X, y, bool(self.shuffle)
        from kerasdml.runtime.spark.row_scatter import shuffled_rows

        seed = secrets.randbelow(2**31) if self.seed is None else int(self.seed) + epoch
        matrices = self.spark_runtime().guarded(shuffled_rows, [X[0], y], seed)
        return [matrices[0]], matrices[1], False

    def _collected(self, y):
        """Labels as numpy (validation: K values per row reach the driver, not the features)."""
        return self.spark_runtime().collect(y) if isinstance(y, MatrixHandle) else y

    def _predict_frame(self, df):
        """The DataFrame predict scores: its features column(s) when it has them."""
        present = set(df.columns)
        if set(columns_of(self.features_col)) <= present:
            return self._features_frame(df)
        return df

    def _score_dataframe(self, df) -> float:
        """Accuracy (classifiers) or R^2 of the model on df's features and labels, the
        outputs computed where the rows are (predictions and labels reach the driver)."""
        from kerasdml.runtime.spark.arrow_columns import RowInputError

        model = self._fitted()
        try:
            X, y = self._matrices(self.spark_runtime(), model, df)
        except RowInputError as err:
            raise DataError(str(err)) from None
        predicted = self._predicted(model, self.weights_, [X])
        truth = self._collected(y)
        if not self.is_classifier():
            return r2_score(truth, predicted)
        classes = truth.ravel() if truth.shape[1] == 1 else truth.argmax(axis=1)
        return float(np.mean(class_ids(predicted) == classes))
