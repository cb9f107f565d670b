"""Trigonometric, hyperbolic and inverse functions, and the other elementwise functions numpy
users reach for: log2, log10, exp2, logaddexp, logaddexp2, hypot, arctan2, mod, fmod.

Composed from the primitives where that is exact and stable (sinh from expm1, log2 from log);
primitives where a composition loses accuracy (arcsinh(x) = log(x + sqrt(x^2 + 1)) cancels for
x < 0; logaddexp overflows as log(e^x + e^y)) or where numpy's function is the only clean form.
"""
import math

from ..backend import np
from ..core import primitive
from ..values import value_op
from .elementwise import exp, expm1, log, sqrt

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _unary(name, fn, deriv, doc):
    """An elementwise primitive whose derivative is deriv(ans, x)."""
    return primitive(name, fn, vjp=lambda g, ans, x: g * deriv(ans, x),
                     jvp=lambda t, ans, x: t * deriv(ans, x), elementwise=True, doc=doc)


# ---- inverse trigonometric ---------------------------------------------------------------------
arcsin = _unary("arcsin", np.arcsin, lambda ans, x: 1.0 / sqrt(1.0 - x * x),
                "asin x on [-1, 1]; d/dx = 1/sqrt(1 - x^2).")
arccos = _unary("arccos", np.arccos, lambda ans, x: -1.0 / sqrt(1.0 - x * x),
                "acos x on [-1, 1]; d/dx = -1/sqrt(1 - x^2).")
arctan = _unary("arctan", np.arctan, lambda ans, x: 1.0 / (1.0 + x * x),
                "atan x; d/dx = 1/(1 + x^2).")


def _atan2_d(y, x):
    return 1.0 / (x * x + y * y)


arctan2 = primitive("arctan2", np.arctan2,
                    vjp=(lambda g, ans, y, x: g * x * _atan2_d(y, x),
                         lambda g, ans, y, x: -g * y * _atan2_d(y, x)),
                    jvp=(lambda t, ans, y, x: t * x * _atan2_d(y, x),
                         lambda t, ans, y, x: -t * y * _atan2_d(y, x)), elementwise=True,
                    doc="The angle of the point (x, y), atan2(y, x); d/dy = x/(x^2 + y^2), "
                        "d/dx = -y/(x^2 + y^2).")
hypot = primitive("hypot", np.hypot,  # numpy's form does not overflow where x^2 + y^2 would
                  vjp=(lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans),
                  jvp=(lambda t, ans, x, y: t * x / ans, lambda t, ans, x, y: t * y / ans),
                  elementwise=True,
                  doc="sqrt(x^2 + y^2) without overflow; d/dx = x / hypot(x, y).")


# ---- hyperbolic --------------------------------------------------------------------------------
def sinh(x):
    """(e^x - e^-x)/2, as (expm1(x) - expm1(-x))/2: accurate near 0 where e^x - e^-x cancels."""
    return 0.5 * (expm1(x) - expm1(-x))


def cosh(x):
    """(e^x + e^-x)/2."""
    return 0.5 * (exp(x) + exp(-x))


arcsinh = _unary("arcsinh", np.arcsinh, lambda ans, x: 1.0 / sqrt(x * x + 1.0),
                 "asinh x; d/dx = 1/sqrt(x^2 + 1).")
arccosh = _unary("arccosh", np.arccosh, lambda ans, x: 1.0 / sqrt((x - 1.0) * (x + 1.0)),
                 "acosh x for x >= 1; d/dx = 1/sqrt(x^2 - 1).")
arctanh = _unary("arctanh", np.arctanh, lambda ans, x: 1.0 / ((1.0 - x) * (1.0 + x)),
                 "atanh x on (-1, 1); d/dx = 1/(1 - x^2).")


# ---- logarithms and exponentials in other bases ------------------------------------------------
def log2(x):
    """log x / log 2."""
    return log(x) * (1.0 / _LN2)


def log10(x):
    """log x / log 10."""
    return log(x) * (1.0 / _LN10)


def exp2(x):
    """2^x = e^(x log 2)."""
    return exp(x * _LN2)


logaddexp = primitive("logaddexp", np.logaddexp,  # log(e^x + e^y) overflows: numpy's does not
                      vjp=(lambda g, ans, x, y: g * exp(x - ans),
                           lambda g, ans, x, y: g * exp(y - ans)),
                      jvp=(lambda t, ans, x, y: t * exp(x - ans),
                           lambda t, ans, x, y: t * exp(y - ans)), elementwise=True,
                      doc="log(e^x + e^y), finite for any finite x, y; d/dx = e^(x - ans).")


def logaddexp2(x, y):
    """log2(2^x + 2^y) = logaddexp(x log 2, y log 2) / log 2."""
    return logaddexp(x * _LN2, y * _LN2) * (1.0 / _LN2)


# ---- remainders: piecewise linear, the jumps have no derivative ---------------------------------
def _quotient(round_, x, y):
    return value_op(_rounded_ratio, x, y, round_=round_)  # per row under vmap


def _rounded_ratio(x, y, round_):
    with np.errstate(divide="ignore", invalid="ignore"):
        return round_(np.asarray(x) / np.asarray(y))


mod = primitive("mod", np.mod,
                vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: -g * _quotient(np.floor, x, y)),
                jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: -t * _quotient(np.floor, x, y)),
                elementwise=True,
                doc="x mod y = x - floor(x/y) y, with the sign of y (Python's %, numpy.mod); "
                    "d/dx = 1, d/dy = -floor(x/y) away from the jumps.")
remainder = mod
fmod = primitive("fmod", np.fmod,
                 vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: -g * _quotient(np.trunc, x, y)),
                 jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: -t * _quotient(np.trunc, x, y)),
                 elementwise=True,
                 doc="x - trunc(x/y) y, with the sign of x (C's fmod); d/dy = -trunc(x/y).")
