"""The native kernels (native/kernels.c and kernels_f64.c, built at install time) through ctypes.

They are optional: the library is missing when the install had no C compiler, and setting
KERASDML_NATIVE_KERNELS=0 turns it off; either way the numpy kernels do the work, and they
stay the reference the tests hold the native ones to. ctypes releases the GIL during each
call, so the kernel worker threads run native calls in parallel.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
from typing import Iterator

import numpy as np

NATIVE_VARIABLE = "KERASDML_NATIVE_KERNELS"
# the geometry structs of common.h, field by field
CONV_FIELDS = ("n", "Hp", "Wp", "C", "kh", "kw", "sh", "sw", "Ho", "Wo", "Fp", "F", "relu",
               "ph", "pw", "H", "W")
PAD_FIELDS = ("planes", "H", "W", "ph", "pw", "Hp", "Wp")
POOL_FIELDS = ("planes", "H", "W", "kh", "kw", "sh", "sw", "ph", "pw", "Ho", "Wo")
DEPTHWISE_FIELDS = ("planes", "first", "C", "H", "W", "M", "kh", "kw", "sh", "sw", "ph", "pw",
                    "Ho", "Wo")
CELLS_FIELDS = ("cells",)
SGD_FIELDS = ("cells", "momentum", "nesterov", "decay")
ADAM_FIELDS = ("cells", "decay")
RMSPROP_FIELDS = ("cells", "momentum", "decay")
# kernel -> (the geometry it takes, how many arrays come before it)
_KERNELS = {"conv_forward": (CONV_FIELDS, 4), "conv_backward_filter": (CONV_FIELDS, 3),
            "conv_forward_narrow": (CONV_FIELDS, 4),
            "conv_backward_filter_narrow": (CONV_FIELDS, 3),
            "sparse_conv_backward_filter": (CONV_FIELDS, 3),
            "sparse_conv_backward_data": (CONV_FIELDS, 3),
            "row_conv_forward": (CONV_FIELDS, 5), "row_conv_backward_filter": (CONV_FIELDS, 3),
            "max_pool": (POOL_FIELDS, 2), "max_pool_backward": (POOL_FIELDS, 4),
            "pad_planes": (PAD_FIELDS, 2),
            "avg_pool": (POOL_FIELDS, 2), "avg_pool_backward": (POOL_FIELDS, 2),
            "clamp": (CELLS_FIELDS, 3),
            "erf_forward": (CELLS_FIELDS, 2),
            "gelu_forward": (CELLS_FIELDS, 2), "gelu_backward": (CELLS_FIELDS, 3),
            "sgd_update": (SGD_FIELDS, 6), "adam_update": (ADAM_FIELDS, 8),
            "rmsprop_update": (RMSPROP_FIELDS, 8),
            "depthwise_forward": (DEPTHWISE_FIELDS, 4),
            "depthwise_backward_data": (DEPTHWISE_FIELDS, 3),
            "depthwise_backward_filter": (DEPTHWISE_FIELDS, 3)}
VECTOR_BYTES = 64                 # the kernels' vector width: weights are padded to it

_library: ctypes.CDLL | None | bool = None       # False: looked for, not there
_forced: bool | None = None                      # set by use(); None: the environment decides
# the versions of the filter-vectorised convolutions (typed_kernels.h): wide tiles for
# AVX-512's 32 registers, narrow ones for AVX2's 16
WIDE, NARROW = "wide", "narrow"
_forced_version: str | None = None               # set by use_version(); None: the CPU decides
# the library as a file, where the package is imported from a zip (Spark executors): Python
# cannot load an extension module from a zip, runtime/spark/shipped_files.py extracts it
SHIPPED_LIBRARY: str | None = None


def _load() -> ctypes.CDLL | None:
    global _library
    if _library is None:
        try:
            library = ctypes.CDLL(SHIPPED_LIBRARY or importlib.import_module(
                "kerasdml.runtime.local._kernels").__file__)
        except (ImportError, OSError):
            _library = False
        else:
            pointer = ctypes.c_void_p
            for name, (_, arrays) in _KERNELS.items():
                for suffix in ("f32", "f64"):
                    function = getattr(library, f"{name}_{suffix}")
                    function.argtypes = [pointer] * (arrays + 1)
                    function.restype = ctypes.c_int
            pointers, sizes = [pointer], [ctypes.c_long] * 4   # x, rows, cols, ld, step
            library.column_exact_sums_f64.argtypes = pointers + sizes + sizes[:1] + pointers
            library.column_exact_sums_f64.restype = None
            library.column_sums_f32.argtypes = pointers + sizes[:3] + pointers
            library.column_sums_f32.restype = None
            for probe in (library.wide_vector_registers, library.narrow_vector_registers):
                probe.argtypes = []
                probe.restype = ctypes.c_int
            _library = library
    return _library or None


def use_library_file(path: str) -> None:
    """Loads the kernels from this file (an extracted copy); forgets a failed earlier lookup."""
    global SHIPPED_LIBRARY, _library
    SHIPPED_LIBRARY = path
    if _library is False:
        _library = None


def available() -> bool:
    """The library was built and loads."""
    return _load() is not None


def enabled() -> bool:
    """Whether kernels should take the native path now."""
    if _forced is not None:
        return _forced and available()
    return os.environ.get(NATIVE_VARIABLE, "1") != "0" and available()


def convolution_version() -> str | None:
    """The version of the convolutions this CPU runs fast: WIDE (AVX-512), NARROW (AVX2 and
    FMA), or None (neither: the register tiles would spill, and im2col + BLAS is faster)."""
    if _forced_version is not None:
        return _forced_version
    library = _load()
    if library is None:
        return None
    if library.wide_vector_registers():
        return WIDE
    return NARROW if library.narrow_vector_registers() else None


def can_run(version: str) -> bool:
    """Whether this CPU can run that version at all (WIDE has a portable build, NARROW needs
    AVX2 and FMA)."""
    return available() and (version == WIDE or bool(_load().narrow_vector_registers()))


def convolutions_enabled() -> bool:
    """Whether the convolutions should take the native path now: where the CPU runs one of
    their versions fast, or when the native kernels are forced on (the tests check them on
    any CPU)."""
    return enabled() and (_forced is True or convolution_version() is not None)


@contextlib.contextmanager
def use_version(version: str) -> Iterator[None]:
    """Within the block, the convolutions run the given version (WIDE or NARROW; NARROW
    needs a CPU with AVX2 and FMA), whatever the CPU would pick (for the tests)."""
    global _forced_version
    previous, _forced_version = _forced_version, version
    try:
        yield
    finally:
        _forced_version = previous


def _versioned(name: str) -> str:
    return f"{name}_narrow" if convolution_version() == NARROW else name


def forced_on() -> bool:
    """Whether use(True) is in force: every native kernel runs where one exists."""
    return _forced is True and available()


@contextlib.contextmanager
def use(on: bool) -> Iterator[None]:
    """Within the block, the native kernels are on (if available) or off, whatever the
    environment says (the tests run the same checks both ways)."""
    global _forced
    previous, _forced = _forced, on
    try:
        yield
    finally:
        _forced = previous


def lanes(dtype) -> int:
    """Elements per vector: the padded width of weight and output rows is a multiple."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


