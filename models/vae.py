"""A variational autoencoder for MNIST on the engine (Kingma and Welling, 2014).

    import numpy as np
    from models.vae import VAE
    from autodiff.optim import Adam
    vae = VAE(z_dim=20, rng=np.random.default_rng(0))
    opt = Adam(vae.parameters(), lr=1e-3)
    loss = -vae.elbo(x_batch, rng)            # x_batch: float32 (n, 784) in [0, 1]
    opt.zero_grad(); loss.backward(); opt.step()

Encoder 784-400-(20 means, 20 log-variances), decoder 20-400-784 Bernoulli logits, ReLU hidden
units as in the PyTorch example (the paper used tanh), float32. Pixels in [0, 1] are scored with
the Bernoulli log-likelihood x log p + (1 - x) log(1 - p) (`ppl.dist.Bernoulli`), as the PyTorch
example and most papers on non-binarised MNIST do; the importance weights of `iwae_log_px` use
`ppl.dist.Normal` for p(z) and q(z|x).

References: Kingma and Welling, Auto-Encoding Variational Bayes, 2014; Burda, Grosse,
Salakhutdinov, Importance Weighted Autoencoders, 2016.
"""
import math

import numpy as np

import autodiff as ad
from autodiff import nn
from ppl import dist

__all__ = ["VAE", "bernoulli_log_lik"]



def bernoulli_log_lik(x, logits):
    """sum_j log Bernoulli(x_j | logits l_j) = sum_j x_j l_j - softplus(l_j), over the last axis.

    `ppl.dist.Bernoulli` with its support check off: grey-level pixels in [0, 1] are scored by
    the same formula, the relaxation every MNIST VAE uses (its normaliser is not 1 off {0, 1}).

    >>> float(bernoulli_log_lik(np.array([1.0, 0.0]), np.array([0.0, 0.0])))  # 2 log(1/2)
    -1.3862943611198906
    """
    with dist.validation_enabled(False):
        return ad.sum(dist.Bernoulli(logits=logits).log_prob(x), axis=-1)


