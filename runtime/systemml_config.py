"""SystemML's configuration properties (`setConfigProperty`, a `SystemML-config.xml` file): which
kerasdml honours, which it takes without effect, and which it does not know.

Honoured: `sysml.floating.point.precision` (`double` or `single`: the precision scripts run in).
The `sysml.gpu.*` properties are taken with the note that kerasdml has no GPU backend. The other
names SystemML 1.2 defines tune its own compiler, buffer pool, YARN and MapReduce jobs; they are
kept as given and change nothing (kerasdml's Spark tuning is `spark.kerasdml.*`)."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from .errors import DMLRuntimeError

PRECISION = "sysml.floating.point.precision"
PRECISIONS = {"double": "double", "single": "single", "float": "single"}  # SystemML's names
GPU_PREFIX = "sysml.gpu."
NO_GPU = ("kerasdml has no GPU backend: it runs on the CPU (numpy and its native kernels, or "
          "Spark); {name} is ignored")

# The rest of SystemML 1.2's DMLConfig names.
NO_EFFECT = (
    "sysml.localtmpdir", "sysml.scratch", "sysml.optlevel", "sysml.numreducers", "sysml.jvmreuse",
    "sysml.defaultblocksize", "sysml.yarn.appmaster", "sysml.yarn.appmaster.mem",
    "sysml.yarn.mapreduce.mem", "sysml.yarn.app.queue", "sysml.cp.parallel.ops",
    "sysml.cp.parallel.io", "sysml.compressed.linalg", "sysml.native.blas",
    "sysml.native.blas.directory", "sysml.codegen.enabled", "sysml.codegen.compiler",
    "sysml.codegen.optimizer", "sysml.codegen.plancache", "sysml.codegen.literals",
    "sysml.stats.finegrained", "sysml.stats.maxWrapLength", "sysml.stats.extraGPU",
    "sysml.stats.extraDNN")
# SystemML passed settings with these prefixes on to its MapReduce jobs.
NO_EFFECT_PREFIXES = ("mapred.", "mapreduce.")


def precision_of(value) -> str:
    """"double" or "single" for a value of sysml.floating.point.precision."""
    precision = PRECISIONS.get(str(value).strip().lower())
    if precision is None:
        raise ValueError(f"{PRECISION} must be double or single, got {value!r}")
    return precision


def is_gpu_property(name: str) -> bool:
    return name.startswith(GPU_PREFIX)


class SystemMLConfig:
    """The properties set so far, by name (values as strings, as SystemML keeps them)."""

    def __init__(self):
        self.properties: dict[str, str] = {}

    def set(self, name, value) -> None:
        name, text = str(name), str(value).strip()
        if name == PRECISION:
            text = precision_of(value)
        elif not (is_gpu_property(name) or name in NO_EFFECT or name.startswith(NO_EFFECT_PREFIXES)):
            raise ValueError(f"{name!r} is not a SystemML configuration property kerasdml knows; "
                             f"known: {PRECISION}, {GPU_PREFIX}*, " + ", ".join(NO_EFFECT))
        self.properties[name] = text

    def load(self, path) -> list[str]:
        """Sets every property of a SystemML-config.xml (`<root><name>value</name>...</root>`);
        returns their names in file order."""
        try:
            root = ElementTree.parse(Path(path)).getroot()
        except OSError as err:
            raise DMLRuntimeError(f"cannot read SystemML config file {path}: {err.strerror}") from None
        except ElementTree.ParseError as err:
            raise DMLRuntimeError(f"SystemML config file {path} is not valid XML: {err}") from None
        names = []
        for element in root:  # the parser leaves comments out
            try:
                self.set(element.tag, element.text or "")
            except ValueError as err:
                raise DMLRuntimeError(f"SystemML config file {path}: {err}") from None
            names.append(element.tag)
        return names

    def reset(self) -> None:
        self.properties.clear()

    @property
    def precision(self) -> str:
        return self.properties.get(PRECISION, "double")