def _pointer(array: np.ndarray | None) -> ctypes.c_void_p:
    """The array's data (C-contiguous), or NULL for None."""
    if array is None:
        return ctypes.c_void_p(None)
    assert array.flags.c_contiguous
    return ctypes.c_void_p(array.ctypes.data)


# what a kernel that may leave the work to another returns when it does (sparse_conv_kernels.h)
_DECLINED = 1


def _call(name: str, dtype, *arrays: np.ndarray, geometry: dict[str, int]) -> bool:
    """Runs the kernel; False when it declined the work (only the sparse kernels do)."""
    suffix = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(dtype)]
    g = np.array([geometry[field] for field in _KERNELS[name][0]], dtype=np.int64)
    status = getattr(_load(), f"{name}_{suffix}")(*map(_pointer, arrays), _pointer(g))
    if status == _DECLINED:
        return False
    if status != 0:
        raise MemoryError(f"native {name}: out of memory")
    return True


def conv_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, out: np.ndarray,
                 **geometry: int) -> None:
    """out (n x F x Ho*Wo) = the convolution of the padded chunk x (n x C x Hp x Wp) with
    w (K x Fp), plus bias (Fp values) unless it is None, through relu when geometry["relu"]."""
    _call(_versioned("conv_forward"), x.dtype, x, w, bias, out, geometry=geometry)


