"""Improper priors (Flat, HalfFlat, ImproperUniform): log_prob 0 on the support and -inf off it,
no sampling, shapes through expand / to_event, and their gradients."""
import warnings

import numpy as np
import pytest

import autodiff as ad
from ppl import constraints
from ppl.distributions import improper as I


def irow(make, inside, outside, batch, event, tag):
    return pytest.param(make, inside, outside, batch, event, id=tag)


IMPROPER = [
    irow(I.Flat, [-1e300, 0.0, 5.0], [np.inf, -np.inf, np.nan], (), (), "Flat"),
    irow(I.HalfFlat, [1e-300, 1.0, 1e300], [0.0, -1.0, np.inf, np.nan], (), (), "HalfFlat"),
    irow(lambda: I.ImproperUniform(constraints.interval(0.0, 2.0), (3,), ()),
         [[0.0, 1.0, 2.0]], [[-0.1, 2.5, np.nan]], (3,), (), "ImproperUniform-interval"),
    irow(lambda: I.ImproperUniform(constraints.positive, (2,), (3,)),
         [[[1.0, 2.0, 3.0], [0.1, 0.2, 9.0]]], [[[1.0, -2.0, 3.0], [0.1, 0.2, 0.0]]], (2,), (3,),
         "ImproperUniform-positive-event"),
    irow(lambda: I.ImproperUniform(constraints.simplex, (2,), (3,)),
         [[[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]], [[[0.2, 0.3, 0.6], [1.5, -0.5, 0.0]]], (2,), (3,),
         "ImproperUniform-simplex"),
]


@pytest.mark.parametrize("make, inside, outside, batch, event", IMPROPER)
def test_improper_log_prob_is_zero_inside_minus_inf_outside(make, inside, outside, batch, event):
    d = make()
    assert d.batch_shape == batch and d.event_shape == event
    inside, outside = np.asarray(inside, float), np.asarray(outside, float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp_in, lp_out = np.asarray(d.log_prob(inside)), np.asarray(d.log_prob(outside))
    assert lp_in.shape == inside.shape[:inside.ndim - len(event)]
    assert np.all(lp_in == 0.0) and np.all(lp_out == -np.inf), (lp_in, lp_out)
    with pytest.raises(NotImplementedError, match="cannot be sampled"):
        d.sample(np.random.default_rng(0), (2,))
    for moment in ("mean", "variance"):
        with pytest.raises(NotImplementedError, match="improper"):
            getattr(d, moment)


def test_improper_expand_to_event_and_gradient():
    d = I.HalfFlat().expand((4,))
    assert d.batch_shape == (4,)
    np.testing.assert_array_equal(d.log_prob(np.array([1.0, 2.0, -1.0, 3.0])),
                                  [0.0, 0.0, -np.inf, 0.0])
    e = I.Flat((2, 3)).to_event(1)
    assert e.batch_shape == (2,) and e.event_shape == (3,)
    assert np.asarray(e.log_prob(np.zeros((5, 2, 3)))).shape == (5, 2)
    # a flat prior adds a constant: the gradient of a joint density is the likelihood's
    g = ad.grad(lambda x: ad.sum(I.Flat().log_prob(x) - 0.5 * x * x))(np.array([1.0, -2.0]))
    np.testing.assert_allclose(g, [-1.0, 2.0])
    assert np.asarray(I.Flat().log_prob(np.float32(1.0))).dtype == np.float32


def test_improper_construction_errors():
    with pytest.raises(TypeError, match="support"):
        I.ImproperUniform("positive")
    with pytest.raises(ValueError, match="event_shape"):
        I.ImproperUniform(constraints.simplex, (), ())


def test_every_improper_family_is_in_the_table():
    assert {getattr(I, n) for n in I.__all__} <= {type(r.values[0]()) for r in IMPROPER}
