"""Multivariate families: MultivariateNormal, MultivariateStudentT, Dirichlet, LKJCholesky.

Matrix parameters carry their batch axes first: a scale_tril of shape (3, k, k) is a batch of
three. Gaussian-type densities go through the lower Cholesky factor L of the covariance: the
Mahalanobis term by one triangular solve per distinct L (every other axis of the value rides as
a column of the right-hand side) and log det = 2 sum log L_ii.
"""
import math

import numpy as np
from scipy import special as sp

import autodiff as ad
from autodiff import getval, shape_of

from .. import constraints
from .base import Distribution, as_param

_sg = ad.stop_gradient  # a value without derivative: numpy, or per row under vmap

__all__ = ["MultivariateNormal", "MultivariateStudentT", "Dirichlet", "LKJCholesky"]

_LOG_2 = math.log(2.0)
_LOG_2PI = math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)


def _shape(x):
    return shape_of(x)


def _diag(m, start=0):
    """The diagonal m[..., i, i] for i >= start, as one engine op."""
    i = np.arange(start, _shape(m)[-1])
    return ad.getitem(m, (Ellipsis, i, i))


def _sq_mahalanobis(L, d, batch_shape):
    """sum_i ((L^-1 d)_i)^2 over the last axis of d (shape sample + batch + (k,)).

    L (shape BL + (k, k), BL right-aligned into batch_shape) is solved against once per distinct
    matrix: the axes of d along which L does not vary are moved into the columns of the
    right-hand side, so that a single L costs one LAPACK call whatever the sample shape.
    """
    k = _shape(L)[-1]
    full = np.broadcast_shapes(_shape(d), tuple(batch_shape) + (k,))
    if full != _shape(d):
        d = ad.broadcast_to(d, full)
    nb = len(full) - 1
    bl = (1,) * (nb - len(_shape(L)) + 2) + _shape(L)[:-2]
    keep = [i for i in range(nb) if bl[i] != 1]
    cols = [i for i in range(nb) if bl[i] == 1]
    ks, cs = tuple(full[i] for i in keep), tuple(full[i] for i in cols)
    perm = keep + [nb] + cols
    if perm != list(range(nb + 1)):
        d = ad.transpose(d, perm)
    d = ad.reshape(d, ks + (k, math.prod(cs)))
    if _shape(L)[:-2] != ks:
        L = ad.reshape(L, ks + (k, k))
    z = ad.solve_triangular(L, d)
    q = ad.reshape(ad.sum(z * z, axis=-2), ks + cs)
    order = keep + cols
    return q if order == sorted(order) else ad.transpose(q, np.argsort(order).tolist())


def _loc_and_matrix(cls, loc, given):
    """(loc, (name, matrix), k, batch_shape), checking the shapes; loc broadcast to (..., k)."""
    if len(given) != 1:
        names = " and ".join(repr(n) for n, _ in given) or "none"
        raise ValueError(f"{cls}: give exactly one of 'covariance_matrix', 'precision_matrix' or "
                         f"'scale_tril', got {names}")
    name, m = given[0]
    m = as_param(m, name)
    shp = _shape(m)
    if len(shp) < 2 or shp[-1] != shp[-2]:
        raise ValueError(f"{cls}: {name!r} must be square matrices in its last two axes, got "
                         f"shape {shp}")
    k = shp[-1]
    loc = as_param(loc, "loc")
    if len(_shape(loc)) == 0 or _shape(loc)[-1] == 1:
        loc = ad.broadcast_to(loc, _shape(loc)[:-1] + (k,))
    if _shape(loc)[-1] != k:
        raise ValueError(f"{cls}: 'loc' has shape {_shape(loc)}, so its last axis does not "
                         f"match the {k} x {k} {name!r}")
    try:
        batch = np.broadcast_shapes(_shape(loc)[:-1], shp[:-2])
    except ValueError:
        raise ValueError(f"{cls}: the batch shapes of 'loc' {_shape(loc)[:-1]} and {name!r} "
                         f"{shp[:-2]} do not broadcast") from None
    return loc, name, m, k, batch


def _cholesky(to_cov, m):
    """The Cholesky factor of to_cov(m). A batch member for which it fails (not positive
    definite, as with validation off while ADVI explores) gets a factor of NaNs, hence a NaN
    density, instead of a LinAlgError that would stop the fit."""
    try:
        return ad.cholesky(to_cov(m))
    except np.linalg.LinAlgError:
        pass
    bad = ad.value_op(_not_pd, m, inverse=to_cov is ad.inv)  # per draw under vmap
    eye = np.eye(shape_of(m)[-1], dtype=np.result_type(getval(m)))
    L = ad.cholesky(to_cov(ad.where(bad, eye, m)))
    return ad.where(bad, np.nan, L)


