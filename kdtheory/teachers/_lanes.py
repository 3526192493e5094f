r"""Eight points at a time: the squared distances and the compaction of the k-d tree teacher's
candidate points, as packed vector code (docs/theory.md §5.2). Private; no random numbers.

:func:`compact_lanes` does, for the points j = s, ..., s + length - 1 of a run (length <= 8),

.. math:: r_j^2 = \sum_{c=0}^{d-1} t_{cj}^2, \qquad t_{cj} = x_{cj} - q_c \ \text{(Euclidean)}
          \quad\text{or}\quad \min(|x_{cj} - q_c|,\ L - |x_{cj} - q_c|) \ \text{(torus)},

summed over c in increasing order from 0, as :func:`_nw_kernels._sq_dists` does, so every
:math:`r_j^2` is bitwise the same; it then appends the :math:`(r_j^2, j)` with
:math:`r_j^2 \le` ``reach2`` to ``cr2[count:]`` and ``cidx[count:]``, in order, and returns the
new count.

Why vector IR by hand. Numba's own loops (:func:`_nw_kernels._compact_loop`: the distances,
then a branch-free compaction) cost about 80-90 ns per call plus 1.1 ns per point (d = 5,
Euclidean, on an AVX-512 machine; a line through bench_lanes.py's 8- and 128-point rows), and
the tree scans runs of 109-138 points on average, many shorter; this costs about 4 ns per call
plus 0.7 ns per point there (``benchmarks/bench_lanes.py``, RESULTS.md). It is one 8-lane
operation per coordinate (masked loads for the lanes of the run), then the lanes within reach
are packed to the front and stored, written as LLVM IR through
:func:`numba.extending.intrinsic`. How they are packed depends on the compile target
(:data:`KIND`):

- ``"avx512"``: ``llvm.experimental.vector.compress`` (LLVM >= 19, so numba >= 0.62), one
  instruction, and a full 8-lane store (:func:`_compress`);
- ``"avx2"``: no compress instruction (LLVM would expand it lane by lane, measured 1.7-1.9x
  slower than the plain loop at runs of 64-128 points). Instead each 4-lane half's mask picks
  one of 16 permutations from a table, ``vpermps`` applies it, and a 4-lane store follows
  (:func:`_permute`; the left-packing by table lookup is a standard AVX2 technique). It
  costs 1.5-2.5 ns per point on a Zen 3, against 2.0-2.2 ns for the loop at runs of 64-128
  points and 4-9 ns at runs of 8-16 (bench_lanes.py, RESULTS.md);
- ``None`` (no AVX2, or not x86): :data:`LANES` is false and the kernels keep the plain loop.

Either way ``1 <= length <= 8``, and ``cr2`` and ``cidx`` need room for 8 entries from
``count``: :func:`compact_run` over [start, stop) needs
``count + 8 * ceil((stop - start) / 8)``.

Numba's on-disk cache of a function is keyed on its own source file only: after editing this
file, delete the ``__pycache__`` of this package (or touch ``_nw_kernels.py``), or the cached
kernels that call it keep the old code.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.core.codegen import get_host_cpu_features
from numba.extending import intrinsic

WIDTH = 8  # lanes: one 512-bit vector of float64 (two 256-bit ones on AVX2)

# the features Numba compiles for: NUMBA_CPU_FEATURES, else the host's (less AVX if
# NUMBA_ENABLE_AVX=0), as in numba.core.codegen.JITCPUCodegen
_features = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
_features = _features.split(",")
KIND = "avx512" if "+avx512f" in _features else "avx2" if "+avx2" in _features else None
LANES = KIND is not None


def _splat(builder, value, vty):
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), value,
                               ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), WIDTH), [0] * WIDTH))


def _declare(builder, name, ret, args):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), name)


def _is_array(t, dtype, ndim, layout=None):
    return (isinstance(t, types.Array) and t.dtype == dtype and t.ndim == ndim
            and (layout is None or t.layout == layout))


def _compress(context, builder, r2, idx, inside, out, count):
    """AVX-512: ``llvm.experimental.vector.compress`` of the 8 lanes, then full 8-lane stores."""
    vm = ir.VectorType(ir.IntType(1), WIDTH)
    for data, (cty, carr) in zip((r2, idx), out):
        name = f"v8{'f' if isinstance(data.type.element, ir.DoubleType) else 'i'}64"
        compress = _declare(builder, f"llvm.experimental.vector.compress.{name}", data.type,
                            [data.type, vm, data.type])
        packed = builder.call(compress, [data, inside, ir.Constant(data.type, ir.Undefined)])
        builder.store(packed, _item(context, builder, cty, carr, count, data.type), align=8)
    ctpop = _declare(builder, "llvm.ctpop.i8", ir.IntType(8), [ir.IntType(8)])
    n_inside = builder.call(ctpop, [builder.bitcast(inside, ir.IntType(8))])
    return builder.add(count, builder.zext(n_inside, ir.IntType(64)))


def _permutations(builder):
    """The table of ``vpermps`` indices for AVX2: row m moves the float64 lanes set in the
    4-bit mask m, in order, to the front (two 32-bit indices per lane; the rest are 0)."""
    i32, v8i32 = ir.IntType(32), ir.VectorType(ir.IntType(32), 8)
    table = builder.module.globals.get("kdtheory_lanes_permutations")
    if table is None:
        rows = []
        for m in range(16):
            kept = [j for j in range(4) if m >> j & 1]
            rows.append(ir.Constant(v8i32, [i for j in kept for i in (2 * j, 2 * j + 1)]
                                    + [0] * (8 - 2 * len(kept))))
        table = ir.GlobalVariable(builder.module, ir.ArrayType(v8i32, 16),
                                  "kdtheory_lanes_permutations")
        table.initializer = ir.Constant(ir.ArrayType(v8i32, 16), rows)
        table.global_constant = True
        table.linkage = "internal"
        table.align = 32
    return table, i32


def _permute(context, builder, r2, idx, inside, out, count):
    """AVX2 (no compress instruction): for each 4-lane half, its 4-bit mask picks a row of
    :func:`_permutations`, ``vpermps`` moves the lanes within reach to the front, and 4-lane
    stores write them; the second half goes after the first's lanes within reach."""
    table, i32 = _permutations(builder)
    v8f32 = ir.VectorType(ir.FloatType(), 8)
    permps = _declare(builder, "llvm.x86.avx2.permps", v8f32, [v8f32, table.type.pointee.element])
    i64 = ir.IntType(64)
    for half in (0, 1):
        pick = ir.Constant(ir.VectorType(i32, 4), [4 * half + j for j in range(4)])
        mask = builder.shuffle_vector(inside, ir.Constant(inside.type, ir.Undefined), pick)
        bits = builder.zext(builder.bitcast(mask, ir.IntType(4)), i64)
        perm = builder.load(builder.gep(table, [ir.Constant(i32, 0), bits]), align=32)
        for data, (cty, carr) in zip((r2, idx), out):
            quarter = builder.shuffle_vector(data, ir.Constant(data.type, ir.Undefined), pick)
            moved = builder.call(permps, [builder.bitcast(quarter, v8f32), perm])
            builder.store(builder.bitcast(moved, quarter.type),
                          _item(context, builder, cty, carr, count, quarter.type), align=8)
        ctpop = _declare(builder, "llvm.ctpop.i64", i64, [i64])
        count = builder.add(count, builder.call(ctpop, [bits]))
    return count


