"""Cumulative distribution functions: `cdf`, `log_cdf` and `icdf` (the quantile function) of
the continuous univariate families, in engine ops, so that each is differentiable in the value
and in the parameters wherever a closed form exists (censored and truncated likelihoods need
them). Where none exists the engine's rule mechanism says so: the Gamma cdf goes through
`gammainc(concentration, rate x)`, so differentiating it in the concentration raises "no VJP for
`gammainc` w.r.t. argument 0" (likewise StudentT's df, Beta's concentrations, ChiSquared's df).

Each family registers its functions with `register(cls, cdf=..., log_cdf=..., icdf=...)`;
`Distribution.cdf`, `.log_cdf` and `.icdf` look them up (a missing `cdf` is exp(log_cdf), a
missing `log_cdf` is log(cdf)). Outside the support the cdf is 0 (below) or 1 (above), with
zero gradient; icdf is NaN outside [0, 1].
"""
import math

import numpy as np

import autodiff as ad

from . import bounded as B
from . import continuous as C
from . import positive as P
from .base import CDFS

_SQRT2 = math.sqrt(2.0)
_LOG_2 = math.log(2.0)


def register(cls, cdf=None, log_cdf=None, icdf=None):
    """Register a family's cdf(d, x), log_cdf(d, x) and icdf(d, q) (any may be None)."""
    CDFS[cls] = {"cdf": cdf, "log_cdf": log_cdf, "icdf": icdf}


def on_support(x, lo, hi, f, below, above, strict=False):
    """f(x) where lo <= x <= hi (lo < x with strict), `below` / `above` outside and NaN at NaN.
    f is evaluated at a point inside where x is outside, so no NaN reaches the gradient."""
    v = ad.stop_gradient(x)  # under vmap each row's own values, boxed
    lo_v = -np.inf if lo is None else ad.stop_gradient(lo)
    hi_v = np.inf if hi is None else ad.stop_gradient(hi)
    with np.errstate(invalid="ignore"):
        low = v <= lo_v if strict else v < lo_v
        high = v > hi_v
    nan = np.isnan(v)
    inside = ~(low | high | nan)
    if inside.all():
        return f(x)
    if lo is not None and hi is not None:
        safe = 0.5 * (lo_v + hi_v)
    else:
        safe = lo_v + 1.0 if lo is not None else (hi_v - 1.0 if hi is not None else 0.0)
    out = f(ad.where(inside, x, np.broadcast_to(safe, inside.shape)))
    out = ad.where(low, below, out)
    out = ad.where(high, above, out)
    return ad.where(nan, np.nan, out) if nan.any() else out


def _quantile(q, f):
    """f(q) on [0, 1], NaN outside."""
    return on_support(q, 0.0, 1.0, f, np.nan, np.nan)


def _z(d, x):
    return (x - d.loc) / d.scale


# ---- the real line ------------------------------------------------------------------------------
register(C.Normal,
         cdf=lambda d, x: ad.ndtr(_z(d, x)),
         log_cdf=lambda d, x: ad.log_ndtr(_z(d, x)),
         icdf=lambda d, q: _quantile(q, lambda q: d.loc + d.scale * ad.ndtri(q)))
# atan2(1, -z)/pi = 1/2 + atan(z)/pi, without the cancellation in the left tail
register(C.Cauchy,
         cdf=lambda d, x: ad.arctan2(1.0, -_z(d, x)) * (1.0 / math.pi),
         icdf=lambda d, q: _quantile(q, lambda q: d.loc + d.scale * ad.tan(math.pi * (q - 0.5))))
register(C.Logistic,
         cdf=lambda d, x: ad.sigmoid(_z(d, x)),
         log_cdf=lambda d, x: ad.log_sigmoid(_z(d, x)),
         icdf=lambda d, q: _quantile(q, lambda q: d.loc + d.scale * ad.logit(q)))


def _laplace_log_cdf(d, x):
    z = _z(d, x)
    neg = ad.stop_gradient(z) < 0
    zl, zr = ad.where(neg, z, 0.0), ad.where(neg, 0.0, z)  # each branch at a safe point
    return ad.where(neg, zl - _LOG_2, ad.log1p(-0.5 * ad.exp(-zr)))


