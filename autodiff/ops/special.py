"""Special functions (scipy.special's forward values), elementwise and broadcasting.

Each derivative is written with engine ops, so it can be differentiated again: lgamma's rule
calls digamma, digamma's calls polygamma(1, .), polygamma(n, .)'s calls polygamma(n + 1, .).
Constants are Python floats, so float32 inputs stay float32.
"""
import math

from ..backend import np, sp
from ..core import primitive
from ..tensor import getval
from .elementwise import exp, log, log1p, where

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _unary(name, fn, deriv, doc):
    """An elementwise primitive whose derivative is deriv(ans, x)."""
    return primitive(name, fn, vjp=lambda g, ans, x: g * deriv(ans, x),
                     jvp=lambda t, ans, x: t * deriv(ans, x), elementwise=True, doc=doc)


# ---- gamma family ------------------------------------------------------------------------------
def _polygamma_fwd(x, n):
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    return np.asarray(sp.polygamma(n, x), dtype=dtype)  # scipy returns float64 for float32


_polygamma = primitive("polygamma", _polygamma_fwd,
                       vjp=lambda g, ans, x, n: g * _polygamma(x, n=n + 1),
                       jvp=lambda t, ans, x, n: t * _polygamma(x, n=n + 1), elementwise=True)


def polygamma(n, x):
    """psi^(n)(x) = d^(n+1)/dx^(n+1) log Gamma(x), for an integer n >= 0; differentiable in x."""
    if int(n) != n or n < 0:
        raise ValueError(f"polygamma: the order n must be an integer >= 0, got {n}")
    return _polygamma(x, n=int(n))


digamma = _unary("digamma", sp.digamma, lambda ans, x: _polygamma(x, n=1),
                 "psi(x) = d/dx log Gamma(x); d/dx = polygamma(1, x).")
lgamma = _unary("lgamma", sp.gammaln, lambda ans, x: digamma(x),
                "log|Gamma(x)|; d/dx = digamma(x).")

gammaln = lgamma

betaln = primitive(
    "betaln", sp.betaln,  # scipy's betaln is accurate where lgamma(a)+lgamma(b)-lgamma(a+b) cancels
    vjp=(lambda g, ans, a, b: g * (digamma(a) - digamma(a + b)),
         lambda g, ans, a, b: g * (digamma(b) - digamma(a + b))),
    jvp=(lambda t, ans, a, b: t * (digamma(a) - digamma(a + b)),
         lambda t, ans, a, b: t * (digamma(b) - digamma(a + b))), elementwise=True,
    doc="log|B(a, b)| = lgamma(a) + lgamma(b) - lgamma(a + b); "
        "d/da = digamma(a) - digamma(a + b).")

# ---- error function and the normal distribution ------------------------------------------------
erf = _unary("erf", sp.erf, lambda ans, x: _TWO_OVER_SQRT_PI * exp(-(x * x)),
              "2/sqrt(pi) int_0^x e^(-t^2) dt; d/dx = 2/sqrt(pi) e^(-x^2).")
erfc = _unary("erfc", sp.erfc, lambda ans, x: -_TWO_OVER_SQRT_PI * exp(-(x * x)),
              "1 - erf(x), accurate for large x; d/dx = -2/sqrt(pi) e^(-x^2).")
ndtr = _unary("ndtr", sp.ndtr, lambda ans, x: _INV_SQRT_2PI * exp(-0.5 * (x * x)),
              "Phi(x), the standard normal cdf; d/dx = phi(x) = e^(-x^2/2)/sqrt(2 pi).")
# phi(x)/Phi(x) as one exponential: finite far in the left tail, where both underflow
log_ndtr = _unary("log_ndtr", sp.log_ndtr,
                  lambda ans, x: _INV_SQRT_2PI * exp(-0.5 * (x * x) - ans),
                  "log Phi(x), finite for very negative x; d/dx = phi(x)/Phi(x).")

# ---- x log y -----------------------------------------------------------------------------------
def _both_zero(x, y, y0):
    # where x == 0 and y == y0 the function is 0 by convention and x log y has no derivative:
    # substituting y = 1 + y0 there makes both partials 0 instead of nan
    return (np.asarray(getval(x)) == 0) & (np.asarray(getval(y)) == y0)


def _safe_y(x, y, y0):
    return where(_both_zero(x, y, y0), 1.0 + y0, y)


xlogy = primitive("xlogy", sp.xlogy,
                   vjp=(lambda g, ans, x, y: g * log(_safe_y(x, y, 0.0)),
                        lambda g, ans, x, y: g * x / _safe_y(x, y, 0.0)),
                   jvp=(lambda t, ans, x, y: t * log(_safe_y(x, y, 0.0)),
                        lambda t, ans, x, y: t * x / _safe_y(x, y, 0.0)), elementwise=True,
                  doc="x log(y), and 0 where x == 0 (even for y == 0); d/dx = log y, "
                      "d/dy = x / y.")
xlog1py = primitive("xlog1py", sp.xlog1py,
                     vjp=(lambda g, ans, x, y: g * log1p(_safe_y(x, y, -1.0)),
                          lambda g, ans, x, y: g * x / (1.0 + _safe_y(x, y, -1.0))),
                     jvp=(lambda t, ans, x, y: t * log1p(_safe_y(x, y, -1.0)),
                          lambda t, ans, x, y: t * x / (1.0 + _safe_y(x, y, -1.0))),
                     elementwise=True,
                     doc="x log(1 + y), and 0 where x == 0; d/dx = log1p(y), d/dy = x / (1 + y).")