def _item(context, builder, ty, value, index, vty):
    ptr = cgutils.get_item_pointer(context, builder, ty,
                                   context.make_array(ty)(context, builder, value), [index])
    return builder.bitcast(ptr, vty.as_pointer())


def _compact_lanes(store):
    """The intrinsic :func:`compact_lanes`, storing the lanes within reach by ``store``
    (:func:`_compress` or :func:`_permute`)."""

    @intrinsic
    def compact_lanes(typingctx, xt, q, s, length, reach2, cr2, cidx, count, box):
        """(xt (d, n) C float64, q (d,), s, length <= 8, reach2, cr2, cidx, count, box L or
        None) -> count + #{j in [s, s + length) : r_j^2 <= reach2}; see the module docstring."""
        if not (_is_array(xt, types.float64, 2, "C") and _is_array(q, types.float64, 1)
                and _is_array(cr2, types.float64, 1, "C")
                and _is_array(cidx, types.int64, 1, "C")
                and all(isinstance(t, types.Integer) for t in (s, length, count))
                and isinstance(reach2, types.Float)):
            return None
        periodic = not isinstance(box, (types.NoneType, types.Omitted))
        sig = types.int64(xt, q, s, length, reach2, cr2, cidx, count, box)

        def codegen(context, builder, signature, args):
            xt_ty, q_ty, s_ty, len_ty, r_ty, cr2_ty, cidx_ty, count_ty, box_ty = signature.args
            i64 = ir.IntType(64)
            vd, vi = ir.VectorType(ir.DoubleType(), WIDTH), ir.VectorType(i64, WIDTH)
            vm = ir.VectorType(ir.IntType(1), WIDTH)
            s_v = context.cast(builder, args[2], s_ty, types.int64)
            len_v = context.cast(builder, args[3], len_ty, types.int64)
            reach_v = context.cast(builder, args[4], r_ty, types.float64)
            count_v = context.cast(builder, args[7], count_ty, types.int64)
            xt_a = context.make_array(xt_ty)(context, builder, args[0])
            q_a = context.make_array(q_ty)(context, builder, args[1])
            iota = ir.Constant(vi, list(range(WIDTH)))
            lanes = builder.icmp_signed("<", iota, _splat(builder, len_v, vi))
            zero = ir.Constant(vd, [0.0] * WIDTH)
            masked_load = _declare(builder, "llvm.masked.load.v8f64.p0", vd,
                                   [vd.as_pointer(), ir.IntType(32), vm, vd])
            r2_slot = cgutils.alloca_once_value(builder, zero)
            with cgutils.for_range(builder, builder.extract_value(xt_a.shape, 0)) as loop:
                x_ptr = cgutils.get_item_pointer(context, builder, xt_ty, xt_a,
                                                 [loop.index, s_v])
                x = builder.call(masked_load, [builder.bitcast(x_ptr, vd.as_pointer()),
                                               ir.Constant(ir.IntType(32), 8), lanes, zero])
                q_c = builder.load(cgutils.get_item_pointer(context, builder, q_ty, q_a,
                                                            [loop.index]))
                t = builder.fsub(x, _splat(builder, q_c, vd))
                if periodic:
                    t = builder.call(_declare(builder, "llvm.fabs.v8f64", vd, [vd]), [t])
                    box_v = context.cast(builder, args[8], box_ty, types.float64)
                    other = builder.fsub(_splat(builder, box_v, vd), t)
                    t = builder.select(builder.fcmp_ordered("<", other, t), other, t)
                builder.store(builder.fadd(builder.load(r2_slot), builder.fmul(t, t)), r2_slot)
            r2 = builder.load(r2_slot)
            inside = builder.and_(builder.fcmp_ordered("<=", r2, _splat(builder, reach_v, vd)),
                                  lanes)
            idx = builder.add(iota, _splat(builder, s_v, vi))
            return store(context, builder, r2, idx, inside,
                         ((cr2_ty, args[5]), (cidx_ty, args[6])), count_v)

        return sig, codegen

    return compact_lanes


# without AVX2 the kernels do not call it; LLVM's generic compress still runs anywhere (tests)
compact_lanes = _compact_lanes(_permute if KIND == "avx2" else _compress)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def compact_run(q, xt, start, stop, reach2, cr2, cidx, count, box):
    """:func:`compact_lanes` over the run [start, stop), eight points at a time."""
    for s in range(start, stop, WIDTH):
        count = compact_lanes(xt, q, s, min(WIDTH, stop - s), reach2, cr2, cidx, count, box)
    return count
