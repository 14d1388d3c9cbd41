"""The `paramserv` builtin: SystemDS's data-parallel parameter server (runtime/paramserv/)."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..values import is_matrix, type_name
from .registry import builtin


@builtin("paramserv", context=True, caller=True, distributed=True)
def paramserv(context, refs, model, features, labels, upd, agg, hyperparams=None,
              val_features=None, val_labels=None, val=None, **options):
    from ..paramserv.run import run_paramserv

    if not isinstance(model, DMLList):
        raise DMLRuntimeError(f"paramserv: model must be a list, got {type_name(model)}")
    if hyperparams is not None and not isinstance(hyperparams, DMLList):
        raise DMLRuntimeError(f"paramserv: hyperparams must be a list, got {type_name(hyperparams)}")
    for name, value in (("features", features), ("labels", labels), ("val_features", val_features),
                        ("val_labels", val_labels)):
        if value is not None and not is_matrix(value) and not hasattr(value, "shape"):
            raise DMLRuntimeError(f"paramserv: {name} must be a matrix, got {type_name(value)}")
    functions = (refs.find(upd, "paramserv's upd"), refs.find(agg, "paramserv's agg"),
                 refs.find(val, "paramserv's val") if val is not None else None)
    return run_paramserv(context, model, features, labels, functions, hyperparams,
                         (val_features, val_labels), options)
