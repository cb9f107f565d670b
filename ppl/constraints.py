"""Constraints: the supports of distributions and the domains of parameters.

A constraint only answers "is x in the set?": `c.check(x)` is a boolean numpy array over the
batch (the trailing `c.event_dim` axes of x are one event). Bounds may be numbers, arrays or
engine Tensors that depend on other parameters (Stan's `<lower=0, upper=1-alpha1>`); a check
reads their current values. Which bijector maps R^n onto each set lives in `ppl.transforms`
(`biject_to`), not here: constraints never import bijectors.

    >>> from ppl import constraints
    >>> constraints.positive.check(np.array([1.0, 0.0, -2.0]))
    array([ True, False, False])
    >>> constraints.interval(0.0, 2.0)
    interval(lower_bound=0.0, upper_bound=2.0)
    >>> bool(constraints.simplex.check(np.array([0.2, 0.8])))
    True
"""
import numpy as np

from autodiff import getval, stop_gradient

__all__ = ["Constraint", "real", "real_vector", "positive", "nonnegative", "unit_interval",
           "greater_than", "less_than", "interval", "simplex", "ordered", "positive_ordered",
           "corr_cholesky", "lower_cholesky", "positive_definite", "boolean",
           "nonnegative_integer", "integer_interval", "independent"]

_SIMPLEX_ATOL = 1e-6   # sums of float64 simplex points are within a few ulp; float32 within 1e-6


class Constraint:
    """A set of values. `event_dim` trailing axes form one element (0: scalars, 1: vectors,
    2: matrices); `check(x)` returns a boolean array of shape x.shape[:ndim - event_dim]."""
    event_dim = 0
    is_discrete = False

    def check(self, value):
        """Elementwise membership test on the numpy value (Tensors are read, not traced)."""
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__.lstrip("_").lower()


def _val(x):
    # numpy, or under vmap a box of the batch traces: each row tests its own values
    return stop_gradient(x)


def _num(x):
    """A bound for printing: a float when it is a scalar number."""
    v = np.asarray(getval(x))
    return float(v) if v.ndim == 0 else v


class _Real(Constraint):
    def check(self, value):
        return np.isfinite(_val(value))


class _GreaterThan(Constraint):
    """x > lower_bound (strict, as NumPyro; `nonnegative` is the closed version at 0)."""

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        v = _val(value)
        return (v > _val(self.lower_bound)) & (v < np.inf)

    def __repr__(self):
        return f"greater_than(lower_bound={_num(self.lower_bound)})"


class _Positive(_GreaterThan):
    def __init__(self):
        super().__init__(0.0)

    def __repr__(self):
        return "positive"


class _Nonnegative(Constraint):
    def check(self, value):
        v = _val(value)
        return (v >= 0) & (v < np.inf)


class _LessThan(Constraint):
    """x < upper_bound (strict)."""

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        v = _val(value)
        return (v < _val(self.upper_bound)) & (v > -np.inf)

    def __repr__(self):
        return f"less_than(upper_bound={_num(self.upper_bound)})"


class _Interval(Constraint):
    """lower_bound <= x <= upper_bound (closed, as Stan's bounds)."""

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        v = _val(value)
        return (v >= _val(self.lower_bound)) & (v <= _val(self.upper_bound))

    def __repr__(self):
        return (f"interval(lower_bound={_num(self.lower_bound)}, "
                f"upper_bound={_num(self.upper_bound)})")


class _UnitInterval(_Interval):
    def __init__(self):
        super().__init__(0.0, 1.0)

    def __repr__(self):
        return "unit_interval"


class _RealVector(Constraint):
    event_dim = 1

    def check(self, value):
        return np.all(np.isfinite(_val(value)), axis=-1)

    def __repr__(self):
        return "real_vector"


class _Simplex(Constraint):
    """x_k >= 0 and sum_k x_k = 1 over the last axis."""
    event_dim = 1

    def check(self, value):
        v = _val(value)
        return np.all(v >= 0, axis=-1) & (np.abs(v.sum(-1) - 1.0) < _SIMPLEX_ATOL)


