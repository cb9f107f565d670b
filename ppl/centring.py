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

A truncated-normal site whose parameters depend on other latents (a censored value) has a
non-centred form of its own, theta = F^-1(Phi(z)) with F its cdf: z ~ N(0, 1) a priori whatever
the parameters (`quantile_forward`; `Model.centred({site: "quantile"})`).

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
from .distributions.bounded import TruncatedNormal
from .distributions.continuous import Cauchy, Laplace, Logistic, Normal, StudentT

__all__ = ["LOC_SCALE", "loc_scale", "dependent_sites", "centrable_sites", "quantile_sites",
           "forward", "inverse", "quantile_forward", "quantile_inverse", "check_centring",
           "Learned", "copy_of"]

LOC_SCALE = (Normal, StudentT, Cauchy, Laplace, Logistic)


def _unwrap(fn):
    while isinstance(fn, (ExpandedDistribution, Independent)):
        fn = fn.base
    return fn


def loc_scale(fn):
    """The location-scale distribution under `fn`'s plates and `to_event`, or None."""
    fn = _unwrap(fn)
    return fn if type(fn) in LOC_SCALE else None


def dependent_sites(model):
    """(location-scale sites, truncated-normal sites): name -> shape of each latent site whose
    parameters depend on other latents (engine Tensors when the model runs on a Tensor z, the
    sites already centred left as they are). One run of the model."""
    from .model import _Unconstrained  # noqa: PLC0415 -- model imports this module
    z = Tensor(np.zeros(model.num_params))
    sites = model._run(_Unconstrained(model.unflatten(z)), probe=True)
    ls, tn = {}, {}
    for name in model.parameters:
        base, shape = _unwrap(sites[name]["fn"]), tuple(model.parameters[name].shape)
        params = [getattr(base, k, None) for k in ("loc", "scale", "low", "high")]
        if not any(isinstance(p, Tensor) for p in params):
            continue
        if type(base) in LOC_SCALE:
            ls[name] = shape
        elif type(base) is TruncatedNormal:
            tn[name] = shape
    return ls, tn


def centrable_sites(model):
    """name -> shape of each latent site that partial centring applies to: a location-scale
    family whose location or scale depends on other latents."""
    return dependent_sites(model)[0]


def quantile_sites(model):
    """name -> shape of each latent TruncatedNormal site whose parameters (location, scale or a
    bound) depend on other latents: they can be non-centred by the quantile function
    (`quantile_forward`)."""
    return dependent_sites(model)[1]


def quantile_forward(fn, z):
    """(theta, log|d theta / d z|) with theta = F^-1(Phi(z)), F the truncated normal's cdf:
    z ~ N(0, 1) has exactly the site's distribution as its image, whatever its parameters
    (the non-centred form of a truncated normal; a censored value's posterior given the
    parameters is that prior). With x = (theta - m) / s and a, b the standardised bounds,
    x = -Phi^-1(Phi(-z) Phi(-a)) (lower bound), Phi^-1(Phi(z) Phi(b)) (upper), else
    Phi^-1((1 - Phi(z)) Phi(a) + Phi(z) Phi(b)), in logs; log-Jacobian
    log phi(z) - log f(theta) = (x^2 - z^2) / 2 + log s + log(Phi(b) - Phi(a))."""
    base = _unwrap(fn)
    m, s = base.loc, base.scale
    a = None if base.low is None else (base.low - m) / s
    b = None if base.high is None else (base.high - m) / s
    if b is None:
        x = -ad.ndtri(ad.exp(ad.log_ndtr(-z) + ad.log_ndtr(-a)))
    elif a is None:
        x = ad.ndtri(ad.exp(ad.log_ndtr(z) + ad.log_ndtr(b)))
    else:
        x = ad.ndtri(ad.exp(ad.logaddexp(ad.log_ndtr(a) + ad.log_ndtr(-z),
                                         ad.log_ndtr(b) + ad.log_ndtr(z))))
    theta = m + s * x
    log_det = 0.5 * (x * x - z * z) + ad.log(s) + base._log_normalizer()
    shape = ad.shape_of(theta)
    if ad.shape_of(log_det) != shape:
        log_det = ad.broadcast_to(log_det, shape)
    return theta, ad.sum(log_det)


def quantile_inverse(fn, theta):
    """z = Phi^-1(F(theta)) (numpy): `quantile_forward`'s inverse."""
    from scipy import special  # noqa: PLC0415
    base = _unwrap(fn)
    m, s = (np.asarray(ad.getval(base.loc), float), np.asarray(ad.getval(base.scale), float))
    x = (theta - m) / s
    a = None if base.low is None else (np.asarray(ad.getval(base.low), float) - m) / s
    b = None if base.high is None else (np.asarray(ad.getval(base.high), float) - m) / s
    if b is None:
        return -special.ndtri(np.exp(special.log_ndtr(-x) - special.log_ndtr(-a)))
    if a is None:
        return special.ndtri(np.exp(special.log_ndtr(x) - special.log_ndtr(b)))
    pa, pb = special.ndtr(a), special.ndtr(b)
    return special.ndtri((special.ndtr(x) - pa) / (pb - pa))


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
    """`centring` as a dict name -> float array of the site's shape, every value in [0, 1],
    or "quantile" (a truncated-normal site: `quantile_forward`): a number for every
    centrable site, or a dict naming some of them."""
    sites, truncated = dependent_sites(model)
    if not isinstance(centring, dict):
        centring = {n: centring for n in sites}
    out = {}
    for name, lam in centring.items():
        if isinstance(lam, str) and lam == "quantile":
            if name not in truncated:
                raise ValueError(f"centring[{name!r}]: 'quantile' applies to a latent "
                                 f"TruncatedNormal whose parameters depend on other latents; "
                                 f"model {model.name!r} has {sorted(truncated)}")
            out[name] = "quantile"
            continue
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
        lam = dict(self.model.centring)
        lam.update(self._split(w[self.D:], ad.sigmoid))
        return self.model.unconstrained_log_density(w[:self.D], centring=lam)

    def lams(self, v):
        """name -> lam = sigmoid(v) as numpy arrays of the sites' shapes."""
        return self._split(np.asarray(v, dtype=float), lambda x: 1.0 / (1.0 + np.exp(-x)))


def copy_of(centring):
    """A copy of a model's `centring` dict (arrays copied, "quantile" kept)."""
    return {n: v if isinstance(v, str) else np.array(v) for n, v in centring.items()}
