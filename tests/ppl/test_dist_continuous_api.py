"""Continuous families, the API around log_prob: construction errors and validation, float32,
Tensor parameters, expand/to_event, and the guard that every exported family has a table row."""
import re

import numpy as np
import pytest

import autodiff as ad
from ppl import constraints
from ppl.distributions import bounded as B
from ppl.distributions import continuous as C
from ppl.distributions import positive as P
from ppl.distributions import validation_enabled

from .test_dist_continuous import ROWS, _points

FAMILIES = sorted({p.values[0] for p in ROWS}, key=lambda c: c.__name__)


def _first_row(cls):
    return next(p.values[1] for p in ROWS if p.values[0] is cls)


def test_every_exported_family_has_a_row():
    exported = {getattr(m, n) for m in (C, P, B) for n in m.__all__}
    missing = sorted(c.__name__ for c in exported - set(FAMILIES))
    assert not missing, f"no row in test_dist_continuous.ROWS for {missing}"


# ---- construction: ValueError naming the parameter and the value, TypeError for bad types ------
POSITIVE_PARAMS = [(cls, name) for cls in FAMILIES for name, c in cls.arg_constraints.items()
                   if c is constraints.positive]


@pytest.mark.parametrize("cls, name", POSITIVE_PARAMS,
                         ids=[f"{c.__name__}.{n}" for c, n in POSITIVE_PARAMS])
def test_invalid_parameter_is_a_value_error_naming_it(cls, name):
    params = dict(_first_row(cls), **{name: -2.5})
    with pytest.raises(ValueError, match=rf"{cls.__name__}: parameter '{name}'.*-2\.5"):
        cls(**params)
    params[name] = [1.0, 0.0, 2.0]  # one bad member of a batch
    with pytest.raises(ValueError, match=rf"'{name}'.*\(1, 0, 2\)"):
        cls(**params)
    with validation_enabled(False):  # ADVI explores with validation off
        cls(**dict(params, **{name: -2.5}))
    cls(**dict(params, **{name: -2.5}), validate_args=False)


@pytest.mark.parametrize("cls, params, name", [
    (C.Normal, dict(loc=np.nan, scale=1.0), "loc"),
    (B.Uniform, dict(low=2.0, high=1.0), "high"),
    (B.Uniform, dict(low=[0.0, 1.0], high=1.0), "high"),  # high == low is invalid too
    (B.TruncatedNormal, dict(loc=0.0, scale=1.0, low=1.0, high=-1.0), "high"),
    (B.TruncatedNormal, dict(loc=0.0, scale=1.0, low=np.inf), "low"),
])
def test_invalid_bounds(cls, params, name):
    with pytest.raises(ValueError, match=f"parameter '{name}'"):
        cls(**params)


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", ["1.0", True, [[1.0], [1.0, 2.0]], None])
def test_bad_parameter_type_is_a_type_error(cls, bad):
    params = dict(_first_row(cls))
    name = next(iter(params))
    with pytest.raises(TypeError, match=re.escape(repr(name))):
        cls(**dict(params, **{name: bad}))


def test_defaults_are_numpyro_s():
    for d in (P.HalfNormal(), C.Cauchy(), P.HalfCauchy(), C.Laplace(), C.Logistic(), P.LogNormal(),
              P.Exponential(), B.Uniform(), B.TruncatedNormal()):
        assert d.batch_shape == ()
    assert float(P.Gamma(2.0).rate) == float(P.InverseGamma(2.0).rate) == 1.0
    t, h = C.StudentT(3.0), P.HalfStudentT(3.0)
    assert (float(t.loc), float(t.scale), float(h.scale)) == (0.0, 1.0, 1.0)
    assert (float(B.Uniform().low), float(B.Uniform().high)) == (0.0, 1.0)
    w = P.Weibull(2.0, 0.5)  # NumPyro's order: scale, then concentration
    assert (float(w.scale), float(w.concentration)) == (2.0, 0.5)
    b = B.Beta(2.0, 5.0)
    assert float(b.mean) == pytest.approx(2.0 / 7.0)