def _laplace_icdf(d, q):
    s = q - 0.5
    sign = ad.sign(s)
    return d.loc - d.scale * sign * ad.log1p(-2.0 * ad.abs(s))


register(C.Laplace, log_cdf=_laplace_log_cdf,
         icdf=lambda d, q: _quantile(q, lambda q: _laplace_icdf(d, q)))


def _t_tail(df, z):
    """P(T > |z|) for Student's t: I_{df/(df+z^2)}(df/2, 1/2) / 2."""
    return 0.5 * ad.betainc(0.5 * df, 0.5, df / (df + z * z))


def _t_cdf(df, z):
    # Near z = 0 the betainc form's derivative is 0 * inf (its x = 1 end): there the cdf is
    # 1/2 + t_pdf(0) z, exact to rounding for |z| < 1e-8 (the next term is O(z^3)).
    zv = ad.stop_gradient(z)
    small = ad.abs(zv) < 1e-8
    z_safe = ad.where(small, 1.0, z)
    tail = _t_tail(df, z_safe)
    pdf0 = ad.exp(ad.gammaln(0.5 * (df + 1.0)) - ad.gammaln(0.5 * df)) / ad.sqrt(np.pi * df)
    return ad.where(small, 0.5 + pdf0 * z, ad.where(zv > 0, 1.0 - tail, tail))


def _t_abs_quantile(df, p):
    """|t| with P(|T| > |t|) = p: from y = z^2/(df + z^2) for p near 1 (small |t|), from
    x = df/(df + z^2) otherwise; each form keeps its small quantity without cancellation."""
    near = ad.stop_gradient(p) > 0.5
    pn, pf = ad.where(near, p, 0.75), ad.where(near, 0.25, p)
    y = ad.betaincinv(0.5, 0.5 * df, 1.0 - pn)
    x = ad.betaincinv(0.5 * df, 0.5, pf)
    return ad.where(near, ad.sqrt(df * y / (1.0 - y)), ad.sqrt(df * (1.0 - x) / x))


def _t_icdf(d, q):
    lower = ad.stop_gradient(q) < 0.5
    p = ad.where(lower, 2.0 * q, 2.0 * (1.0 - q))  # P(|T| > |t|)
    t = _t_abs_quantile(d.df, p)
    return d.loc + d.scale * ad.where(lower, -t, t)


register(C.StudentT, cdf=lambda d, x: _t_cdf(d.df, _z(d, x)),
         icdf=lambda d, q: _quantile(q, lambda q: _t_icdf(d, q)))


# ---- bounded ------------------------------------------------------------------------------------
register(B.Uniform,
         cdf=lambda d, x: on_support(x, d.low, d.high, lambda x: (x - d.low) / (d.high - d.low),
                                     0.0, 1.0),
         icdf=lambda d, q: _quantile(q, lambda q: d.low + q * (d.high - d.low)))
register(B.Beta,
         cdf=lambda d, x: on_support(x, 0.0, 1.0, lambda x: ad.betainc(
             d.concentration1, d.concentration0, x), 0.0, 1.0),
         icdf=lambda d, q: _quantile(q, lambda q: ad.betaincinv(
             d.concentration1, d.concentration0, q)))


def _truncnorm_log_cdf(d, x):
    def f(x):
        z = _z(d, x)
        if d.low is None:
            return ad.log_ndtr(z) - d._log_normalizer()
        a = (d.low - d.loc) / d.scale
        return B._log_ndtr_diff(a, z) - d._log_normalizer()
    return on_support(x, d.low, d.high, f, -np.inf, 0.0)


