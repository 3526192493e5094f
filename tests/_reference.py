"""Plain NumPy reference implementations that the package's fast code is tested against.

Each block below is the obvious, slow formula for one kernel or estimator; tests compare the
package on random inputs (hypothesis) against these.
"""

import numpy as np  # noqa: F401


# --- Nadaraya-Watson teacher (kdtheory.teachers.NadarayaWatsonTeacher, theory §5.2) ----------

def nw_weights(r2, h2, kernel, a):
    """K(||x - x_i|| / h) from squared distances r2; compact kernels vanish where r2 > h2."""
    with np.errstate(divide="ignore"):
        if kernel == "singular":
            return np.where(r2 <= h2, (r2 / h2) ** (-a / 2), 0.0)
        if kernel == "gaussian":
            return np.exp(-r2 / (2 * h2))
        return np.where(r2 <= h2, 1 - r2 / h2, 0.0)  # epanechnikov


def sq_dists(Xq, X, boxsize=None):
    """(m, n) squared distances; with ``boxsize`` L the minimum image on the torus [0, L)^d:
    per coordinate min(|t|, L - |t|) for points in [0, L)."""
    diff = np.abs(Xq[:, None, :] - X[None, :, :])
    if boxsize is not None:
        diff = np.minimum(diff, boxsize - diff)
    return (diff ** 2).sum(axis=-1)


def compact_within(xt, q, start, stop, reach2, boxsize=None):
    """(r2, index) of the points j in [start, stop) of xt (d, n) with r2_j <= reach2, in order;
    r2_j summed over the coordinates in order (the kernels' order, so equal to the last bit)."""
    r2 = np.zeros(stop - start)
    for c in range(xt.shape[0]):
        t = np.abs(xt[c, start:stop] - q[c])
        if boxsize is not None:
            t = np.minimum(t, boxsize - t)
        r2 = r2 + t * t
    inside = np.flatnonzero(r2 <= reach2)
    return r2[inside], start + inside


def nw_predict_proba(X, labels, Xq, h, a, kernel, fallback="prior", min_neighbors=5,
                     n_classes=2, boxsize=None):
    """Brute force over all pairs; returns (proba (m, k), number of fallback queries).

    ``boxsize`` L: the flat torus [0, L)^d (minimum-image distances, :func:`sq_dists`)."""
    Y = np.eye(n_classes)[labels]
    r2 = sq_dists(Xq, X, boxsize)
    proba = np.empty((Xq.shape[0], n_classes))
    n_fallback = 0
    for i in range(Xq.shape[0]):
        exact = np.all(Xq[i] == X, axis=1)
        w = nw_weights(r2[i], h * h, kernel, a)
        if kernel == "singular" and exact.any():
            proba[i] = Y[exact].mean(axis=0)
        elif w.sum() > 0:
            proba[i] = w @ Y / w.sum()
        else:
            n_fallback += 1
            if fallback == "prior":
                proba[i] = Y.mean(axis=0)
            elif fallback == "nearest":
                proba[i] = Y[r2[i] == r2[i].min()].mean(axis=0)
            else:  # grow: bandwidth 2h, 4h, ... until min_neighbors points get weight
                grown = 2 * h
                while np.count_nonzero(w := nw_weights(r2[i], grown ** 2, kernel, a)) \
                        < min(min_neighbors, X.shape[0]):
                    grown *= 2
                proba[i] = w @ Y / w.sum()
    return proba, n_fallback


def nw_predict_proba_ckdtree(X, labels, Xq, h, a, kernel, boxsize, fallback="prior",
                             n_classes=2):
    """The same estimator from ``scipy.spatial.cKDTree(boxsize=L)`` neighbour pairs (an
    independent implementation of the minimum-image distances); fallback "prior" or "nearest"
    (the nearest point by ``cKDTree.query``; no ties on random inputs). Distance 0 counts as an
    exact match (the inputs must not hold points within 1e-150 of each other)."""
    from scipy.spatial import cKDTree

    Y = np.eye(n_classes)[labels]
    tree = cKDTree(X, boxsize=boxsize)
    radius = np.inf if kernel == "gaussian" else h
    pairs = cKDTree(Xq, boxsize=boxsize).sparse_distance_matrix(tree, radius,
                                                                output_type="ndarray")
    proba = np.zeros((Xq.shape[0], n_classes))
    den = np.zeros(Xq.shape[0])
    r2 = pairs["v"] ** 2
    w = nw_weights(r2, h * h, kernel, a)
    exact = pairs["v"] == 0
    has_exact = np.zeros(Xq.shape[0], bool)
    if kernel == "singular":
        has_exact[pairs["i"][exact]] = True
    use = ~has_exact[pairs["i"]]
    np.add.at(proba, pairs["i"][use], w[use, None] * Y[pairs["j"][use]])
    np.add.at(den, pairs["i"][use], w[use])
    n_exact = np.zeros(Xq.shape[0])
    np.add.at(proba, pairs["i"][exact & ~use], Y[pairs["j"][exact & ~use]])
    np.add.at(n_exact, pairs["i"][exact & ~use], 1.0)
    den = np.where(has_exact, n_exact, den)
    fall = den == 0
    if fallback == "prior":
        proba[fall], den[fall] = Y.mean(axis=0), 1.0
    else:
        _, nearest = tree.query(Xq[fall])
        proba[fall], den[fall] = Y[nearest], 1.0
    return proba / den[:, None], int(fall.sum())


# --- kdtheory.radius (docs/theory.md §7) -----------------------------------------------

def star_hull_sup(S, norms, delta, absval=False):
    """Per-draw sup over star(G) within radius delta: max(0, max_m min(1, delta/|g_m|) S_bm^+)."""
    A = np.abs(S) if absval else np.maximum(S, 0.0)
    with np.errstate(divide="ignore"):
        scale = np.minimum(1.0, delta / np.asarray(norms, dtype=float))  # norm 0 -> scale 1
    return np.max(A * scale, axis=1, initial=0.0)


def all_sign_vectors(n):
    """The 2^n vectors of {-1, 1}^n as rows, by itertools (independent of the package's bits)."""
    import itertools
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def mean_abs_sign_sum(n):
    """E|eps_1 + ... + eps_n| by enumerating all sign vectors."""
    return float(np.abs(all_sign_vectors(n).sum(axis=1)).mean())


def hat_matrix_norms(Phi, signs):
    """||P eps|| / sqrt(n) per row of signs, with P = Phi pinv(Phi) the hat matrix."""
    P = Phi @ np.linalg.pinv(Phi)
    return np.linalg.norm(signs @ P, axis=1) / np.sqrt(Phi.shape[0])


def kernel_complexity(delta, mu, n, kappa=1.0):
    """R_K(delta) = sqrt((kappa/n) sum_j min(delta^2, mu_j)) (theory §7.2)."""
    return float(np.sqrt(kappa / n * np.minimum(delta ** 2, mu).sum()))