def test_support_per_instance():
    u = B.Uniform(ad.Tensor([0.0, 1.0]), 3.0)  # Tensor bounds are read by the check
    np.testing.assert_array_equal(u.support.check(np.array([0.5, 0.5])), [True, False])
    assert repr(B.TruncatedNormal(low=0.0).support) == "greater_than(lower_bound=0.0)"
    assert repr(B.TruncatedNormal(high=0.0).support) == "less_than(upper_bound=0.0)"
    assert B.TruncatedNormal().support is constraints.real
    assert repr(B.TruncatedNormal(0.0, 1.0, low=-1.0, high=1.0)) == \
        "TruncatedNormal(loc=0, scale=1, low=-1, high=1)"


# ---- dtypes and Tensors ------------------------------------------------------------------------
def _inside(cls, params, k=2):
    """k points per batch member inside the support, from the row's value domain."""
    domain = next(p.values[3] for p in ROWS if p.values[1] is params)
    return _points(cls(**params), params, domain, np.random.default_rng(6), k)


@pytest.mark.parametrize("cls, params", [p.values[:2] for p in ROWS],
                         ids=[p.id for p in ROWS])
def test_float32_in_float32_out(cls, params):
    x = _inside(cls, params)
    p32 = {k: np.asarray(v, np.float32) for k, v in params.items()}
    want = np.asarray(cls(**params).log_prob(x))
    got = cls(**p32).log_prob(x.astype(np.float32))
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    x_t = ad.Tensor(x, dtype=np.float32)
    got_t = cls(**{k: ad.Tensor(v) for k, v in p32.items()}).log_prob(x_t)
    assert isinstance(got_t, ad.Tensor) and got_t.dtype == np.float32
    assert np.asarray(cls(**p32).mean).dtype == np.float32


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_log_prob_of_tensor_parameters_is_a_tensor_and_plain_numpy_stays_numpy(cls):
    params = _first_row(cls)
    x = _inside(cls, params, k=1)
    assert isinstance(cls(**params).log_prob(x), (np.ndarray, np.generic))
    lp, g = ad.value_and_grad(lambda p0: ad.sum(cls(**dict(params, **{next(iter(params)): p0}))
                                                .log_prob(x)))(np.asarray(next(iter(params.values())),
                                                                          float))
    assert np.isfinite(lp) and np.all(np.isfinite(g))


# ---- expand and to_event -----------------------------------------------------------------------
@pytest.mark.parametrize("d", [P.Gamma([0.5, 2.0, 7.0], 1.3), C.Normal([0.0, 1.0, 2.0], 1.0),
                               B.TruncatedNormal(0.0, 1.0, low=[-1.0, 0.0, 1.0]),
                               B.Beta(2.0, [1.0, 2.0, 3.0])], ids=repr)
def test_expand_and_to_event(d):
    rng = np.random.default_rng(5)
    e = d.expand((4, 3))
    assert e.batch_shape == (4, 3) and e.event_shape == ()
    x = e.sample(rng, (2,))
    assert x.shape == (2, 4, 3) and np.all(d.support.check(x))
    assert np.all(np.ptp(x, axis=1) > 0)  # independent draws along the expanded axis
    np.testing.assert_allclose(e.log_prob(x), d.log_prob(x), rtol=1e-15)
    ind = e.to_event(1)
    assert ind.batch_shape == (4,) and ind.event_shape == (3,)
    assert ind.sample(rng, (5,)).shape == (5, 4, 3)
    np.testing.assert_allclose(ind.log_prob(x), np.sum(d.log_prob(x), -1), rtol=1e-13)
    np.testing.assert_allclose(e.to_event().log_prob(x), np.sum(d.log_prob(x), (-2, -1)),
                               rtol=1e-13)
    np.testing.assert_array_equal(e.mean, np.broadcast_to(d.mean, (4, 3)))
    # one member outside: -inf for that event only
    x[0, 1, 2] = np.nan
    lp = ind.log_prob(x)
    assert lp[0, 1] == -np.inf and np.isfinite(np.delete(lp.ravel(), 1)).all()
