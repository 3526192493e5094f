"""The k-d tree teacher's compaction of candidate points (kdtheory.teachers._lanes and the
plain loop of _nw_kernels) against a NumPy reference, bitwise, on random inputs."""

import pathlib
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st
from numba import njit

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _reference import compact_within, nw_predict_proba  # noqa: E402

from kdtheory.teachers import NadarayaWatsonTeacher, _lanes  # noqa: E402
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
    """The new entries equal the reference bitwise; nothing before ``count`` and nothing past
    the room the caller must leave (count + 8 * ceil(run / 8), see _lanes) is written."""
    xt, q, start, stop, reach2, box, count0 = run
    room = count0 + _lanes.WIDTH * -(-(stop - start) // _lanes.WIDTH)
    guard = 16
    cr2, cidx = np.full(room + guard, SENTINEL), np.full(room + guard, -7, np.int64)
    count = compact(q, xt, start, stop, reach2, cr2[:room], cidx[:room], count0, box)
    r2, index = compact_within(xt, q, start, stop, reach2, box)
    assert count == count0 + index.size
    assert np.array_equal(cr2[count0:count], r2)  # bitwise: the same sums in the same order
    assert np.array_equal(cidx[count0:count], index)
    assert np.all(cr2[:count0] == SENTINEL) and np.all(cidx[:count0] == -7)
    assert np.all(cr2[room:] == SENTINEL) and np.all(cidx[room:] == -7)


def _run_of(lanes):
    """The test's own run loop over one packing of the lanes (compact_run is the shipped one,
    fixed to the host's KIND)."""
    @njit
    def run(q, xt, start, stop, reach2, cr2, cidx, count, box):
        for s in range(start, stop, _lanes.WIDTH):
            count = lanes(xt, q, s, min(_lanes.WIDTH, stop - s), reach2, cr2, cidx, count, box)
        return count
    return run


_COMPRESS = _run_of(_lanes._compact_lanes(_lanes._compress))
_PERMUTE = _run_of(_lanes._compact_lanes(_lanes._permute))


@given(runs())
def test_vector_lanes_match_reference(run):
    """The shipped compact_run, whichever packing the host's KIND chose."""
    _check(_lanes.compact_run, run)


@given(runs())
def test_compress_lanes_match_reference(run):
    """The AVX-512 packing runs everywhere (without AVX-512 LLVM expands its compress)."""
    _check(_COMPRESS, run)


@pytest.mark.skipif(_lanes.KIND is None, reason="the AVX2 packing needs AVX2 (vpermps)")
@given(runs())
def test_permute_lanes_match_reference(run):
    """The AVX2 packing: a table of 16 permutations for each 4-lane half."""
    _check(_PERMUTE, run)


@given(runs())
def test_plain_loop_matches_reference(run):
    def loop(q, xt, start, stop, reach2, cr2, cidx, count, box):
        r2 = np.empty(max(stop - start, 1))  # the loop's own scratch
        return nwk._compact_loop(q, xt, start, stop, reach2, r2, cr2, cidx, count, box)
    _check(loop, run)


def test_lanes_flag_follows_the_compile_target():
    """KIND is avx512 where the target has AVX-512F (its compress instruction), else avx2
    where it has AVX2; LANES is on for either."""
    from numba.core.registry import cpu_target
    features = cpu_target.target_context.codegen()._get_host_cpu_features().split(",")
    expected = "avx512" if "+avx512f" in features else "avx2" if "+avx2" in features else None
    assert expected == _lanes.KIND
    assert (expected is not None) == _lanes.LANES


def test_block_leaves_room_for_the_lanes():
    """_compact's callers flush when count + _BLOCK would pass the buffer; that leaves room
    for the 8-lane stores only if _BLOCK is a multiple of the width."""
    assert nwk._BLOCK % _lanes.WIDTH == 0


def test_tree_flushes_mid_walk_match_brute_force():
    """Bandwidths putting about 8000 (cube, h > sqrt(5)/2) and 1190 (torus, h = 0.49) training
    points within reach of each query: the 1024-entry compaction buffer fills and is flushed
    mid-walk."""
    rng = np.random.default_rng(11)
    X, labels = rng.uniform(size=(8000, 5)), rng.integers(0, 3, 8000)
    Xq = np.vstack([rng.uniform(size=(150, 5)), X[:10]])
    for box in (None, 1.0):
        h = 1.2 if box is None else 0.49  # ball volume 5.26 h^5: 0.148 of the torus
        teacher = NadarayaWatsonTeacher(bandwidth=h, boxsize=box).fit(X, labels)
        assert teacher.index_.kind == nwk.TREE
        expected, _ = nw_predict_proba(X, labels, Xq, h, teacher.a_, "singular", n_classes=3,
                                       boxsize=box)
        np.testing.assert_allclose(teacher.predict_proba(Xq), expected, rtol=0, atol=1e-12)
