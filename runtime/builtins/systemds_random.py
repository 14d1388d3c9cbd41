"""SystemDS's seeded random numbers, reproduced: the same seed gives the same matrix.

SystemDS 3.4 builds a seeded rand from three generators:

* java.util.Random (the 48-bit linear congruential generator of the Java API documentation:
  x -> (0x5DEECE66D * x + 0xB) mod 2^48, the seed scrambled with the multiplier);
* WELL1024a (Panneton, L'Ecuyer and Matsumoto, 2006), seeded with 32 nextInt() of a
  java.util.Random of the rand's seed; its nextLong() values are the seeds of the matrix's
  blocks (blen x blen cells, row-major block order);
* per block, a java.util.Random of the block's seed for the cell values and another one, seeded
  from its first value, that picks the nonzero cells when sparsity < 1.

Long streams of java.util.Random are computed at once with numpy: k steps of the generator are
x_k = A_k * x_0 + C_k (mod 2^48) for jump constants A_k, C_k computed once.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DMLRuntimeError

BLOCK_SIZE = 1000                     # SystemDS's default blen

_MULTIPLIER = 0x5DEECE66D
_ADDEND = 0xB
_MASK48 = (1 << 48) - 1
_MASK32 = 0xFFFFFFFF
_TWO_TO_MINUS_53 = 2.0 ** -53
_TABLE_LIMIT = 1 << 22                # jump constants kept in memory (64 MiB for both tables)


def _signed(value: int, bits: int) -> int:
    """The two's-complement value of the low `bits` bits (Java's int/long narrowing)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def java_double_to_long(value: float) -> int:
    """Java's (long) cast of a double: truncation toward zero, saturated, NaN -> 0."""
    if math.isnan(value):
        return 0
    if value >= 2.0 ** 63:
        return (1 << 63) - 1
    if value <= -2.0 ** 63:
        return -(1 << 63)
    return int(value)


# ---- java.util.Random -------------------------------------------------------------------------

