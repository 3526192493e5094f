r"""Numba kernel of :mod:`kdtheory.radius`: the star-hull supremum per sign draw.

No random numbers are drawn here: the sign draws enter through the inner products ``S``.
The NumPy reference is ``star_hull_sup`` in ``tests/_reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath=False)
def star_hull_sup(S, norms, delta, absval):
    r"""Per-draw localized supremum over the star hull of a finite class (notes section 2.0).

    .. math:: \sup_{h \in \mathrm{star}(G),\, \|h\| \le \delta} \langle \varepsilon_b, h\rangle_n
              = \max\Big(0, \max_m \min\big(1, \delta/\|g_m\|\big)\, (S_{bm})_+\Big)

    with :math:`(\cdot)_+` replaced by :math:`|\cdot|` when ``absval``. The 0 is the zero
    function, which every star hull contains; a function of norm 0 is never scaled down.

    Parameters
    ----------
    S : float64 array of shape (B, M)
        Inner products :math:`S_{bm} = \langle \varepsilon_b, g_m \rangle_n`.
    norms : float64 array of shape (M,)
        Norms :math:`\|g_m\| \ge 0` used for the localization.
    delta : float
        Radius :math:`\delta > 0`.
    absval : bool
        Use :math:`|S_{bm}|` instead of :math:`(S_{bm})_+`.

    Returns
    -------
    float64 array of shape (B,)
    """
    n_draws, n_functions = S.shape
    out = np.empty(n_draws)
    for b in range(n_draws):
        best = 0.0
        for m in range(n_functions):
            value = S[b, m]
            if absval:
                value = abs(value)
            if norms[m] > delta:
                value *= delta / norms[m]
            if value > best:
                best = value
        out[b] = best
    return out
