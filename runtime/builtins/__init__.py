"""DML's builtin functions, one module per family; importing this package registers them all."""
from . import (aggregates, casts, construct, distinct, distributions, dnn, elementwise, io,  # noqa: F401
               linalg, lists, output, paramserv, reorg, script_builtins, statistics)
from .registry import BUILTINS, Builtin, builtin  # noqa: F401
