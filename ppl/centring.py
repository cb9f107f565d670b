"""Partial centring of location-scale sites (Gorinova, Moore, Hoffman, "Automatic
Reparameterisation of Probabilistic Programs", ICML 2020: their "VIP" parameterisation).

A latent site theta ~ F(m, s) of a location-scale family (Normal, StudentT, Cauchy, Laplace,
Logistic) whose location m or scale s depends on other latents is fitted in the coordinate
theta_tilde, with a centredness lam in [0, 1] per element:

    theta = m + s^(1 - lam) (theta_tilde - lam m),   log|d theta / d theta_tilde| = (1 - lam) log s,

so theta_tilde ~ F(lam m, s^lam): lam = 1 is the centred form (theta_tilde = theta), lam = 0 the
non-centred one (theta = m + s theta_tilde, theta_tilde ~ F(0, 1)). The model's density in
theta_tilde is its density at theta plus that log-Jacobian; every other site and every result
stays in the model's own parameterisation. Data-rich groups want lam near 1, data-poor ones
near 0: `ppl.dadvi` learns lam jointly with q (`Model.centred` fixes it).

    >>> import numpy as np, ppl
    >>> from ppl import dist
    >>> @ppl.model
    ... def hier(y):
    ...     mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    ...     tau = ppl.sample("tau", dist.HalfNormal(5.0))
    ...     with ppl.plate("g", len(y)):
    ...         theta = ppl.sample("theta", dist.Normal(mu, tau))
    ...         ppl.sample("y", dist.Normal(theta, 1.0), obs=y)
    >>> m = hier(np.array([0.5, -1.0, 2.0]))
    >>> centrable_sites(m)
    {'theta': (3,)}
    >>> nc = m.centred(0.0)             # theta = mu + tau * theta_tilde
    >>> z = nc.unconstrain({"mu": 1.0, "tau": 2.0, "theta": np.array([1.0, 3.0, -1.0])})
    >>> z[2:].tolist()                  # theta_tilde = (theta - mu) / tau
    [0.0, 1.0, -1.0]
"""
import numpy as np

import autodiff as ad
from autodiff import Tensor

from .distributions.base import ExpandedDistribution, Independent
from .distributions.continuous import Cauchy, Laplace, Logistic, Normal, StudentT

__all__ = ["LOC_SCALE", "loc_scale", "centrable_sites", "forward", "inverse", "check_centring"]

LOC_SCALE = (Normal, StudentT, Cauchy, Laplace, Logistic)


def loc_scale(fn):
    """The location-scale distribution under `fn`'s plates and `to_event`, or None."""
    while isinstance(fn, (ExpandedDistribution, Independent)):
        fn = fn.base
    return fn if type(fn) in LOC_SCALE else None


def centrable_sites(model):
    """name -> shape of each latent site that partial centring applies to: a location-scale
    family whose location or scale depends on other latents (an engine Tensor when the model
    runs on a Tensor z). One run of the model."""
    from .model import _Unconstrained  # noqa: PLC0415 -- model imports this module
    z = Tensor(np.zeros(model.num_params))
    sites = model._run(_Unconstrained(model.unflatten(z)), probe=True)
    out = {}
    for name in model.parameters:
        base = loc_scale(sites[name]["fn"])
        if base is not None and (isinstance(base.loc, Tensor) or isinstance(base.scale, Tensor)):
            out[name] = tuple(model.parameters[name].shape)
    return out


def _parts(fn):
    base = loc_scale(fn)
    return base.loc, base.scale


def forward(fn, z, lam):
    """(theta, log|d theta / d z|) for the site drawn from `fn` at coordinate z and centredness
    lam: theta = m + s^(1 - lam) (z - lam m), log-Jacobian sum((1 - lam) log s) broadcast to
    z's shape."""
    m, s = _parts(fn)
    k = 1.0 - lam
    log_s = ad.log(s)
    theta = m + ad.exp(k * log_s) * (z - lam * m)
    log_det = k * log_s
    shape = ad.shape_of(theta)
    if ad.shape_of(log_det) != shape:
        log_det = ad.broadcast_to(log_det, shape)
    return theta, ad.sum(log_det)


def inverse(fn, theta, lam):
    """z = lam m + s^(lam - 1) (theta - m): the coordinate of theta (numpy)."""
    m, s = _parts(fn)
    m, s = np.asarray(ad.getval(m), float), np.asarray(ad.getval(s), float)
    return lam * m + np.exp((lam - 1.0) * np.log(s)) * (theta - m)


def check_centring(model, centring):
    """`centring` as a dict name -> float array of the site's shape, every value in [0, 1]:
    a number for every centrable site, or a dict naming some of them."""
    sites = centrable_sites(model)
    if not isinstance(centring, dict):
        centring = {n: centring for n in sites}
    out = {}
    for name, lam in centring.items():
        if name not in sites:
            raise ValueError(
                f"centring: {name!r} is not a site partial centring applies to (a latent "
                f"Normal, StudentT, Cauchy, Laplace or Logistic whose location or scale "
                f"depends on other latents); model {model.name!r} has {sorted(sites)}")
        try:
            a = np.broadcast_to(np.asarray(lam, dtype=float), sites[name]).copy()
        except (TypeError, ValueError):
            raise ValueError(f"centring[{name!r}]: expected a number or an array that "
                             f"broadcasts to the site's shape {sites[name]}, got "
                             f"{lam!r}") from None
        if not np.all((a >= 0.0) & (a <= 1.0)):
            raise ValueError(f"centring[{name!r}]: every value must be in [0, 1] (1 centred, "
                             f"0 non-centred), got {a.ravel()[:4].tolist()}...")
        out[name] = a
    return out


class Learned:
    """The model's density with its centredness as extra coordinates, for learning lam jointly
    with q: w = (z, v), lam = sigmoid(v) per element of the `sites` (name -> shape),

        log p_w(w) = log p(x, theta(z; lam)) + log|d theta / d z|   (`Model.centred` at lam).

    `size` is the number of lam's elements; `lams(v)` the dict of lam arrays at v."""

    def __init__(self, model, sites):
        self.model, self.sites = model, dict(sites)
        self.sizes = {n: int(np.prod(s, dtype=np.int64)) for n, s in self.sites.items()}
        self.size = sum(self.sizes.values())
        self.D = model.num_params

    def _split(self, v, f):
        out, k = {}, 0
        for name, shape in self.sites.items():
            piece = v[k:k + self.sizes[name]]
            out[name] = f(piece).reshape(shape) if shape else f(piece)[0]
            k += self.sizes[name]
        return out

    def log_p(self, w):
        """log p_w at w (numpy or Tensor of shape (D + size,)); engine-differentiable."""
        lam = self._split(w[self.D:], ad.sigmoid)
        return self.model.unconstrained_log_density(w[:self.D], centring=lam)

    def lams(self, v):
        """name -> lam = sigmoid(v) as numpy arrays of the sites' shapes."""
        return self._split(np.asarray(v, dtype=float), lambda x: 1.0 / (1.0 + np.exp(-x)))
