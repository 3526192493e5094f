"""The k-d tree teacher's compaction of candidate points (kdtheory.teachers._lanes and the
plain loop of _nw_kernels) against a NumPy reference, bitwise, on random inputs."""

import pathlib
import sys

import numpy as np
from hypothesis import given, strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _reference import compact_within  # noqa: E402

from kdtheory.teachers import _lanes  # noqa: E402
from kdtheory.teachers import _nw_kernels as nwk  # noqa: E402

SENTINEL = -7.0


@st.composite
def runs(draw):
    """Points in [0, L)^d (some within 1e-9 of the faces), a query, a run [start, stop) of them,
    a radius equal to one of the run's own distances (the <= boundary) or a quantile, and a
    count of entries already in the buffers."""
    d, n = draw(st.integers(1, 6)), draw(st.integers(1, 40))
    box = draw(st.sampled_from([None, 1.0, 2.5]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    L = 1.0 if box is None else box
    xt = rng.uniform(0, L, size=(d, n))
    near_face = rng.random((d, n)) < 0.2
    xt[near_face] = rng.choice([0.0, 1e-9, L - 1e-9], size=near_face.sum())
    q = rng.uniform(0, L, size=d)
    start = draw(st.integers(0, n - 1))
    stop = draw(st.integers(start, n))
    r2, _ = compact_within(xt, q, 0, n, np.inf, box)
    reach2 = r2[draw(st.integers(0, n - 1))] if draw(st.booleans()) else \
        float(np.quantile(r2, draw(st.floats(0, 1)))) * draw(st.sampled_from([0.0, 1.0, 2.0]))
    return xt, q, start, stop, reach2, box, draw(st.integers(0, 5))


def _check(compact, run):
    xt, q, start, stop, reach2, box, count0 = run
    size = count0 + (stop - start) + _lanes.WIDTH  # room for the 8-lane stores
    cr2, cidx = np.full(size, SENTINEL), np.full(size, -7, np.int64)
    count = compact(q, xt, start, stop, reach2, cr2, cidx, count0, box)
    r2, index = compact_within(xt, q, start, stop, reach2, box)
    assert count == count0 + index.size
    assert np.array_equal(cr2[count0:count], r2)  # bitwise: the same sums in the same order
    assert np.array_equal(cidx[count0:count], index)
    assert np.all(cr2[:count0] == SENTINEL) and np.all(cidx[:count0] == -7)


@given(runs())
def test_vector_lanes_match_reference(run):
    """compact_lanes runs everywhere (on CPUs without AVX-512 LLVM expands its compress)."""
    _check(_lanes.compact_run, run)


@given(runs())
def test_plain_loop_matches_reference(run):
    def loop(q, xt, start, stop, reach2, cr2, cidx, count, box):
        r2 = np.empty(max(stop - start, 1))
        return nwk._compact_loop(q, xt, start, stop, reach2, r2, cr2, cidx, count, box)
    _check(loop, run)


def test_lanes_flag_follows_the_compile_target():
    """LANES is on exactly where the target has AVX-512F (its compress instruction)."""
    from numba.core.registry import cpu_target
    features = cpu_target.target_context.codegen()._get_host_cpu_features()
    assert ("+avx512f" in features.split(",")) == _lanes.LANES
