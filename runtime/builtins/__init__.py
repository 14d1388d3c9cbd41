"""DML's builtin functions, one module per family; importing this package registers them all."""
from . import (aggregates, casts, construct, dnn, elementwise, io, lists, output,  # noqa: F401
               paramserv, reorg)
from .registry import BUILTINS, Builtin, builtin  # noqa: F401