def _truncnorm_icdf(d, q):
    # Phi(x) = Phi(a) + q (Phi(b) - Phi(a)), reflected where a + b > 0 so that Phi is taken
    # in its accurate left tail (as `sample`); a missing bound is a constant 0 or 1, not
    # Phi(+-inf), so that no infinity enters the derivatives
    a = None if d.low is None else (d.low - d.loc) / d.scale
    b = None if d.high is None else (d.high - d.loc) / d.scale
    if a is None:
        z = ad.ndtri(q if b is None else q * ad.ndtr(b))
    elif b is None:  # reflected: Phi(-x) = (1 - q) Phi(-a)
        z = -ad.ndtri((1.0 - q) * ad.ndtr(-a))
    else:
        flip = ad.stop_gradient(a) > -ad.stop_gradient(b)
        lo, hi = ad.where(flip, -b, a), ad.where(flip, -a, b)
        u = ad.where(flip, 1.0 - q, q)
        plo, phi = ad.ndtr(lo), ad.ndtr(hi)
        z = ad.ndtri(plo + u * (phi - plo))
        z = ad.where(flip, -z, z)
    return d.loc + d.scale * z


register(B.TruncatedNormal, log_cdf=_truncnorm_log_cdf,
         icdf=lambda d, q: _quantile(q, lambda q: _truncnorm_icdf(d, q)))


# ---- the positive half-line ---------------------------------------------------------------------
def _positive(f, strict=False):
    """A cdf on [0, inf) (on (0, inf) with strict): 0 below."""
    return lambda d, x: on_support(x, 0.0, None, lambda x: f(d, x), 0.0, 1.0, strict)


def _log_positive(f, strict=False):
    return lambda d, x: on_support(x, 0.0, None, lambda x: f(d, x), -np.inf, 0.0, strict)


register(P.HalfNormal,
         cdf=_positive(lambda d, x: ad.erf(x / (d.scale * _SQRT2))),
         icdf=lambda d, q: _quantile(q, lambda q: d.scale * _SQRT2 * ad.erfinv(q)))
register(P.HalfCauchy,
         cdf=_positive(lambda d, x: ad.arctan(x / d.scale) * (2.0 / math.pi)),
         icdf=lambda d, q: _quantile(q, lambda q: d.scale * ad.tan(q * (math.pi / 2.0))))
register(P.HalfStudentT,
         cdf=_positive(lambda d, x: 1.0 - 2.0 * _t_tail(d.df, x / d.scale)),
         icdf=lambda d, q: _quantile(q, lambda q: d.scale * _t_abs_quantile(d.df, 1.0 - q)))
register(P.LogNormal,
         cdf=_positive(lambda d, x: ad.ndtr((ad.log(x) - d.loc) / d.scale), strict=True),
         log_cdf=_log_positive(lambda d, x: ad.log_ndtr((ad.log(x) - d.loc) / d.scale),
                               strict=True),
         icdf=lambda d, q: _quantile(q, lambda q: ad.exp(d.loc + d.scale * ad.ndtri(q))))
register(P.Exponential,
         cdf=_positive(lambda d, x: -ad.expm1(-d.rate * x)),
         log_cdf=_log_positive(lambda d, x: B._log1mexp(-d.rate * x)),
         icdf=lambda d, q: _quantile(q, lambda q: -ad.log1p(-q) / d.rate))
register(P.Gamma,
         cdf=_positive(lambda d, x: ad.gammainc(d.concentration, d.rate * x)),
         icdf=lambda d, q: _quantile(q, lambda q: ad.gammaincinv(d.concentration, q) / d.rate))
register(P.InverseGamma,
         cdf=_positive(lambda d, x: ad.gammaincc(d.concentration, d.rate / x), strict=True),
         icdf=lambda d, q: _quantile(q, lambda q: d.rate / ad.gammaincinv(d.concentration,
                                                                          1.0 - q)))
register(P.Weibull,
         cdf=_positive(lambda d, x: -ad.expm1(-(x / d.scale) ** d.concentration)),
         log_cdf=_log_positive(lambda d, x: B._log1mexp(-(x / d.scale) ** d.concentration)),
         icdf=lambda d, q: _quantile(q, lambda q: d.scale * (-ad.log1p(-q))
                                     ** (1.0 / d.concentration)))
register(P.ChiSquared,
         cdf=_positive(lambda d, x: ad.gammainc(0.5 * d.df, 0.5 * x)),
         icdf=lambda d, q: _quantile(q, lambda q: 2.0 * ad.gammaincinv(0.5 * d.df, q)))