class VAE(nn.Module):
    """VAE: encoder q(z|x) = N(mu(x), diag e^logvar(x)), decoder p(x|z) = Bernoulli(sigmoid(l(z))).

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)), with one reparameterised sample
    z = mu + e^(logvar/2) * eps, eps ~ N(0, I), and the analytic
    KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - e^logvar_j) (Kingma and Welling, 2014, appendix B).

    Parameters: `x_dim` (784), `h_dim` (400), `z_dim` (20); `rng` for the initial weights
    (default seed 0); `dtype` float32 (float64 for gradient checks).

    >>> vae = VAE(x_dim=6, h_dim=5, z_dim=2, rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).random((3, 6), dtype=np.float32)
    >>> elbo = vae.elbo(x, np.random.default_rng(2)); elbo.shape, elbo.dtype
    ((), dtype('float32'))
    """

    def __init__(self, x_dim=784, h_dim=400, z_dim=20, *, rng=None, dtype=np.float32):
        rng = np.random.default_rng(0) if rng is None else rng
        kw = dict(rng=rng, dtype=dtype)
        self.x_dim, self.h_dim, self.z_dim, self.dtype = x_dim, h_dim, z_dim, np.dtype(dtype)
        self.enc = nn.Linear(x_dim, h_dim, **kw)
        self.enc_mu = nn.Linear(h_dim, z_dim, **kw)
        self.enc_logvar = nn.Linear(h_dim, z_dim, **kw)
        self.dec = nn.Linear(z_dim, h_dim, **kw)
        self.dec_logits = nn.Linear(h_dim, x_dim, **kw)

    def __repr__(self):
        return (f"VAE(x_dim={self.x_dim}, h_dim={self.h_dim}, z_dim={self.z_dim}, "
                f"dtype={self.dtype.name})")

    def encode(self, x):
        """(mu, logvar) of q(z|x), each (n, z_dim)."""
        h = ad.relu(self.enc(x))
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z):
        """Bernoulli logits l(z) of p(x|z), (n, x_dim)."""
        return self.dec_logits(ad.relu(self.dec(z)))

    def elbo(self, x, rng=None, eps=None):
        """Mean over the batch of the one-sample ELBO (a scalar Tensor; maximise it).

        mean_i [log p(x_i|z_i) + 1/2 sum_j (1 + logvar_ij - mu_ij^2 - e^logvar_ij)],
        z_i = mu_i + e^(logvar_i/2) eps_i with eps = rng.standard_normal((n, z_dim)) unless
        `eps` is given.
        """
        x = np.asarray(x, dtype=self.dtype)
        eps = self._eps(eps, rng, (len(x), self.z_dim))
        mu, logvar = self.encode(x)
        std = ad.exp(0.5 * logvar)
        z = mu + std * eps
        log_lik = bernoulli_log_lik(x, self.decode(z))
        neg_kl = 0.5 * ad.sum(1.0 + logvar - mu * mu - std * std, axis=-1)
        return ad.mean(log_lik + neg_kl)

    def _eps(self, eps, rng, shape):
        """The given eps, checked to have `shape`, or standard normal draws from rng."""
        if eps is None:
            if not isinstance(rng, np.random.Generator):
                raise TypeError(f"give rng (a numpy.random.Generator) or eps; got rng={rng!r}")
            return rng.standard_normal(shape, dtype=self.dtype)
        eps = np.asarray(eps, dtype=self.dtype)
        if eps.shape != shape:
            raise ValueError(f"eps has shape {eps.shape}, expected {shape}")
        return eps

    def sample(self, n, rng):
        """n images from the prior: Bernoulli means sigmoid(l(z)), z ~ N(0, I); numpy (n, x_dim)."""
        z = rng.standard_normal((n, self.z_dim), dtype=self.dtype)
        with ad.no_grad():
            return ad.sigmoid(self.decode(z)).value

    def reconstruct(self, x):
        """Bernoulli means sigmoid(l(mu(x))) at the encoder's mean; numpy (n, x_dim)."""
        with ad.no_grad():
            return ad.sigmoid(self.decode(self.encode(np.asarray(x, self.dtype))[0])).value

    def iwae_log_px(self, x, k=100, rng=None, batch=20, eps=None):
        """Importance-weighted estimate of log p(x) per datapoint, numpy (n,) float64.

        log p(x) >= L_k = E[log 1/k sum_{s=1}^k p(x, z_s) / q(z_s|x)], z_s ~ q(z|x) (Burda,
        Grosse and Salakhutdinov, 2016): L_1 is the ELBO and L_k rises to log p(x) as k grows.
        eps = rng.standard_normal((n, k, z_dim)) unless given; computed `batch` datapoints at a
        time, without the tape.
        """
        x = np.asarray(x, dtype=self.dtype)
        n = len(x)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"iwae_log_px: k (the number of samples) must be an integer >= 1, "
                             f"got {k!r}")
        eps = self._eps(eps, rng, (n, k, self.z_dim))
        out = np.empty(n)
        with ad.no_grad():
            for i in range(0, n, batch):
                xb, e = x[i:i + batch], eps[i:i + batch]
                mu, logvar = (t.value[:, None, :] for t in self.encode(xb))
                z = mu + np.exp(0.5 * logvar) * e                        # (b, k, z_dim)
                logits = self.decode(z.reshape(-1, self.z_dim)).value.reshape(len(xb), k, -1)
                log_lik = bernoulli_log_lik(xb[:, None, :], logits)
                log_pz = dist.Normal(0.0, 1.0).log_prob(z)
                log_qz = dist.Normal(mu, np.exp(0.5 * logvar)).log_prob(z)
                log_w = log_lik + np.sum(log_pz - log_qz, axis=-1)
                out[i:i + batch] = ad.logsumexp(log_w.astype(np.float64), axis=1) - math.log(k)
        return out
