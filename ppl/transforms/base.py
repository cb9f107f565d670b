"""The Transform interface, its inverse, composition and `independent`, and the `biject_to`
registry that maps a constraint (a support) to its default bijector.

Conventions, shared by every transform:

    y = t(x) = t.forward(x)          x: batch + unconstrained event, y: batch + constrained event
    x = t.inverse(y) = t.inv(y)
    t.log_abs_det_jacobian(x, y)     log|det dy/dx| over the free coordinates, shape batch

The unconstrained event is a flat vector (or a scalar), `t.unconstrained_event_dim` axes; the
constrained event has `t.event_dim` axes (a simplex of K has K-1 free coordinates, a K x K
correlation Cholesky factor K(K-1)/2). `forward_shape`/`inverse_shape` map between the two.
Everything is written with engine ops, so values, log|J| and their derivatives of any order
flow to x and to Tensor parameters (bounds that depend on other parameters).
"""
import numpy as np

import autodiff as ad
from autodiff import Tensor, getval, shape_of

from .. import constraints

__all__ = ["Transform", "ComposeTransform", "IndependentTransform", "ConstraintRegistry",
           "biject_to"]


# ---- helpers shared by the transform modules ---------------------------------------------------
def _shape(x):
    return shape_of(x)


def _dtype(x):
    """x's float dtype (float64 for integers and Python numbers)."""
    d = np.result_type(getval(x))
    return d if np.issubdtype(d, np.floating) else np.dtype(np.float64)


def _param(p, like):
    """A transform parameter ready to meet x: a Tensor as it is (gradients flow into it),
    numbers and arrays as arrays of x's float dtype (so that float32 stays float32)."""
    return p if isinstance(p, Tensor) else np.asarray(p, dtype=_dtype(like))


def _sum_rightmost(x, n):
    """x summed over its n rightmost axes."""
    return ad.sum(x, axis=tuple(range(-n, 0))) if n > 0 else x


def _fmt(p):
    """A parameter for __repr__: a number, an array, or the Tensor's value."""
    v = np.asarray(getval(p))
    return float(v) if v.ndim == 0 else v.tolist()


def _as_event_dim(c, n):
    """Constraint c with n more axes folded into its event."""
    return c if n == 0 else constraints.independent(c, n)


# ---- the interface -----------------------------------------------------------------------------
class Transform:
    """A bijection from `domain` (unconstrained) onto `codomain` (a support).

    Subclasses set `domain` and `codomain` and implement `forward`, `inverse` and
    `log_abs_det_jacobian`; transforms that change the event shape override `forward_shape`
    and `inverse_shape` (shapes with any batch axes in front).
    """
    domain = constraints.real
    codomain = constraints.real

    @property
    def event_dim(self):
        """Number of axes of one constrained event (the codomain's event_dim)."""
        return self.codomain.event_dim

    @property
    def unconstrained_event_dim(self):
        """Number of axes of one unconstrained event (0 or 1 for the default bijectors)."""
        return self.domain.event_dim

    @property
    def inv(self):
        """The inverse transform (cached)."""
        inv = getattr(self, "_inv", None)
        if inv is None:
            inv = self._inv = _InverseTransform(self)
        return inv

    def forward(self, x):
        raise NotImplementedError

    def inverse(self, y):
        raise NotImplementedError

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def forward_shape(self, shape):
        """The constrained shape of an unconstrained array of `shape`."""
        return tuple(shape)

    def inverse_shape(self, shape):
        """The unconstrained shape of a constrained array of `shape`."""
        return tuple(shape)

    def __repr__(self):
        return f"{type(self).__name__}()"


class _InverseTransform(Transform):
    """t.inv: forward and inverse swapped, log|J| negated (evaluated at the base's x, y)."""

    def __init__(self, base):
        self._inv = base

    @property
    def domain(self):
        return self._inv.codomain

    @property
    def codomain(self):
        return self._inv.domain

    def forward(self, x):
        return self._inv.inverse(x)

    def inverse(self, y):
        return self._inv.forward(y)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)

    def __repr__(self):
        return f"{self._inv!r}.inv"