class _Ordered(Constraint):
    """x_1 < x_2 < ... < x_K over the last axis, all finite."""
    event_dim = 1

    def check(self, value):
        v = _val(value)
        return np.all(np.isfinite(v), axis=-1) & np.all(np.diff(v, axis=-1) > 0, axis=-1)


class _PositiveOrdered(_Ordered):
    def check(self, value):
        return super().check(value) & np.all(_val(value) > 0, axis=-1)

    def __repr__(self):
        return "positive_ordered"


class _LowerCholesky(Constraint):
    """Lower-triangular square matrices with a positive diagonal."""
    event_dim = 2

    def check(self, value):
        v = _val(value)
        lower = np.all(np.triu(v, 1) == 0, axis=(-2, -1))
        diag = np.all(np.diagonal(v, axis1=-2, axis2=-1) > 0, axis=-1)
        return lower & diag & np.all(np.isfinite(v), axis=(-2, -1))

    def __repr__(self):
        return "lower_cholesky"


class _CorrCholesky(_LowerCholesky):
    """Cholesky factors of correlation matrices: lower_cholesky with unit-norm rows."""

    def check(self, value):
        v = _val(value)
        unit = np.all(np.abs(np.sqrt(np.sum(v * v, axis=-1)) - 1.0) < 1e-6, axis=-1)
        return super().check(v) & unit

    def __repr__(self):
        return "corr_cholesky"


class _PositiveDefinite(Constraint):
    """Symmetric matrices with positive eigenvalues."""
    event_dim = 2

    def check(self, value):
        v = _val(value)
        sym = np.all(np.abs(v - np.swapaxes(v, -1, -2)) <= 1e-8 * (1 + np.abs(v)), axis=(-2, -1))
        if not np.all(np.isfinite(v)):
            return sym & np.all(np.isfinite(v), axis=(-2, -1))
        return sym & np.all(np.linalg.eigvalsh(v) > 0, axis=-1)

    def __repr__(self):
        return "positive_definite"


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        v = _val(value)
        return (v == 0) | (v == 1)


class _NonnegativeInteger(Constraint):
    is_discrete = True

    def check(self, value):
        v = _val(value)
        return (v >= 0) & (np.floor(v) == v) & (v < np.inf)

    def __repr__(self):
        return "nonnegative_integer"


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        v = _val(value)
        return (v >= _val(self.lower_bound)) & (v <= _val(self.upper_bound)) & (np.floor(v) == v)

    def __repr__(self):
        return (f"integer_interval(lower_bound={_num(self.lower_bound)}, "
                f"upper_bound={_num(self.upper_bound)})")


class _Independent(Constraint):
    """`base` with its `reinterpreted_batch_ndims` rightmost batch axes folded into the event."""

    def __init__(self, base, reinterpreted_batch_ndims):
        if int(reinterpreted_batch_ndims) != reinterpreted_batch_ndims \
                or reinterpreted_batch_ndims < 0:
            raise ValueError("independent: reinterpreted_batch_ndims must be an integer >= 0, "
                             f"got {reinterpreted_batch_ndims!r}")
        self.base, self.reinterpreted_batch_ndims = base, int(reinterpreted_batch_ndims)
        self.event_dim = base.event_dim + self.reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete

    def check(self, value):
        ok = self.base.check(value)
        n = self.reinterpreted_batch_ndims
        return np.all(ok, axis=tuple(range(-n, 0))) if n else ok

    def __repr__(self):
        return f"independent({self.base!r}, {self.reinterpreted_batch_ndims})"


real = _Real()
real_vector = _RealVector()
positive = _Positive()
nonnegative = _Nonnegative()
unit_interval = _UnitInterval()
simplex = _Simplex()
ordered = _Ordered()
positive_ordered = _PositiveOrdered()
lower_cholesky = _LowerCholesky()
corr_cholesky = _CorrCholesky()
positive_definite = _PositiveDefinite()
boolean = _Boolean()
nonnegative_integer = _NonnegativeInteger()
greater_than = _GreaterThan
less_than = _LessThan
interval = _Interval
integer_interval = _IntegerInterval
independent = _Independent
