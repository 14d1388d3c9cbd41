"""SystemML's Keras2DML interface on kerasdml's estimator: its constructor arguments (form.py),
its Caffe solver settings (solver.py), its data conventions (data.py) and its other methods
(methods.py)."""
