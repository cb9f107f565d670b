"""Special functions (scipy.special's forward values), elementwise and broadcasting.

Each derivative is written with engine ops, so it can be differentiated again: lgamma's rule
calls digamma, digamma's calls polygamma(1, .), polygamma(n, .)'s calls polygamma(n + 1, .).
Constants are Python floats, so float32 inputs stay float32.
"""
import math

from ..backend import np, sp
from ..core import primitive
from ..tensor import getval
from ..values import value_op
from .elementwise import exp, log, log1p, where
from .reductions import sum
from .shape import expand_dims

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


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
psi = digamma
gamma = _unary("gamma", sp.gamma, lambda ans, x: ans * digamma(x),
               "Gamma(x); d/dx = Gamma(x) digamma(x).")
rgamma = _unary("rgamma", sp.rgamma, lambda ans, x: -ans * digamma(x),
                "1/Gamma(x), 0 at the poles of Gamma; d/dx = -digamma(x)/Gamma(x).")


def gammasgn(x):
    """The sign of Gamma(x), as a numpy array: its derivative is zero almost everywhere."""
    return value_op(sp.gammasgn, x)


def multigammaln(a, d):
    """log of the multivariate gamma function, log Gamma_d(a) = d(d-1)/4 log pi
    + sum_{j<d} lgamma(a - j/2), for a > (d - 1)/2; differentiable in a."""
    if int(d) != d or d < 1:
        raise ValueError(f"multigammaln: the dimension d must be an integer >= 1, got {d}")
    d = int(d)
    const = d * (d - 1) / 4.0 * math.log(math.pi)
    half_j = np.arange(d, dtype=np.result_type(getval(a), np.float32)) / 2  # float32 stays
    return sum(lgamma(expand_dims(a, -1) - half_j), axis=-1) + const

betaln = primitive(
    "betaln", sp.betaln,  # scipy's betaln is accurate where lgamma(a)+lgamma(b)-lgamma(a+b) cancels
    vjp=(lambda g, ans, a, b: g * (digamma(a) - digamma(a + b)),
         lambda g, ans, a, b: g * (digamma(b) - digamma(a + b))),
    jvp=(lambda t, ans, a, b: t * (digamma(a) - digamma(a + b)),
         lambda t, ans, a, b: t * (digamma(b) - digamma(a + b))), elementwise=True,
    doc="log|B(a, b)| = lgamma(a) + lgamma(b) - lgamma(a + b); "
        "d/da = digamma(a) - digamma(a + b).")

beta = primitive(
    "beta", sp.beta,
    vjp=(lambda g, ans, a, b: g * ans * (digamma(a) - digamma(a + b)),
         lambda g, ans, a, b: g * ans * (digamma(b) - digamma(a + b))),
    jvp=(lambda t, ans, a, b: t * ans * (digamma(a) - digamma(a + b)),
         lambda t, ans, a, b: t * ans * (digamma(b) - digamma(a + b))), elementwise=True,
    doc="B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b); d/da = B(a, b) (digamma(a) - "
        "digamma(a + b)).")


# ---- incomplete gamma and beta: differentiable in x only (no closed form in the shapes) ------
def _gammainc_dx(a, x):
    # x^(a-1) e^-x / Gamma(a), as one exponential
    return exp(xlogy(a - 1.0, x) - x - lgamma(a))


gammainc = primitive("gammainc", sp.gammainc,
                     vjp=(None, lambda g, ans, a, x: g * _gammainc_dx(a, x)),
                     jvp=(None, lambda t, ans, a, x: t * _gammainc_dx(a, x)), elementwise=True,
                     doc="P(a, x) = gamma(a, x)/Gamma(a), the regularised lower incomplete gamma "
                         "function; d/dx = x^(a-1) e^-x / Gamma(a); not differentiable in a.")
gammaincc = primitive("gammaincc", sp.gammaincc,
                      vjp=(None, lambda g, ans, a, x: -g * _gammainc_dx(a, x)),
                      jvp=(None, lambda t, ans, a, x: -t * _gammainc_dx(a, x)),
                      elementwise=True,
                      doc="Q(a, x) = 1 - P(a, x), the regularised upper incomplete gamma "
                          "function; d/dx = -x^(a-1) e^-x / Gamma(a); not differentiable in a.")


def _betainc_dx(a, b, x):
    # x^(a-1) (1-x)^(b-1) / B(a, b), as one exponential
    return exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - betaln(a, b))


betainc = primitive("betainc", sp.betainc,
                    vjp=(None, None, lambda g, ans, a, b, x: g * _betainc_dx(a, b, x)),
                    jvp=(None, None, lambda t, ans, a, b, x: t * _betainc_dx(a, b, x)),
                    elementwise=True,
                    doc="I_x(a, b), the regularised incomplete beta function; "
                        "d/dx = x^(a-1) (1-x)^(b-1) / B(a, b); not differentiable in a, b.")


# the inverses in the last argument: dx/dq = 1 / (the derivative above at x = ans)
gammaincinv = primitive(
    "gammaincinv", sp.gammaincinv,
    vjp=(None, lambda g, ans, a, q: g / _gammainc_dx(a, ans)),
    jvp=(None, lambda t, ans, a, q: t / _gammainc_dx(a, ans)), elementwise=True,
    doc="x with gammainc(a, x) = q; d/dq = Gamma(a) x^(1-a) e^x; not differentiable in a.")
betaincinv = primitive(
    "betaincinv", sp.betaincinv,
    vjp=(None, None, lambda g, ans, a, b, q: g / _betainc_dx(a, b, ans)),
    jvp=(None, None, lambda t, ans, a, b, q: t / _betainc_dx(a, b, ans)), elementwise=True,
    doc="x with betainc(a, b, x) = q; d/dq = B(a, b) x^(1-a) (1-x)^(1-b); not "
        "differentiable in a, b.")


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

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0
erfinv = _unary("erfinv", sp.erfinv, lambda ans, x: _SQRT_PI_OVER_2 * exp(ans * ans),
                "The inverse of erf on (-1, 1); d/dx = sqrt(pi)/2 e^(erfinv(x)^2).")
erfcinv = _unary("erfcinv", sp.erfcinv, lambda ans, x: -_SQRT_PI_OVER_2 * exp(ans * ans),
                 "The inverse of erfc on (0, 2); d/dx = -sqrt(pi)/2 e^(erfcinv(x)^2).")
ndtri = _unary("ndtri", sp.ndtri, lambda ans, x: _SQRT_2PI * exp(0.5 * (ans * ans)),
               "Phi^-1(p), the standard normal quantile; d/dp = 1/phi(Phi^-1(p)).")
logit = _unary("logit", sp.logit, lambda ans, x: 1.0 / (x * (1.0 - x)),
               "log(x / (1 - x)) on (0, 1); d/dx = 1/(x (1 - x)).")


# ---- x log y -----------------------------------------------------------------------------------
def _both_zero(x, y, y0):
    # where x == 0 and y == y0 the function is 0 by convention and x log y has no derivative:
    # substituting y = 1 + y0 there makes both partials 0 instead of nan
    return value_op(_zero_at, x, y, y0=y0)  # per row under vmap


def _zero_at(x, y, y0):
    return (np.asarray(x) == 0) & (np.asarray(y) == y0)


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
