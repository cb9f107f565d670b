"""Improper priors: ImproperUniform(support, batch_shape, event_shape), Flat() and HalfFlat().

log p(x) = 0 on the support and -inf outside it: the "density" of Stan's unbounded default
priors and PyMC's Flat / HalfFlat (a constant that does not integrate to 1). They have no draws
and no moments. ADVI never needs either: it draws latents from its own Gaussian guide and
initialises them in unconstrained space (Stan's uniform(-2, 2)).
"""
import numpy as np

import autodiff as ad

from .. import constraints
from .base import Distribution

__all__ = ["ImproperUniform", "Flat", "HalfFlat"]


class ImproperUniform(Distribution):
    """ImproperUniform(support, batch_shape, event_shape): log p(x) = 0 for x in support, else -inf.

    When event_shape has more axes than support.event_dim, the extra ones are folded into the
    event (NumPyro's convention): ImproperUniform(positive, (), (3,)) is a positive 3-vector.

    >>> float(ImproperUniform(constraints.positive, (), ()).log_prob(2.0))
    0.0
    """
    arg_constraints = {}

    def __init__(self, support, batch_shape=(), event_shape=(), *, validate_args=None):
        if not isinstance(support, constraints.Constraint):
            raise TypeError(f"ImproperUniform: 'support' must be a constraint (such as "
                            f"constraints.positive), got {support!r}")
        batch_shape, event_shape = tuple(batch_shape), tuple(event_shape)
        extra = len(event_shape) - support.event_dim
        if extra < 0:
            raise ValueError(f"ImproperUniform: event_shape {event_shape} has fewer axes than "
                             f"the support {support!r} needs ({support.event_dim})")
        self.support = constraints.independent(support, extra) if extra else support
        self.is_discrete = support.is_discrete
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        raise NotImplementedError(
            f"{type(self).__name__} is improper and cannot be sampled; ADVI draws latents from "
            "its own guide (and initialises them in unconstrained space), so it never needs to")

    def log_prob(self, value):
        """0 where value is in the support, -inf elsewhere, as a numpy array of shape
        sample_shape + batch_shape (a constant: no gradient to carry)."""
        v = ad.stop_gradient(value)  # under vmap each draw's own, boxed
        ok = self.support.check(v)
        shape = np.broadcast_shapes(ok.shape, self.batch_shape)
        dtype = v.dtype if np.issubdtype(v.dtype, np.floating) else np.float64
        lp = ad.where(ok, dtype.type(0.0), dtype.type(-np.inf))
        if lp.shape == shape:
            return lp
        return ad.broadcast_to(lp, shape) if isinstance(lp, ad.Tensor) \
            else np.array(np.broadcast_to(lp, shape))

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} is improper: it has no mean")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} is improper: it has no variance")

    def __repr__(self):
        return (f"{type(self).__name__}({self.support!r}, batch_shape={self.batch_shape}, "
                f"event_shape={self.event_shape})")


class Flat(ImproperUniform):
    """Flat(): log p(x) = 0 for every real x (PyMC's Flat; Stan's default for a real parameter).

    >>> float(Flat().log_prob(-3.0))
    0.0
    """

    def __init__(self, batch_shape=(), event_shape=(), *, validate_args=None):
        super().__init__(constraints.real, batch_shape, event_shape, validate_args=validate_args)


class HalfFlat(ImproperUniform):
    """HalfFlat(): log p(x) = 0 for x > 0, -inf otherwise (PyMC's HalfFlat; Stan's default for a
    parameter declared <lower=0>).

    >>> float(HalfFlat().log_prob(-1.0))
    -inf
    """

    def __init__(self, batch_shape=(), event_shape=(), *, validate_args=None):
        super().__init__(constraints.positive, batch_shape, event_shape,
                         validate_args=validate_args)