def _not_pd(v, inverse):
    """Which matrices of the stack v (or their inverses) have no Cholesky factor: shape
    v.shape[:-2] + (1, 1)."""
    flat = v.reshape((-1,) + v.shape[-2:])
    bad = np.zeros(len(flat), bool)
    for i, a in enumerate(flat):
        try:
            np.linalg.cholesky(np.linalg.inv(a) if inverse else a)
        except np.linalg.LinAlgError:
            bad[i] = True
    return bad.reshape(v.shape[:-2] + (1, 1))


_MATRIX_CONSTRAINT = {"covariance_matrix": constraints.positive_definite,
                      "precision_matrix": constraints.positive_definite,
                      "scale_tril": constraints.lower_cholesky}


class _Gaussian(Distribution):
    """Shared by the two elliptical families: the three matrix parametrisations (computed from
    each other on first use) and the standardised squared distance."""

    def _set_matrix(self, name, m):
        self._covariance_matrix = self._precision_matrix = self._scale_tril = None
        setattr(self, "_" + name, m)
        self.arg_constraints = {**self.arg_constraints, name: _MATRIX_CONSTRAINT[name]}

    @property
    def scale_tril(self):
        if self._scale_tril is None:
            if self._covariance_matrix is not None:
                self._scale_tril = _cholesky(lambda m: m, self._covariance_matrix)
            else:
                self._scale_tril = _cholesky(ad.inv, self._precision_matrix)
        return self._scale_tril

    @property
    def covariance_matrix(self):
        if self._covariance_matrix is None:
            L = self.scale_tril
            self._covariance_matrix = ad.matmul(L, ad.swapaxes(L, -1, -2))
        return self._covariance_matrix

    @property
    def precision_matrix(self):
        if self._precision_matrix is None:
            self._precision_matrix = ad.inv(self.covariance_matrix)
        return self._precision_matrix

    def _maha_logdet(self, x):
        """(squared Mahalanobis distance of x, sum log L_ii)."""
        L = self.scale_tril
        return (_sq_mahalanobis(L, x - self.loc, self.batch_shape),
                ad.sum(ad.log(_diag(L)), axis=-1))

    def _mvn_draw(self, rng, sample_shape):
        eps = rng.standard_normal(self.shape(sample_shape))
        return np.einsum("...ij,...j->...i", np.asarray(getval(self.scale_tril)), eps)

    def _var_diag(self):
        L = _sg((self.scale_tril))
        return np.broadcast_to(np.sum(L * L, axis=-1), self.shape())