class ComposeTransform(Transform):
    """parts[-1](... parts[1](parts[0](x))); log|J| = sum over the chain of each part's log|J|
    at its own input, with the extra event axes of a part summed so that every term has the
    batch shape of the whole.

    >>> from ppl.transforms import ExpTransform, AffineTransform
    >>> t = ComposeTransform([ExpTransform(), AffineTransform(1.0, 2.0)])   # y = 1 + 2 e^x
    >>> float(t(0.0)), float(t.log_abs_det_jacobian(0.0, t(0.0)))  # log|J| = x + log 2
    (3.0, 0.6931471805599453)
    """

    def __init__(self, parts):
        self.parts = list(parts)
        if not self.parts:
            raise ValueError("ComposeTransform: needs at least one part")

    @property
    def domain(self):
        dim = self.parts[-1].codomain.event_dim  # the input event that one output event needs
        for p in reversed(self.parts):
            dim = p.domain.event_dim + max(dim - p.codomain.event_dim, 0)
        first = self.parts[0].domain
        return _as_event_dim(first, dim - first.event_dim)

    @property
    def codomain(self):
        dim = self.parts[0].domain.event_dim
        for p in self.parts:
            dim = p.codomain.event_dim + max(dim - p.domain.event_dim, 0)
        last = self.parts[-1].codomain
        return _as_event_dim(last, dim - last.event_dim)

    def forward(self, x):
        for p in self.parts:
            x = p.forward(x)
        return x

    def inverse(self, y):
        for p in reversed(self.parts):
            y = p.inverse(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        batch_ndim = len(_shape(x)) - self.domain.event_dim
        total = 0.0
        for i, p in enumerate(self.parts):
            out = y if i == len(self.parts) - 1 else p.forward(x)
            ld = p.log_abs_det_jacobian(x, out)
            total = total + _sum_rightmost(ld, len(_shape(ld)) - batch_ndim)
            x = out
        return total

    def forward_shape(self, shape):
        for p in self.parts:
            shape = p.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape):
        for p in reversed(self.parts):
            shape = p.inverse_shape(shape)
        return tuple(shape)

    def __repr__(self):
        return f"{type(self).__name__}([{', '.join(repr(p) for p in self.parts)}])"


class IndependentTransform(Transform):
    """`base` with its n rightmost batch axes read as event axes: the same map, and
    log|J| = sum of base's log|J| over those n axes (for `constraints.independent(c, n)`).

    >>> from ppl.transforms import ExpTransform
    >>> t = IndependentTransform(ExpTransform(), 1)                     # log|J| = sum_i x_i
    >>> x = np.array([1.0, 2.0])
    >>> float(t.log_abs_det_jacobian(x, t(x)))
    3.0
    """

    def __init__(self, base, reinterpreted_batch_ndims):
        self.base, self.reinterpreted_batch_ndims = base, int(reinterpreted_batch_ndims)

    @property
    def domain(self):
        return _as_event_dim(self.base.domain, self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return _as_event_dim(self.base.codomain, self.reinterpreted_batch_ndims)

    def forward(self, x):
        return self.base.forward(x)

    def inverse(self, y):
        return self.base.inverse(y)

    def log_abs_det_jacobian(self, x, y):
        return _sum_rightmost(self.base.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base.inverse_shape(shape)

    def __repr__(self):
        return f"IndependentTransform({self.base!r}, {self.reinterpreted_batch_ndims})"


# ---- constraint -> default bijector ------------------------------------------------------------
class ConstraintRegistry:
    """`biject_to(constraint)`: the default bijector from unconstrained space onto a support.

    Factories are registered per constraint class (`@biject_to.register(constraints.interval)`
    or with a singleton, whose class is used) and called with the constraint instance, so that
    bounds are read from it. Lookup walks the class's MRO: a subclass (unit_interval, positive)
    may have its own bijector or fall back to its parent's.
    """

    def __init__(self):
        self._factories = {}

    def register(self, constraint, factory=None):
        cls = constraint if isinstance(constraint, type) else type(constraint)
        if factory is None:
            return lambda f: self.register(cls, f)
        self._factories[cls] = factory
        return factory

    def __call__(self, constraint):
        if getattr(constraint, "is_discrete", False):
            raise ValueError(f"biject_to: no bijector registered for {constraint!r}: a discrete "
                             "site cannot be mapped to unconstrained space")
        for cls in type(constraint).__mro__:
            if cls in self._factories:
                return self._factories[cls](constraint)
        raise NotImplementedError(f"biject_to: no bijector registered for {constraint!r}")

    def __repr__(self):
        return f"ConstraintRegistry({len(self._factories)} constraints)"


biject_to = ConstraintRegistry()


@biject_to.register(constraints.independent)
def _biject_independent(c):
    return IndependentTransform(biject_to(c.base), c.reinterpreted_batch_ndims)
