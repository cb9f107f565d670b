"""Review of models/vae.py: the ELBO and the IWAE estimate against brute-force integrals.

For a VAE with a 1-D latent space everything is a 1-D integral over z, computed here on a dense
grid with the decoder written in numpy: log p(x) = log int p(x|z) N(z; 0, 1) dz and the gap
KL(q(z|x) || p(z|x)). The code's ELBO, averaged over eps, must equal log p(x) minus that gap
(this pins the sign conventions, the analytic KL and the per-datapoint mean), and the IWAE
estimate with many samples must approach log p(x) from below.
"""
import numpy as np
import pytest
from scipy import special, stats

from models.vae import VAE


def tiny_vae(seed=0):
    vae = VAE(x_dim=5, h_dim=4, z_dim=1, rng=np.random.default_rng(seed), dtype=np.float64)
    for p in vae.parameters():                 # non-zero biases, so that every path matters
        p._v = p.value + 0.3 * np.random.default_rng(seed + 1).standard_normal(p.shape)
    return vae


def data():
    return np.array([[0.0, 1.0, 0.3, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.8],
                     [0.5, 0.0, 0.0, 0.2, 1.0]])


def brute_force(vae, x):
    """(log p(x), KL(q(z|x) || p(z|x)), mu, sigma) for one datapoint, by quadrature in numpy."""
    sd = vae.state_dict()
    lin = lambda name, a: a @ sd[f"{name}.weight"] + sd[f"{name}.bias"]
    h = np.maximum(lin("enc", x), 0)
    mu, sigma = lin("enc_mu", h)[0], np.exp(0.5 * lin("enc_logvar", h)[0])
    z = np.linspace(-14, 14, 28001)
    p = special.expit(lin("dec_logits", np.maximum(lin("dec", z[:, None]), 0)))
    log_joint = np.sum(special.xlogy(x, p) + special.xlogy(1 - x, 1 - p), axis=1) \
        + stats.norm.logpdf(z)
    dz = z[1] - z[0]
    log_px = special.logsumexp(log_joint) + np.log(dz)
    log_q = stats.norm.logpdf(z, mu, sigma)
    gap = np.sum(np.exp(log_q) * (log_q - (log_joint - log_px))) * dz
    return log_px, gap, mu, sigma


def test_expected_elbo_is_log_px_minus_the_posterior_gap():
    vae = tiny_vae()
    m = 20000
    eps = stats.norm.ppf((np.arange(m) + 0.5) / m)[:, None]    # E over eps as a quantile mean
    for x in data():
        log_px, gap, _, _ = brute_force(vae, x)
        expected_elbo = float(vae.elbo(np.tile(x, (m, 1)), eps=eps).value)
        assert gap > 0.01                                      # q is not the posterior
        assert expected_elbo == pytest.approx(log_px - gap, abs=2e-4)


def test_iwae_with_many_samples_approaches_log_px_from_below():
    vae = tiny_vae()
    X = data()
    truth = np.array([brute_force(vae, x)[0] for x in X])
    # log 1/k sum_s w(eps_s) with eps_s the k quantiles of N(0, 1) is a quadrature of
    # log E_q[p(x, z) / q(z|x)] = log p(x): the estimator's formula, with no Monte Carlo noise
    k = 20000
    eps = np.tile(stats.norm.ppf((np.arange(k) + 0.5) / k)[None, :, None], (3, 1, 1))
    np.testing.assert_allclose(vae.iwae_log_px(X, k=k, eps=eps, batch=1), truth, atol=5e-4)
    # random draws: L_20000 within its Monte Carlo error (~0.02 here) of log p(x)
    l_big = vae.iwae_log_px(X, k=k, rng=np.random.default_rng(2), batch=1)
    np.testing.assert_allclose(l_big, truth, atol=0.08)
    l_10 = vae.iwae_log_px(X, k=10, rng=np.random.default_rng(1))
    # the bound tightens with k, on average over datapoints and draws
    l_1 = np.mean([vae.iwae_log_px(X, k=1, rng=np.random.default_rng(s)) for s in range(200)],
                  axis=0)
    assert np.all(l_1 < truth) and np.mean(l_10) < np.mean(truth)
    assert np.mean(l_1) < np.mean(l_10)


def test_elbo_of_a_batch_is_the_mean_of_its_datapoints():
    vae = tiny_vae()
    X, eps = data(), np.array([[0.3], [-1.2], [2.0]])
    per_row = [float(vae.elbo(X[i:i + 1], eps=eps[i:i + 1]).value) for i in range(3)]
    assert float(vae.elbo(X, eps=eps).value) == pytest.approx(np.mean(per_row), rel=1e-14)


@pytest.mark.parametrize("call, exc, match", [
    (lambda v: v.elbo(data()), TypeError, "rng"),
    (lambda v: v.elbo(data(), eps=np.zeros((2, 1))), ValueError, "eps"),
    (lambda v: v.iwae_log_px(data(), k=4, eps=np.zeros((3, 5, 1))), ValueError, "eps"),
    (lambda v: v.iwae_log_px(data(), k=0, rng=np.random.default_rng(0)), ValueError, "k"),
    (lambda v: v.iwae_log_px(data()), TypeError, "rng"),
])
def test_bad_arguments_are_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call(tiny_vae())
