"""Checks shared by the distribution tables: each test file pairs families with parameter sets
and an independent reference (scipy.stats), then calls these."""
import numpy as np

import autodiff as ad


def assert_log_prob_matches(d, ref_logpdf, value, rtol=1e-10, atol=0.0):
    """d.log_prob(value) equals the reference (e.g. scipy.stats ...logpdf) elementwise."""
    got = np.asarray(d.log_prob(value))
    want = np.asarray(ref_logpdf(value))
    assert got.shape == np.broadcast_shapes(got.shape, want.shape), (got.shape, want.shape)
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=rtol, atol=atol)


def assert_sample_shape_and_support(d, rng, sample_shape=(5, 2)):
    x = d.sample(rng, sample_shape)
    assert x.shape == tuple(sample_shape) + d.batch_shape + d.event_shape, \
        (x.shape, sample_shape, d.batch_shape, d.event_shape)
    assert np.all(d.support.check(x)), f"{d!r} drew values outside its support"
    lp = np.asarray(d.log_prob(x))
    assert lp.shape == tuple(sample_shape) + d.batch_shape
    assert np.all(np.isfinite(lp))


def assert_moments(d, rng, n=100_000, z=6.0):
    """Sample mean within z standard errors of d.mean; sample variance within z standard
    errors (estimated from the fourth central moment) of d.variance."""
    x = d.sample(rng, (n,))
    mean, var = np.broadcast_to(d.mean, x.shape[1:]), np.broadcast_to(d.variance, x.shape[1:])
    se_mean = np.sqrt(var / n)
    assert np.all(np.abs(x.mean(0) - mean) <= z * se_mean + 1e-12), (x.mean(0), mean)
    c = x - x.mean(0)
    m4 = (c ** 4).mean(0)
    se_var = np.sqrt(np.maximum(m4 - var ** 2, 0) / n)
    assert np.all(np.abs(c.var(0) - var) <= z * se_var + 1e-12), (c.var(0), var)


def assert_log_prob_grads(make, params, value, order=1):
    """Gradients of sum(log_prob) in the value and in every parameter against finite
    differences (reverse and forward mode), via autodiff.check_grads."""
    names = list(params)

    def f(x, *ps):
        return ad.sum(make(**dict(zip(names, ps))).log_prob(x))

    ad.check_grads(f, (np.asarray(value, float), *[np.asarray(p, float) for p in params.values()]),
                   order=order)


def assert_log_prob_param_grads(make, params, value, order=1):
    """Gradients of sum(log_prob(value)) in the parameters only, the value held fixed (discrete
    values, or values on a manifold such as the simplex, which a finite difference would
    leave), against finite differences via autodiff.check_grads."""
    names = list(params)

    def f(*ps):
        return ad.sum(make(**dict(zip(names, ps))).log_prob(value))

    ad.check_grads(f, tuple(np.asarray(p, float) for p in params.values()), order=order)


def assert_minus_inf_outside(make, params, inside, outside):
    """log_prob is finite at `inside` and -inf at `outside` (both of shape (m,) + the value's),
    with no numpy warning and no exception; the gradient in every parameter is finite, and
    exactly 0 when every value is outside."""
    import warnings

    names = list(params)
    arrays = [np.asarray(p, float) for p in params.values()]

    def f(x):
        return lambda *ps: ad.sum(make(**dict(zip(names, ps))).log_prob(x))

    argnums = tuple(range(len(arrays)))
    x = np.concatenate([inside, outside])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp = np.asarray(make(**params).log_prob(x))
        grads = ad.grad(f(x), argnums=argnums)(*arrays) if arrays else ()
        zero = ad.grad(f(outside), argnums=argnums)(*arrays) if arrays else ()
    m = len(inside)
    assert np.all(np.isfinite(lp[:m])), lp[:m]
    assert np.all(lp[m:] == -np.inf), lp[m:]
    for g in grads:
        assert np.all(np.isfinite(g)), g
    for g in zero:
        assert np.all(g == 0.0), g