class _JumpTable:
    """A_k and C_k (k = 1..n) with x_k = A_k * x_0 + C_k mod 2^48, grown by doubling on demand."""

    def __init__(self):
        self.multipliers = np.array([_MULTIPLIER], dtype=np.uint64)
        self.addends = np.array([_ADDEND], dtype=np.uint64)

    def upto(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        mask = np.uint64(_MASK48)
        while len(self.multipliers) < steps:
            a_m, c_m = self.multipliers[-1], self.addends[-1]
            # x_{m+j} = A_j (A_m x_0 + C_m) + C_j; uint64 products wrap mod 2^64, a multiple of 2^48
            more_a = (self.multipliers * a_m) & mask
            more_c = (self.multipliers * c_m + self.addends) & mask
            self.multipliers = np.concatenate([self.multipliers, more_a])
            self.addends = np.concatenate([self.addends, more_c])
        return self.multipliers[:steps], self.addends[:steps]


_JUMPS = _JumpTable()


class JavaRandom:
    """java.util.Random: the scalar methods SystemDS calls, and vectorized nextDouble streams."""

    def __init__(self, seed: int):
        self.set_seed(seed)

    def set_seed(self, seed: int) -> None:
        self.state = (seed ^ _MULTIPLIER) & _MASK48

    def next_bits(self, bits: int) -> int:
        self.state = (self.state * _MULTIPLIER + _ADDEND) & _MASK48
        return _signed(self.state >> (48 - bits), 32)

    def next_int(self, bound: int | None = None) -> int:
        if bound is None:
            return self.next_bits(32)
        if bound & (bound - 1) == 0:                    # a power of two: the high bits
            return (bound * self.next_bits(31)) >> 31
        while True:
            bits = self.next_bits(31)
            value = bits % bound
            if _signed(bits - value + bound - 1, 32) >= 0:   # Java's int overflow test
                return value

    def next_long(self) -> int:
        high = self.next_bits(32)
        return _signed((high << 32) + self.next_bits(32), 64)

    def next_double(self) -> float:
        return ((self.next_bits(26) << 27) + self.next_bits(27)) * _TWO_TO_MINUS_53

    def _states(self, steps: int) -> np.ndarray:
        """The next `steps` states (as uint64), advancing the generator past them."""
        pieces = []
        while steps > 0:
            count = min(steps, _TABLE_LIMIT)
            multipliers, addends = _JUMPS.upto(count)
            states = (multipliers * np.uint64(self.state) + addends) & np.uint64(_MASK48)
            self.state = int(states[-1])
            pieces.append(states)
            steps -= count
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def next_doubles(self, count: int) -> np.ndarray:
        """`count` successive nextDouble() values."""
        if count <= 0:
            return np.zeros(0)
        states = self._states(2 * count)
        high = states[0::2] >> np.uint64(22)            # next(26)
        low = states[1::2] >> np.uint64(21)             # next(27)
        return ((high << np.uint64(27)) + low).astype(np.float64) * _TWO_TO_MINUS_53


# ---- WELL1024a ----------------------------------------------------------------------------------

class Well1024a:
    """WELL1024a over 32 words of state (M1=3, M2=24, M3=10), seeded with 32 ints."""

    def __init__(self, seed_words: list[int]):
        self.words = [w & _MASK32 for w in seed_words]
        self.index = 0

    def next32(self) -> int:
        v, i = self.words, self.index
        previous = (i + 31) & 31
        v0, vm1, vm2, vm3 = v[i], v[(i + 3) & 31], v[(i + 24) & 31], v[(i + 10) & 31]
        z0 = v[previous]
        z1 = v0 ^ (vm1 ^ (vm1 >> 8))
        z2 = (vm2 ^ (vm2 << 19)) ^ (vm3 ^ (vm3 << 14))
        z2 &= _MASK32
        z3 = z1 ^ z2
        z4 = (z0 ^ (z0 << 11)) ^ (z1 ^ (z1 << 7)) ^ (z2 ^ (z2 << 13))
        z4 &= _MASK32
        v[i] = z3
        v[previous] = z4
        self.index = previous
        return z4

    def next_long(self) -> int:
        high = self.next32()
        return _signed((high << 32) | self.next32(), 64)


def block_seeds(seed: int, count: int) -> list[int]:
    """The seeds of a rand's first `count` blocks (row-major block order) for a DML seed."""
    seeder = JavaRandom(seed)
    well = Well1024a([seeder.next_int() for _ in range(32)])
    return [well.next_long() for _ in range(count)]


# ---- rand -------------------------------------------------------------------------------------

def _dense_size(rows: int, cols: int) -> int:
    """MatrixBlock's in-memory estimate of a dense block (without the shared header)."""
    return 64 + 32 + 8 * rows * cols


def _sparse_size(rows: int, cols: int, sparsity: float) -> int:
    """MatrixBlock's in-memory estimate of an MCSR sparse block (without the shared header)."""
    if sparsity == 0:
        return 0
    nnz = math.ceil(sparsity * rows * cols)
    row_objects = min(rows, nnz)
    per_row_nnz = max(4.0, nnz / row_objects)
    row_size = int(88 + 12 * max(1.0, per_row_nnz))
    return int(16 + 32 + 8.0 * rows + row_objects * row_size)


def _block_is_sparse(rows: int, cols: int, sparsity: float) -> bool:
    """Whether SystemDS generates this block with the skip-ahead sparse method."""
    nnz = int(sparsity * rows * cols)
    block_sparsity = nnz / rows / cols
    return (block_sparsity < 0.4 and cols > 1
            and _sparse_size(rows, cols, block_sparsity) < _dense_size(rows, cols))


class _UniformValues:
    """UniformPRNGenerator: nextDouble() of a java.util.Random."""

    def __init__(self, seed: int):
        self.random = JavaRandom(seed)

    def take(self, count: int) -> np.ndarray:
        return self.random.next_doubles(count)


def _rounded(function, values: np.ndarray) -> np.ndarray:
    """function(values) evaluated in extended precision and rounded to double: Java's Math.log,
    cos and sin are nearly correctly rounded, closer than numpy's double kernels."""
    return function(values.astype(np.longdouble)).astype(np.float64)


class _NormalValues:
    """NormalPRNGenerator: Box-Muller pairs (cos first, then sin) of two nextDouble()."""

    def __init__(self, seed: int):
        self.random = JavaRandom(seed)
        self.pending = np.zeros(0)

    def take(self, count: int) -> np.ndarray:
        missing = count - len(self.pending)
        if missing > 0:
            uniforms = self.random.next_doubles(2 * ((missing + 1) // 2))
            radius = np.sqrt(-2.0 * _rounded(np.log, uniforms[0::2]))
            angle = (2.0 * math.pi) * uniforms[1::2]
            pairs = np.empty(len(radius) * 2)
            pairs[0::2] = radius * _rounded(np.cos, angle)
            pairs[1::2] = radius * _rounded(np.sin, angle)
            self.pending = np.concatenate([self.pending, pairs])
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken


_VALUE_GENERATORS = {"uniform": _UniformValues, "normal": _NormalValues}


def _sparse_positions(picker: JavaRandom, cells: int, sparsity: float) -> np.ndarray:
    """The 0-based cells genSparse fills: geometric skips of ceil(log(u) / log(1 - sparsity))."""
    log_keep = math.log(1.0 - sparsity)
    found, position = [], 0
    chunk = max(16, int(cells * sparsity * 1.1) + 64)
    while position < cells:
        skips = np.ceil(np.log(picker.next_doubles(chunk)) / log_keep)
        skips = np.minimum(skips, float(cells + 1)).astype(np.int64)   # u == 0: skip past the end
        ends = position + np.cumsum(skips)
        inside = ends[ends <= cells]
        found.append(inside - 1)
        if len(inside) < len(ends):
            break
        position = int(ends[-1])
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _fill_block(out: np.ndarray, seed: int, kind: str, low: float, span: float,
                sparsity: float) -> None:
    values = _VALUE_GENERATORS[kind](seed)
    picker = JavaRandom(java_double_to_long(float(values.take(1)[0]) * 2.0 ** 63))
    rows, cols = out.shape
    cells = rows * cols
    if sparsity == 1.0:
        out[...] = (low + span * values.take(cells)).reshape(rows, cols)
        return
    if _block_is_sparse(rows, cols, sparsity):
        filled = _sparse_positions(picker, cells, sparsity)
    else:
        filled = np.flatnonzero(picker.next_doubles(cells) <= sparsity)
    flat = out.reshape(-1)
    flat[filled] = low + span * values.take(len(filled))


def seeded_rand(rows: int, cols: int, low: float, high: float, sparsity: float, kind: str,
                seed: int) -> np.ndarray:
    """SystemDS's rand(rows, cols, min, max, sparsity, pdf, seed) as float64 (uniform, normal)."""
    if kind != "uniform":
        low, high = 0.0, 1.0                 # SystemDS scales every pdf as min + (max - min) * v
    out = np.zeros((rows, cols))
    if sparsity == 0.0 or rows == 0 or cols == 0:
        return out
    if kind == "uniform":
        if low == 0.0 and high == 0.0:
            return out
        if sparsity == 1.0 and (low == high or (math.isnan(low) and math.isnan(high))):
            out[...] = low
            return out
    span = high - low
    block_rows, block_cols = -(-rows // BLOCK_SIZE), -(-cols // BLOCK_SIZE)
    seeds = block_seeds(seed, block_rows * block_cols)
    for index, block_seed in enumerate(seeds):
        r0 = (index // block_cols) * BLOCK_SIZE
        c0 = (index % block_cols) * BLOCK_SIZE
        block = out[r0:r0 + BLOCK_SIZE, c0:c0 + BLOCK_SIZE]
        if block.flags.c_contiguous:
            _fill_block(block, block_seed, kind, low, span, sparsity)
        else:
            filled = np.zeros(block.shape)
            _fill_block(filled, block_seed, kind, low, span, sparsity)
            block[...] = filled
    return out


# ---- sample -------------------------------------------------------------------------------------

def _next_long_below(random: JavaRandom, bound: int) -> int:
    """SystemDS's nextLong(r, n): a uniform long in [0, n) by rejection."""
    while True:
        bits = random.next_long() & ((1 << 63) - 1)
        value = bits % bound
        if _signed(bits - value + bound - 1, 64) >= 0:
            return value


def _with_replacement(random: JavaRandom, population: int, count: int) -> np.ndarray:
    """count values of 1 + nextLong(r, range), computed at once unless a draw is rejected."""
    before = random.state
    states = random._states(2 * count) if count else np.zeros(0, dtype=np.uint64)
    high = states[0::2] >> np.uint64(16)
    low = states[1::2] >> np.uint64(16)
    sign_extension = np.where(low >> np.uint64(31), np.uint64(0xFFFFFFFF00000000), np.uint64(0))
    bits = ((high << np.uint64(32)) + low + sign_extension) & np.uint64((1 << 63) - 1)
    bound = np.uint64(population)
    values = bits % bound
    rejected = (bits - values + np.uint64(population - 1)) >> np.uint64(63) != 0
    drawn = values.astype(np.float64) + 1.0
    if rejected.any():                  # rare: go on one draw at a time from the first rejection
        first = int(np.argmax(rejected))
        random.state = int(states[2 * first - 1]) if first else before
        for i in range(first, count):
            drawn[i] = 1 + _next_long_below(random, population)
    return drawn


def _bounded_ints(random: JavaRandom,
                  bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """nextInt(bound) for successive bounds, one draw each, where a draw would be rejected (that
    value and all after it are then invalid), and the states; the generator advances past all."""
    states = random._states(len(bounds))
    bits = (states >> np.uint64(17)).astype(np.int64)
    bounds = bounds.astype(np.int64)
    power_of_two = (bounds & (bounds - 1)) == 0
    values = np.where(power_of_two, (bounds * bits) >> 31, bits % bounds)
    rejected = ~power_of_two & (bits - values + bounds - 1 > 2 ** 31 - 1)
    return values, rejected, states


def seeded_sample(population: int, count: int, replace: bool, seed: int) -> np.ndarray:
    """SystemDS's sample(range, size, replace, seed) as float64 values 1..range: with replacement
    1 + nextLong(r, range) per value; without, reservoir sampling over 1..range and then a
    shuffle of the reservoir, all from one java.util.Random(seed)."""
    random = JavaRandom(seed)
    if replace:
        return _with_replacement(random, population, count)
    if population > 2 ** 31 - 1:
        raise DMLRuntimeError("sample: a seeded sample without replacement needs range below 2^31")
    if count == 0:
        return np.zeros(0)
    drawn = list(range(1, count + 1))
    value = count + 1
    while value <= population:                           # reservoir sampling
        # most steps draw once and keep nothing: find the next step that does more, in bulk;
        # a step keeps its value with odds count/value, a draw is rejected with odds ~value/2^31
        expected_gap = 1.0 / (count / value + value / 2.0 ** 31)
        chunk = min(population - value + 1, max(64, int(2 * expected_gap)))
        before = random.state
        picks, rejected, states = _bounded_ints(random, np.arange(value, value + chunk))
        special = np.flatnonzero(rejected | (picks < count))
        if len(special) == 0:
            value += chunk
            continue
        step = int(special[0])
        random.state = int(states[step - 1]) if step else before
        value += step
        if random.next_int(value) < count:
            drawn[random.next_int(count)] = value
        value += 1
    for i in range(count - 1):                           # then shuffle the reservoir
        j = random.next_int(count - i) + i
        drawn[i], drawn[j] = drawn[j], drawn[i]
    return np.array(drawn, dtype=np.float64)
