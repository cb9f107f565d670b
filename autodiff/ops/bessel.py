"""Bessel functions (scipy.special's values), elementwise in x; the order n is a fixed number,
not differentiated. Derivatives from the recurrences (Abramowitz and Stegun 9.1.27, 9.6.26):
J_n' = (J_{n-1} - J_{n+1})/2, Y_n' likewise, I_n' = (I_{n-1} + I_{n+1})/2, written with the
functions themselves so that every order differentiates again.
"""

from ..backend import sp
from ..core import primitive
from .elementwise import sign


def _unary(name, fn, deriv, doc):
    return primitive(name, fn, vjp=lambda g, ans, x: g * deriv(ans, x),
                     jvp=lambda t, ans, x: t * deriv(ans, x), elementwise=True, doc=doc)


def _ordered(name, fn, deriv):
    """A primitive fn(n, x) with the order n as a parameter: derivative deriv(ans, x, n)."""
    return primitive(name, lambda x, n: fn(n, x),
                     vjp=lambda g, ans, x, n: g * deriv(ans, x, n),
                     jvp=lambda t, ans, x, n: t * deriv(ans, x, n), elementwise=True)


def _order(name, n, integer):
    if integer and int(n) != n:
        raise ValueError(f"{name}: the order n must be an integer, got {n}")
    return int(n) if integer else float(n)


# ---- first and second kind -----------------------------------------------------------------
_jn = _ordered("jn", sp.jv, lambda ans, x, n: 0.5 * (_jn(x, n=n - 1) - _jn(x, n=n + 1)))
_yn = _ordered("yn", sp.yn, lambda ans, x, n: 0.5 * (_yn(x, n=n - 1) - _yn(x, n=n + 1)))


def jn(n, x):
    """J_n(x), the Bessel function of the first kind of integer order n; differentiable in x."""
    return _jn(x, n=_order("jn", n, True))


def yn(n, x):
    """Y_n(x), the Bessel function of the second kind of integer order n, x > 0."""
    return _yn(x, n=_order("yn", n, True))


j0 = _unary("j0", sp.j0, lambda ans, x: -j1(x), "J_0(x); d/dx = -J_1(x).")
j1 = _unary("j1", sp.j1, lambda ans, x: 0.5 * (j0(x) - _jn(x, n=2)),
            "J_1(x); d/dx = (J_0(x) - J_2(x))/2.")
y0 = _unary("y0", sp.y0, lambda ans, x: -y1(x), "Y_0(x) for x > 0; d/dx = -Y_1(x).")
y1 = _unary("y1", sp.y1, lambda ans, x: 0.5 * (y0(x) - _yn(x, n=2)),
            "Y_1(x) for x > 0; d/dx = (Y_0(x) - Y_2(x))/2.")


# ---- modified, and exponentially scaled ------------------------------------------------------
_iv = _ordered("iv", sp.iv, lambda ans, x, n: 0.5 * (_iv(x, n=n - 1) + _iv(x, n=n + 1)))
# ive(n, x) = iv(n, x) e^-|x|: d/dx = (ive(n-1) + ive(n+1))/2 - sign(x) ive(n)
_ive = _ordered("ive", sp.ive, lambda ans, x, n: 0.5 * (_ive(x, n=n - 1) + _ive(x, n=n + 1))
                - sign(x) * _ive(x, n=n))


def iv(v, x):
    """I_v(x), the modified Bessel function of the first kind of real order v."""
    return _iv(x, n=_order("iv", v, False))


def ive(v, x):
    """I_v(x) e^-|x|, the exponentially scaled I_v: finite where I_v overflows."""
    return _ive(x, n=_order("ive", v, False))


i0 = _unary("i0", sp.i0, lambda ans, x: i1(x), "I_0(x); d/dx = I_1(x).")
i1 = _unary("i1", sp.i1, lambda ans, x: 0.5 * (i0(x) + _iv(x, n=2.0)),
            "I_1(x); d/dx = (I_0(x) + I_2(x))/2.")
