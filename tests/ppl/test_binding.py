"""Data given to the Python API: lists become arrays, bad data are named by argument."""
import numpy as np
import pytest
import scipy.stats as st

import ppl
from ppl import dist
from tests.ppl.glm import poisson_glm

X = np.array([-1.0, 0.0, 0.5, 2.0])
Y = np.array([0.0, 1.0, 2.0, 7.0])


def _ref(alpha, beta):
    return (st.norm(0, 5).logpdf([alpha, beta]).sum()
            + st.poisson(np.exp(alpha + beta * X)).logpmf(Y).sum())


@pytest.mark.parametrize("args, kwargs", [((X.tolist(), Y.tolist()), {}),
                                          ((), {"x": X.tolist(), "y": [0, 1, 2, 7]})])
def test_lists_are_arrays(args, kwargs):
    m = poisson_glm(*args, **kwargs)
    assert isinstance(m.args[0] if args else m.kwargs["x"], np.ndarray)
    assert np.isclose(float(m.log_density({"alpha": 0.2, "beta": 0.7})), _ref(0.2, 0.7))


def test_integer_lists_stay_integers_so_they_can_index():
    @ppl.model
    def groups(idx, y):
        a = ppl.sample("a", dist.Normal(0.0, 1.0).expand((2,)).to_event(1))
        with ppl.plate("data", len(y)):
            ppl.sample("y", dist.Normal(a[idx], 1.0), obs=y)
    m = groups([0, 1, 1], [0.5, -0.2, 0.1])
    ref = st.norm(0, 1).logpdf([0.3, -0.4]).sum() + \
        st.norm([0.3, -0.4, -0.4], 1).logpdf([0.5, -0.2, 0.1]).sum()
    assert np.isclose(float(m.log_density({"a": np.array([0.3, -0.4])})), ref)


@pytest.mark.parametrize("x, error, match", [
    ("abc", TypeError, r"^model 'poisson_glm': argument 'x' is 'abc', and the model computes "
                       r"with it: expected numbers"),
    (["a", "b", "c", "d"], TypeError, r"^model 'poisson_glm': argument 'x' holds str values; "
                                      r"expected numbers"),
    ([1.0, [2.0, 3.0], 4.0, 5.0], TypeError, r"^model 'poisson_glm': argument 'x' is a ragged "
                                             r"or mixed list; expected numbers"),
    (np.array([0.0, 1.0, np.inf, 2.0]), ValueError,
     r"^model 'poisson_glm': argument 'x' holds 1 non-finite value\(s\) \(first at index 2\), "
     r"and the model fails on them"),
])
def test_bad_data_are_named_by_argument(x, error, match):
    with pytest.raises(error, match=match):
        poisson_glm(x, Y)