def conv_backward_filter(x: np.ndarray, dout: np.ndarray, dw: np.ndarray,
                         **geometry: int) -> None:
    """dw (K x Fp) += patches(x)^T @ dout (dout: n x F x Ho*Wo, DML's layout)."""
    _call(_versioned("conv_backward_filter"), x.dtype, x, dout, dw, geometry=geometry)


def sparse_conv_backward_filter(x: np.ndarray, dout: np.ndarray, dw: np.ndarray,
                                **geometry: int) -> bool:
    """conv_backward_filter's sum (dw: K x Fp, +=) over dout's nonzero values only, for the
    unpadded chunk x (n x C*H*W), bit for bit; False, nothing written, where dout is too
    dense for that to pay or a skipped factor is not finite."""
    return _call("sparse_conv_backward_filter", x.dtype, x, dout, dw, geometry=geometry)


def sparse_conv_backward_data(w: np.ndarray, dout: np.ndarray, dx: np.ndarray,
                              **geometry: int) -> bool:
    """dx (n x C*H*W) = the data gradient of a stride-1 convolution over dout's nonzero
    values only, bit for bit the flipped convolution's on conv_forward; w is F x kh x kw x
    Cp (channels last, zero past C, finite). False, nothing written, where dout is too dense
    for that to pay or the stride is not 1."""
    return _call("sparse_conv_backward_data", w.dtype, w, dout, dx, geometry=geometry)


def row_conv_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
                     out: np.ndarray | None, pooled: np.ndarray | None = None,
                     **geometry: int) -> None:
    """conv_forward vectorised along output rows (stride 1, few channels): x is n x C x Hp x
    Wp with Wp the row stride (zeros past the padded rows), w is F x K, bias F values; relu as
    conv_forward's. pooled, unless None, takes the result's 2 x 2 max pool of stride 2 (n x F
    x Ho/2*Wo/2), and out may then be None (only the pool is wanted)."""
    _call("row_conv_forward", x.dtype, x, w, bias, out, pooled, geometry=geometry)


def row_conv_backward_filter(x: np.ndarray, dout: np.ndarray, dw: np.ndarray,
                             **geometry: int) -> None:
    """dw (F x K) += the filter gradient, vectorised along output rows (x as row_conv_forward)."""
    _call("row_conv_backward_filter", x.dtype, x, dout, dw, geometry=geometry)


def pad_planes(x: np.ndarray, out: np.ndarray, **geometry: int) -> None:
    """out (planes x Hp x Wp) = the planes of x (planes x H x W) at row ph, column pw, zeros
    around them (pad_kernels.h)."""
    _call("pad_planes", x.dtype, x, out, geometry=geometry)


def max_pool(x: np.ndarray, out: np.ndarray, **geometry: int) -> None:
    """out = the maximum of each pool window of the planes of x (NaN propagates)."""
    _call("max_pool", x.dtype, x, out, geometry=geometry)


def max_pool_backward(x: np.ndarray, dout: np.ndarray, dx: np.ndarray,
                      signs: np.ndarray | None = None, **geometry: int) -> None:
    """dx = the max-pool gradient for the planes of x (SystemDS's first-maximum rule), times
    (signs > 0) when signs is given (the gradient of a relu before the pool)."""
    _call("max_pool_backward", x.dtype, x, dout, signs, dx, geometry=geometry)


def avg_pool(x: np.ndarray, out: np.ndarray, **geometry: int) -> None:
    """out = the mean of each pool window of the planes of x, padding counted as zeros
    (avg_pool_kernels.h)."""
    _call("avg_pool", x.dtype, x, out, geometry=geometry)


def avg_pool_backward(dout: np.ndarray, dx: np.ndarray, **geometry: int) -> None:
    """dx = the avg-pool gradient: each window's dout shared equally by its cells."""
    _call("avg_pool_backward", dout.dtype, dout, dx, geometry=geometry)


def clamp(x: np.ndarray, low, high, out: np.ndarray) -> None:
    """out = min(max(x, low), high), numpy's bits, for numbers low and high that are not NaN
    (clamp_kernels.h); out may be x."""
    bounds = np.array([low, high], dtype=x.dtype)     # numbers of x.dtype already
    _call("clamp", x.dtype, x, bounds, out, geometry={"cells": x.size})


