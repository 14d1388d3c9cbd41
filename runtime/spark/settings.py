"""Reading one Spark setting of a running context."""
from __future__ import annotations

import threading
import weakref

# context -> {key: value}: a running context's settings do not change (Spark clones the
# SparkConf it starts with), and each read is a call into the JVM, a millisecond or two: the
# estimator's paramserv epochs read a dozen of them at the start of every epoch.
_READ: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_MISSING = object()


def setting(sc, key: str, default: str | None = None) -> str | None:
    """One Spark setting of the running context, read from the JVM once per context and key:
    getConf() copies every setting, a few hundred calls, tens of milliseconds on each run's
    start."""
    with _LOCK:
        known = _READ.setdefault(sc, {})
        value = known.get(key, _MISSING)
    if value is _MISSING:
        conf = getattr(sc, "_conf", None) or sc.getConf()
        value = conf.get(key, None)
        with _LOCK:
            known[key] = value
    return default if value is None else value
