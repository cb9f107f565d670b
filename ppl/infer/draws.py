"""log p and its derivatives at many draws at once: the one multi-draw evaluation of
deterministic ADVI (`dadvi.FixedDrawELBO`), by batched passes of log p's compiled program
(`autodiff.Compiled.batch`, `.hessians`, `.hvps`) where it agrees with a fresh run of log p,
else a loop over the draws; and the fixed draws themselves (antithetic pairs).

    >>> import numpy as np, autodiff as ad
    >>> Z = np.array([[0.0, 1.0], [2.0, -1.0]])
    >>> vals, grads = evaluate_draws(lambda z: -0.5 * ad.sum(z * z), Z, program=record(
    ...     lambda z: -0.5 * ad.sum(z * z), np.zeros(2)))
    >>> vals.tolist(), grads.tolist()
    ([-0.5, -2.5], [[-0.0, -1.0], [-2.0, 1.0]])
"""
import math

import numpy as np

import autodiff as ad

__all__ = ["antithetic", "record", "evaluate_draws"]


def antithetic(rng, M, D):
    """(M, D) standard normal draws as M / 2 antithetic pairs: rows 2k and 2k + 1 are eps_k
    and -eps_k (M even), so their mean is exactly 0."""
    if M < 2 or M % 2:
        raise ValueError(f"draws must be an even integer >= 2 (antithetic pairs), got {M!r}")
    half = rng.standard_normal((M // 2, D))
    return np.stack([half, -half], axis=1).reshape(M, D)


def record(log_p, z):
    """log p's value and gradient compiled at z (`ad.compile_value_and_grad`), for
    `evaluate_draws`' batched pass; None when it cannot be recorded (or linear algebra fails
    there)."""
    try:
        with np.errstate(all="ignore"):
            return ad.compile_value_and_grad(log_p, np.asarray(z, dtype=float))
    except (TypeError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None


def _batch(program, Z):
    """(values, gradients) at the rows of Z by the program's batched pass (`Compiled.batch`:
    the recorded tape mapped over rows), or None when linear algebra fails at some row (a
    matrix not positive definite there) or the program disagrees with a fresh run of log p at
    the first row (a branch on a value that the recording froze): then rows one at a time."""
    try:
        with np.errstate(all="ignore"):
            if not program.check(Z[0]):
                return None
            vals, grads = program.batch(Z)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None
    return np.array(vals, dtype=float), np.array(grads, dtype=float)


def _batch_second(program, log_p, Z, tangents, check=True):
    """Hessians (M, D, D), or Hessian-vector products (M, D) given tangents, at the rows of Z
    by the program's batched forward-over-reverse pass (`Compiled.hessians` / `.hvps`), or
    None when linear algebra fails at some row or (check=True) the pass disagrees with a
    fresh run of log p at the first row (a frozen branch): then rows one at a time."""
    try:
        with np.errstate(all="ignore"):
            if tangents is None:
                out = program.hessians(Z)
                fresh = ad.hessian(log_p)(Z[0]) if check else None
            else:
                out = program.hvps(Z, tangents)
                fresh = ad.hvp(log_p, Z[0], tangents[0]) if check else None
    except (ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError):
        return None
    if fresh is not None:
        fresh = np.asarray(fresh, dtype=float)
        if np.all(np.isfinite(fresh)) and not np.allclose(out[0], fresh, rtol=1e-9,
                                                          atol=1e-12):
            return None
    return np.array(out, dtype=float)


def _nan_rows(second):
    """Rows of second derivatives with a non-finite entry set wholly to NaN."""
    bad = ~np.all(np.isfinite(second.reshape(len(second), -1)), axis=1)
    return np.where(bad.reshape((len(second),) + (1,) * (second.ndim - 1)), np.nan, second)


def evaluate_draws(log_p, Z, order=1, tangents=None, first=True, program=None):
    """log p and its derivatives at each row of Z (M, D): the one multi-draw evaluation.

    order=1: (values (M,), gradients (M, D)); order=2: also Hessians (M, D, D), or, given
    `tangents` (M, D), Hessian-vector products (M, D) (forward over reverse). A row where the
    value or gradient is not finite gets value -inf. first=False (order 2): the values and
    gradients are known already; only the second derivatives are computed (values and
    gradients come back as None).

    Values, gradients and second derivatives come from batched passes of `program` (log p
    compiled by `record`) when given and it agrees with log p at the first row; else a loop
    over the rows.
    """
    vals = grads = done = None
    if first:
        done = _batch(program, Z) if program is not None else None
        vals, grads = done if done is not None else _loop_values(log_p, Z)
    if order < 2:
        return _mark(vals, grads, None)
    second = None
    if program is not None and (done is not None or not first):
        second = _batch_second(program, log_p, Z, tangents)
    second = _nan_rows(second if second is not None else _loop_second(log_p, Z, tangents))
    if not first:
        return None, None, second
    return _mark(vals, grads, second) + (second,)


def _mark(vals, grads, second):
    """(vals, grads) with value -inf at a row whose value, gradient or second derivatives
    are not finite."""
    bad = ~(np.isfinite(vals) & np.all(np.isfinite(grads), axis=1))
    if second is not None:
        bad |= ~np.all(np.isfinite(second.reshape(len(second), -1)), axis=1)
    vals[bad] = -math.inf
    return vals, grads


def _loop_values(log_p, Z):
    """(values, gradients) row by row; a row that raises gets -inf and NaN."""
    vals, grads = np.empty(len(Z)), np.empty(Z.shape)
    vg = ad.value_and_grad(log_p)
    with np.errstate(all="ignore"):
        for i, z in enumerate(Z):
            try:
                v, g = vg(z)
            except (FloatingPointError, np.linalg.LinAlgError, OverflowError):
                v, g = -math.inf, np.nan
            vals[i], grads[i] = float(v), g
    return vals, grads


def _loop_second(log_p, Z, tangents):
    """Hessians (tangents None) or Hessian-vector products row by row; NaN where a row
    raises."""
    out = np.empty(Z.shape if tangents is not None else Z.shape + Z.shape[1:])
    hess = ad.hessian(log_p) if tangents is None else None
    with np.errstate(all="ignore"):
        for i, z in enumerate(Z):
            try:
                out[i] = hess(z) if tangents is None else ad.hvp(log_p, z, tangents[i])
            except (FloatingPointError, np.linalg.LinAlgError, OverflowError):
                out[i] = np.nan
    return out
