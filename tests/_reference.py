"""Plain NumPy reference implementations that the package's fast code is tested against.

Each block below is the obvious, slow formula for one kernel or estimator; tests compare the
package on random inputs (hypothesis) against these.
"""

import numpy as np  # noqa: F401


# --- Nadaraya-Watson teacher (kdtheory.teachers.NadarayaWatsonTeacher, MATH.md 5.2) ----------

def nw_weights(r2, h2, kernel, a):
    """K(||x - x_i|| / h) from squared distances r2; compact kernels vanish where r2 > h2."""
    with np.errstate(divide="ignore"):
        if kernel == "singular":
            return np.where(r2 <= h2, (r2 / h2) ** (-a / 2), 0.0)
        if kernel == "gaussian":
            return np.exp(-r2 / (2 * h2))
        return np.where(r2 <= h2, 1 - r2 / h2, 0.0)  # epanechnikov


def nw_predict_proba(X, labels, Xq, h, a, kernel, fallback="prior", min_neighbors=5,
                     n_classes=2):
    """Brute force over all pairs; returns (proba (m, k), number of fallback queries)."""
    Y = np.eye(n_classes)[labels]
    r2 = ((Xq[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1)
    proba = np.empty((Xq.shape[0], n_classes))
    n_fallback = 0
    for i in range(Xq.shape[0]):
        exact = np.all(X == Xq[i], axis=1)
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


# --- kdtheory.radius (notes/critical-radius.md) -----------------------------------------------

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
    """R_K(delta) = sqrt((kappa/n) sum_j min(delta^2, mu_j)) (notes 2b)."""
    return float(np.sqrt(kappa / n * np.minimum(delta ** 2, mu).sum()))
