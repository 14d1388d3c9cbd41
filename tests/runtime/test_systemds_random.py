"""SystemDS's seeded random streams (runtime/builtins/systemds_random.py). The conformance
programs builtin_rand_seeded_*.dml compare whole programs with SystemDS 3.4's output; these
tests pin the generators themselves."""

import numpy as np
import pytest

from kerasdml.runtime.builtins import systemds_random as sr
from kerasdml.runtime.api import run_string


def _run(text: str, name: str, precision: str = "double") -> np.ndarray:
    return run_string(text, outputs=[name], precision=precision)[name]


def test_java_random_first_outputs_for_seed_42():
    # Java's documented LCG: new Random(42).nextInt() is -1170105035, nextDouble() 0.7275636800328681
    ints = sr.JavaRandom(42)
    assert [ints.next_int(), ints.next_int()] == [-1170105035, 234785527]
    assert sr.JavaRandom(42).next_double() == 0.7275636800328681


def test_vectorized_doubles_continue_the_scalar_stream():
    scalar, vector = sr.JavaRandom(-7), sr.JavaRandom(-7)
    expected = [scalar.next_double() for _ in range(1000)]
    got = np.concatenate([vector.next_doubles(1), vector.next_doubles(999)])
    assert got.tolist() == expected
    assert vector.state == scalar.state


def test_bounded_int_and_long_follow_java():
    # values printed by Java 17: new Random(3).nextInt(10) five times, new Random(5).nextLong()
    random = sr.JavaRandom(3)
    assert [random.next_int(10) for _ in range(5)] == [4, 0, 0, 1, 8]
    assert sr.JavaRandom(5).next_long() == -4971030886054769832


def test_seeded_rand_gives_systemds_values():
    # SystemDS 3.4: toString(rand(rows=3, cols=4, seed=42), decimal=17), first row
    A = _run("A = rand(rows=3, cols=4, seed=42)", "A")
    assert A[0, :3].tolist() == [0.15115960081840563, 0.5928143554598188, 0.3930138394558711]
    assert f"{A[0, 3]:.17f}" == "0.02072981896937642"
    N = _run('N = rand(rows=3, cols=3, pdf="normal", seed=42)', "N")
    assert N[0].tolist() == [1.2232355135177786, -0.8001424573690376, 0.6368045428362976]


def test_seeded_rand_in_single_precision_is_the_double_stream_rounded():
    text = "A = rand(rows=40, cols=30, min=-2, max=3, sparsity=0.4, seed=11)"
    double, single = _run(text, "A"), _run(text, "A", precision="single")
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single, double.astype(np.float32))


def test_blocks_have_their_own_seeds():
    wide = sr.seeded_rand(2, 2500, 0.0, 1.0, 1.0, "uniform", 5)
    narrow = sr.seeded_rand(2, 1000, 0.0, 1.0, 1.0, "uniform", 5)
    np.testing.assert_array_equal(wide[:, :1000], narrow)    # the first block is the same
    assert not np.array_equal(wide[:, 1000:2000], narrow)


def test_a_whole_block_is_uniform_over_the_range():
    values = sr.seeded_rand(1000, 1000, 0.0, 1.0, 1.0, "uniform", 1)
    assert values.shape == (1000, 1000) and 0.49 < values.mean() < 0.51
    assert 0.0 <= values.min() < 1e-4 and 1 - 1e-4 < values.max() < 1.0


def _sample_one_by_one(population, count, replace, seed):
    random = sr.JavaRandom(seed)
    if replace:
        return [1 + sr._next_long_below(random, population) for _ in range(count)]
    drawn = list(range(1, count + 1))
    for value in range(count + 1, population + 1):
        if random.next_int(value) < count:
            drawn[random.next_int(count)] = value
    for i in range(count - 1):
        j = random.next_int(count - i) + i
        drawn[i], drawn[j] = drawn[j], drawn[i]
    return drawn


@pytest.mark.parametrize("population, count, replace, seed", [
    (20, 5, False, 3), (100000, 10, False, 7), (5000, 4999, False, 1), (1, 1, False, 4),
    (10, 0, False, 1), (20, 5, True, 3), (300000, 50, True, -9), (2 ** 40, 20, True, 5),
])
def test_bulk_sample_equals_drawing_one_at_a_time(population, count, replace, seed):
    got = sr.seeded_sample(population, count, replace, seed)
    assert got.tolist() == _sample_one_by_one(population, count, replace, seed)


def test_seeded_sample_gives_systemds_values():
    # SystemDS 3.4: sample(20, 5, FALSE, 3) and sample(20, 5, TRUE, 3)
    out = run_string("A = sample(20, 5, FALSE, 3)\nB = sample(20, 5, TRUE, 3)", outputs=["A", "B"])
    assert out["A"].ravel().tolist() == [3, 11, 18, 12, 4]
    assert out["B"].ravel().tolist() == [5, 3, 5, 13, 16]
