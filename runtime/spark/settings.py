"""Reading one Spark setting of a running context."""
from __future__ import annotations


def setting(sc, key: str, default: str | None = None) -> str | None:
    """One Spark setting of the running context, read with one call into the JVM: getConf()
    copies every setting, a few hundred calls, tens of milliseconds on each run's start."""
    conf = getattr(sc, "_conf", None) or sc.getConf()
    return conf.get(key, default)