def erf_forward(x: np.ndarray, out: np.ndarray) -> None:
    """out = erf(x), the C library's (gelu_kernels.h); out may be x."""
    _call("erf_forward", x.dtype, x, out, geometry={"cells": x.size})


def gelu_forward(x: np.ndarray, out: np.ndarray) -> None:
    """out = gelu(x), its exact form (gelu_kernels.h); out may be x."""
    _call("gelu_forward", x.dtype, x, out, geometry={"cells": x.size})


def gelu_backward(dout: np.ndarray, x: np.ndarray, dx: np.ndarray) -> None:
    """dx = dout * gelu'(x), its exact form; dx may be dout or x."""
    _call("gelu_backward", x.dtype, dout, x, dx, geometry={"cells": x.size})


def sgd_update(x, dx, v, x_out, v_out, numbers: np.ndarray, **flags: int) -> None:
    """sgd::update's cells (optimizer_kernels.h); numbers: lr, momentum, weight_decay as x's
    dtype; flags: momentum, nesterov, decay (0 or 1)."""
    _call("sgd_update", x.dtype, x, dx, v, x_out, v_out, numbers,
          geometry={"cells": x.size, **flags})


def adam_update(x, dx, m, v, x_out, m_out, v_out, numbers: np.ndarray, **flags: int) -> None:
    """adam::update's cells without amsgrad; numbers: lr, alpha, 1 - beta1, 1 - beta2,
    epsilon, weight_decay; flags: decay."""
    _call("adam_update", x.dtype, x, dx, m, v, x_out, m_out, v_out, numbers,
          geometry={"cells": x.size, **flags})


def rmsprop_update(x, dx, s, mom, x_out, s_out, mom_out, numbers: np.ndarray,
                   **flags: int) -> None:
    """rmsprop::update's cells without centering; numbers: lr, rho, 1 - rho, momentum,
    epsilon, weight_decay; flags: momentum, decay."""
    _call("rmsprop_update", x.dtype, x, dx, s, mom, x_out, s_out, mom_out, numbers,
          geometry={"cells": x.size, **flags})


def depthwise_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, out: np.ndarray,
                      **geometry: int) -> None:
    """out (planes*M output planes) = each plane of x convolved with its channel's M filters
    (w: C*M x kh*kw), plus bias (C*M values) unless it is None (depthwise_kernels.h)."""
    _call("depthwise_forward", x.dtype, x, w, bias, out, geometry=geometry)


def depthwise_backward_data(w: np.ndarray, dout: np.ndarray, dx: np.ndarray,
                            **geometry: int) -> None:
    """dx (the planes) = the depthwise convolution's gradient with respect to its input."""
    _call("depthwise_backward_data", w.dtype, w, dout, dx, geometry=geometry)


def depthwise_backward_filter(x: np.ndarray, dout: np.ndarray, dw: np.ndarray,
                              **geometry: int) -> None:
    """dw (C*M x kh*kw) += the depthwise convolution's filter gradient over the planes."""
    _call("depthwise_backward_filter", x.dtype, x, dout, dw, geometry=geometry)


def _rows_of(x: np.ndarray, dtype=np.float64) -> tuple[ctypes.c_void_p, int, int, int]:
    """x (of dtype, unit column stride) as pointer, rows, columns, row stride in elements."""
    assert x.dtype == dtype and x.ndim == 2 and x.strides[1] == x.itemsize
    return ctypes.c_void_p(x.ctypes.data), x.shape[0], x.shape[1], x.strides[0] // x.itemsize


def column_exact_sums(x: np.ndarray, step: int) -> np.ndarray:
    """The compensated column sums of a float64 x (1 x cols): aggregates.py's scheme, blocks
    of `step` rows at a time, with its bits."""
    sums = np.empty((1, x.shape[1]))
    _load().column_exact_sums_f64(*_rows_of(x), step, max(x.shape[0], 1).bit_length(),
                                  _pointer(sums))
    return sums


def column_sums_single(x: np.ndarray) -> np.ndarray:
    """The column sums of a float32 x, accumulated in float64 (1 x cols, float64)."""
    sums = np.empty((1, x.shape[1]))
    _load().column_sums_f32(*_rows_of(x, np.float32), _pointer(sums))
    return sums