class MultivariateNormal(_Gaussian):
    """MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril):
    log p(x) = -|L^-1 (x - loc)|^2 / 2 - sum log L_ii - k log(2 pi) / 2, with L L^T = Sigma.

    >>> round(float(MultivariateNormal(np.zeros(2), scale_tril=np.eye(2)).log_prob(np.zeros(2))), 6)
    -1.837877
    """
    arg_constraints = {"loc": constraints.real_vector}
    support = constraints.real_vector

    def __init__(self, loc=0.0, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 *, validate_args=None):
        given = [(n, m) for n, m in (("covariance_matrix", covariance_matrix),
                                     ("precision_matrix", precision_matrix),
                                     ("scale_tril", scale_tril)) if m is not None]
        self.loc, name, m, k, batch = _loc_and_matrix("MultivariateNormal", loc, given)
        self._set_matrix(name, m)
        super().__init__(batch, (k,), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return getval(self.loc) + self._mvn_draw(rng, sample_shape)

    def log_prob(self, value):
        k = self.event_shape[0]

        def lp(x):
            maha, half_logdet = self._maha_logdet(x)
            return -0.5 * maha - half_logdet - 0.5 * k * _LOG_2PI
        return self._mask(value, lp)

    @property
    def mean(self):
        return np.broadcast_to(_sg((self.loc)), self.shape())

    @property
    def variance(self):
        return self._var_diag()


class MultivariateStudentT(_Gaussian):
    """MultivariateStudentT(df, loc, scale_tril): log p(x) = log Gamma((df + k)/2)
    - log Gamma(df/2) - k log(df pi)/2 - sum log L_ii - (df + k)/2 log(1 + |L^-1 (x - loc)|^2/df).

    >>> round(float(MultivariateStudentT(3.0, np.zeros(2), np.eye(2)).log_prob(np.zeros(2))), 6)
    -1.837877
    """
    arg_constraints = {"df": constraints.positive, "loc": constraints.real_vector}
    support = constraints.real_vector

    def __init__(self, df, loc=0.0, scale_tril=None, *, validate_args=None):
        if scale_tril is None:
            raise ValueError("MultivariateStudentT: 'scale_tril' is required")
        self.df = as_param(df, "df")
        self.loc, name, m, k, batch = _loc_and_matrix("MultivariateStudentT", loc,
                                                       [("scale_tril", scale_tril)])
        self._set_matrix(name, m)
        super().__init__(np.broadcast_shapes(_shape(self.df), batch), (k,),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        w = rng.chisquare(np.broadcast_to(getval(self.df), shape)) / getval(self.df)
        return getval(self.loc) + self._mvn_draw(rng, sample_shape) / np.sqrt(w)[..., None]

    def log_prob(self, value):
        df, k = self.df, self.event_shape[0]

        def lp(x):
            maha, half_logdet = self._maha_logdet(x)
            return (ad.lgamma(0.5 * (df + k)) - ad.lgamma(0.5 * df) - (0.5 * k) * ad.log(df)
                    - half_logdet - (0.5 * (df + k)) * ad.log1p(maha / df) - 0.5 * k * _LOG_PI)
        return self._mask(value, lp)

    @property
    def mean(self):  # nan for df <= 1, as NumPyro
        df = _sg((self.df))[..., None]
        return np.broadcast_to(np.where(df > 1.0, _sg(self.loc), np.nan), self.shape())

    @property
    def variance(self):  # inf for 1 < df <= 2, nan for df <= 1, as NumPyro
        df = _sg((self.df))[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(df > 2.0, self._var_diag() * df / (df - 2.0), np.inf)
        return np.broadcast_to(np.where(df > 1.0, v, np.nan), self.shape())


class Dirichlet(Distribution):
    """Dirichlet(concentration) on the simplex: log p(x) = sum_k (a_k - 1) log x_k
    + log Gamma(sum_k a_k) - sum_k log Gamma(a_k); the last axis of a indexes the K coordinates.

    >>> round(float(Dirichlet(np.array([2.0, 3.0])).log_prob(np.array([0.5, 0.5]))), 6)
    0.405465
    """
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex

    def __init__(self, concentration, *, validate_args=None):
        self.concentration = as_param(concentration, "concentration")
        shp = _shape(self.concentration)
        if len(shp) == 0:
            raise ValueError("Dirichlet: 'concentration' needs a last axis of K coordinates, "
                             "got a scalar")
        super().__init__(shp[:-1], shp[-1:], validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        a = np.broadcast_to(getval(self.concentration), self.shape(sample_shape))
        # Gamma(a) = Gamma(a + 1) U^(1/a), taken in logs: no underflow to 0/0 for small a
        log_g = np.log(rng.standard_gamma(a + 1.0)) + np.log1p(-rng.random(a.shape)) / a
        g = np.exp(log_g - log_g.max(axis=-1, keepdims=True))
        return g / g.sum(axis=-1, keepdims=True)

    def log_prob(self, value):
        a = self.concentration

        def lp(x):
            return (ad.sum(ad.xlogy(a - 1.0, x), axis=-1)
                    + (ad.lgamma(ad.sum(a, axis=-1)) - ad.sum(ad.lgamma(a), axis=-1)))
        return self._mask(value, lp)

    def _support_point(self, v):
        k = self.event_shape[0]
        return np.full(np.broadcast_shapes(v.shape, self.shape()), 1.0 / k)

    @property
    def mean(self):
        a = _sg((self.concentration))
        return a / a.sum(axis=-1, keepdims=True)

    @property
    def variance(self):
        a = _sg((self.concentration))
        a0 = a.sum(axis=-1, keepdims=True)
        return a * (a0 - a) / (a0 * a0 * (a0 + 1.0))


class LKJCholesky(Distribution):
    """LKJCholesky(dim, concentration): the Cholesky factor L of a dim x dim correlation matrix
    with density proportional to det(L L^T)^(eta - 1) (Stan's lkj_corr_cholesky, normalised):
    log p(L) = sum_{i=2}^{dim} (dim - i + 2 eta - 2) log L_ii - log c_dim(eta), w.r.t. the
    strictly lower entries of L (Lewandowski, Kurowicka and Joe 2009, eq. 16, for c_dim).

    >>> round(float(LKJCholesky(2, 1.0).log_prob(np.eye(2))), 6)
    -0.693147
    """
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, *, validate_args=None):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
            raise ValueError(f"LKJCholesky: 'dim' must be an integer >= 2, got {dim!r}")
        self.dim = int(dim)
        self.concentration = as_param(concentration, "concentration")
        self._log_c = None
        super().__init__(_shape(self.concentration), (self.dim, self.dim),
                         validate_args=validate_args)

    def _eta(self):
        """concentration with a trailing axis, to meet the per-row vectors."""
        eta = self.concentration
        return ad.reshape(eta, _shape(eta) + (1,))

    def _log_normalizer(self):
        """log c_D(eta) = sum_{m=1}^{D-1} [(2 eta - 2 + m) m log 2 + m log B(b_m, b_m)],
        b_m = eta + (m - 1)/2 (m = D - k in the paper's index k)."""
        if self._log_c is None:
            D, eta = self.dim, self.concentration
            m = np.arange(1.0, D)
            s1, s2 = float(m.sum()), float((m * m).sum())
            b = self._eta() + 0.5 * (m - 1.0)
            self._log_c = (_LOG_2 * ((2.0 * eta - 2.0) * s1 + s2)
                           + ad.sum(m * ad.betaln(b, b), axis=-1))
        return self._log_c

    def sample(self, rng, sample_shape=()):
        """The onion method (LKJ 2009, section 3.2; as NumPyro): row i of L is
        sqrt(y_i) u_i on its first i entries, y_i ~ Beta(i/2, eta + (D - 1 - i)/2), u_i
        uniform on the unit sphere of R^i, and sqrt(1 - y_i) on the diagonal."""
        D = self.dim
        shape = tuple(sample_shape) + self.batch_shape
        a, b = self._row_beta()
        y = rng.beta(np.broadcast_to(a, shape + (D - 1,)), np.broadcast_to(b, shape + (D - 1,)))
        z = rng.standard_normal(shape + (D - 1, D - 1)) * np.tri(D - 1)
        u = z / np.linalg.norm(z, axis=-1, keepdims=True)
        L = np.zeros(shape + (D, D))
        L[..., 1:, :-1] = np.sqrt(y)[..., None] * u
        i = np.arange(D)
        L[..., i, i] = np.sqrt(np.clip(1.0 - np.sum(L * L, axis=-1), 0.0, None))
        return L

    def _row_beta(self):
        """The Beta parameters (a_i, b_i) of y_i = 1 - L_ii^2, rows i = 1, ..., D-1."""
        i = np.arange(1.0, self.dim)
        eta = _sg((self.concentration))[..., None]
        return 0.5 * i, eta + 0.5 * (self.dim - 1.0 - i)

    def log_prob(self, value):
        D = self.dim
        j = np.arange(1.0, D)   # 0-based rows 1..D-1: order D - (j + 1) + 2 eta - 2

        def lp(L):
            order = 2.0 * self._eta() + (D - 3.0 - j)
            return ad.sum(order * ad.log(_diag(L, 1)), axis=-1) - self._log_normalizer()
        return self._mask(value, lp)

    def _support_point(self, v):
        return np.broadcast_to(np.eye(self.dim), np.broadcast_shapes(v.shape, self.shape()))

    @property
    def mean(self):
        """E[L]: 0 off the diagonal, E[sqrt(1 - y_i)] = B(b_i + 1/2, a_i)/B(b_i, a_i) on it."""
        a, b = self._row_beta()
        m = np.zeros(self.shape())
        i = np.arange(self.dim)
        m[..., i, i] = np.concatenate(
            [np.ones(self.batch_shape + (1,)),
             np.broadcast_to(np.exp(sp.betaln(b + 0.5, a) - sp.betaln(b, a)),
                             self.batch_shape + (self.dim - 1,))], axis=-1)
        return m

    @property
    def variance(self):
        """Var L_ii = b_i/(a_i + b_i) - (E L_ii)^2; Var L_ij = a_i/((a_i + b_i) i) for j < i."""
        a, b = self._row_beta()
        D = self.dim
        v = np.zeros(self.shape())
        i = np.arange(1, D)
        off = np.broadcast_to(a / ((a + b) * i), self.batch_shape + (D - 1,))
        v[..., 1:, :-1] = off[..., None] * np.tri(D - 1)   # (this block holds L_ii, i < D - 1)
        d = np.diagonal(self.mean, axis1=-2, axis2=-1)[..., 1:]
        v[..., i, i] = b / (a + b) - d * d
        return v
