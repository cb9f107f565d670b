"""Bijectors between unconstrained space and the supports in `ppl.constraints`, and
`biject_to(constraint)`, the default bijector for each support (as Stan and NumPyro).

Every transform has `forward(x)` (also `t(x)`), `inverse(y)`, `log_abs_det_jacobian(x, y)`
(log|det J| between the free coordinates, one number per event), `domain`, `codomain`, a cached
`inv`, `event_dim`/`unconstrained_event_dim`, and `forward_shape`/`inverse_shape`. The
unconstrained side is a scalar or a flat vector per event. All of it is written in engine ops:
differentiable to any order in x and in Tensor parameters (bounds that depend on parameters).

    >>> import numpy as np
    >>> from ppl import constraints
    >>> from ppl.transforms import biject_to
    >>> t = biject_to(constraints.simplex)
    >>> t
    StickBreakingTransform()
    >>> y = t(np.array([0.5, -1.0]))
    >>> bool(constraints.simplex.check(y)), t.inv(y).round(12)
    (True, array([ 0.5, -1. ]))
"""
from .base import ComposeTransform, ConstraintRegistry, IndependentTransform, Transform, biject_to
from .matrix import (CholeskyProductTransform, CorrCholeskyTransform, LowerCholeskyTransform,
                     PositiveDefiniteTransform)
from .scalar import (AffineTransform, ExpTransform, IdentityTransform, IntervalTransform,
                     LowerBoundTransform, SigmoidTransform, SoftplusTransform, UpperBoundTransform)
from .vector import OrderedTransform, PositiveOrderedTransform, StickBreakingTransform

__all__ = ["Transform", "ComposeTransform", "IndependentTransform", "ConstraintRegistry",
           "biject_to", "IdentityTransform", "ExpTransform", "SoftplusTransform",
           "AffineTransform", "SigmoidTransform", "IntervalTransform", "LowerBoundTransform",
           "UpperBoundTransform", "StickBreakingTransform", "OrderedTransform",
           "PositiveOrderedTransform", "CorrCholeskyTransform", "LowerCholeskyTransform",
           "CholeskyProductTransform", "PositiveDefiniteTransform"]
