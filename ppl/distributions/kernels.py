"""Fused log densities: one engine primitive (one tape entry) for the hottest families.

Written as compositions, Normal's log density records six operations per call (subtract,
divide, two multiplies, log, subtract); a hierarchical model evaluates several per ADVI step,
and the engine's cost is per recorded operation. Here the forward pass is plain numpy and the
derivative rules are written with engine ops, so derivatives of any order still work (Hessians
for Laplace and Newton). Tested against the composed formula and finite differences in
tests/ppl/test_kernels.py.
"""
import math

import numpy as np

from autodiff import primitive, sigmoid

__all__ = ["normal_log_prob", "bernoulli_logits_log_prob"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _normal_fwd(x, loc, scale):
    r = (x - loc) / scale
    return -0.5 * (r * r) - (np.log(scale) + _HALF_LOG_2PI)


# with r = (x - loc) / scale:  d/dx = -r / scale,  d/dloc = r / scale,  d/dscale = (r^2 - 1) / scale
def _dx(x, loc, scale):
    return (loc - x) / (scale * scale)


def _dscale(x, loc, scale):
    r = (x - loc) / scale
    return (r * r - 1.0) / scale


normal_log_prob = primitive(
    "normal_log_prob", _normal_fwd,
    vjp=(lambda g, ans, x, loc, scale: g * _dx(x, loc, scale),
         lambda g, ans, x, loc, scale: g * -_dx(x, loc, scale),
         lambda g, ans, x, loc, scale: g * _dscale(x, loc, scale)),
    jvp=(lambda t, ans, x, loc, scale: t * _dx(x, loc, scale),
         lambda t, ans, x, loc, scale: t * -_dx(x, loc, scale),
         lambda t, ans, x, loc, scale: t * _dscale(x, loc, scale)),
    elementwise=True,
    doc="log N(x | loc, scale) = -((x - loc)/scale)^2 / 2 - log scale - log(2 pi)/2, "
        "elementwise and broadcasting, as one primitive.")


def _bernoulli_logits_fwd(x, logits):
    # softplus(l) = max(l, 0) + log1p(e^-|l|): x l - max(l, 0) is exact for x in {0, 1}
    return (x * logits - np.maximum(logits, 0.0)) - np.log1p(np.exp(-np.abs(logits)))


bernoulli_logits_log_prob = primitive(
    "bernoulli_logits_log_prob", _bernoulli_logits_fwd,
    vjp=(lambda g, ans, x, logits: g * logits,
         lambda g, ans, x, logits: g * (x - sigmoid(logits))),
    jvp=(lambda t, ans, x, logits: t * logits,
         lambda t, ans, x, logits: t * (x - sigmoid(logits))),
    elementwise=True,
    doc="log Bernoulli(x | logits) = x logits - log(1 + e^logits), elementwise, as one "
        "primitive (d/dlogits = x - sigmoid(logits)); a logistic regression's whole "
        "likelihood is one tape entry.")
