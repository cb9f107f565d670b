"""The VAE against an independent numpy computation, finite differences and its own bounds."""
import json

import numpy as np
import pytest
from scipy import special, stats

from autodiff import optim
from models.vae import VAE


def np_forward(sd, x, eps):
    """(log p(x|z), KL(q || N(0, I)), mu, logvar, z) per datapoint, in float64, from the weights."""
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    lin = lambda name, a: a @ sd[f"{name}.weight"] + sd[f"{name}.bias"]
    h = np.maximum(lin("enc", x), 0)
    mu, logvar = lin("enc_mu", h), lin("enc_logvar", h)
    z = mu + np.sqrt(np.exp(logvar)) * eps
    logits = lin("dec_logits", np.maximum(lin("dec", z), 0))
    p = special.expit(logits)
    # Bernoulli log-likelihood written the textbook way, with logs of probabilities
    log_lik = np.sum(special.xlogy(x, p) + special.xlogy(1 - x, 1 - p), axis=-1)
    var = np.exp(logvar)
    # KL(N(mu, var) || N(0, 1)) = 1/2 (var + mu^2 - 1 - log var), summed over dimensions
    kl = 0.5 * np.sum(var + mu ** 2 - 1 - logvar, axis=-1)
    return log_lik, kl, mu, logvar, z


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(5)
    # grey-level "images" in [0, 1], a third of them exactly 0, as MNIST's background
    x = rng.random((16, 784)).astype(np.float32)
    x[x < 0.33] = 0
    return x


def test_elbo_equals_numpy_on_fixed_weights(batch):
    vae = VAE(rng=np.random.default_rng(0))
    eps = np.random.default_rng(1).standard_normal((16, 20), dtype=np.float32)
    got = vae.elbo(batch, eps=eps)
    log_lik, kl, *_ = np_forward(vae.state_dict(), batch.astype(np.float64), eps)
    assert got.dtype == np.float32
    np.testing.assert_allclose(float(got.value), np.mean(log_lik - kl), rtol=2e-6)
    # the same eps from the same seed when only rng is given
    again = vae.elbo(batch, np.random.default_rng(1))
    assert float(again.value) == float(got.value)


def test_elbo_gradient_matches_finite_differences():
    vae = VAE(x_dim=12, h_dim=7, z_dim=3, rng=np.random.default_rng(2), dtype=np.float64)
    rng = np.random.default_rng(3)
    x = rng.random((5, 12))
    eps = rng.standard_normal((5, 3))
    vae.elbo(x, eps=eps).backward()
    params = dict(vae.named_parameters())
    f = lambda: float(vae.elbo(x, eps=eps).value)
    for name in ("enc.weight", "enc_logvar.bias", "enc_mu.weight", "dec.weight", "dec_logits.bias"):
        p = params[name]
        for idx in [tuple(rng.integers(0, n) for n in p.shape) for _ in range(3)]:
            old = p.value[idx]
            p.value[idx] = old + 1e-6
            up = f()
            p.value[idx] = old - 1e-6
            down = f()
            p.value[idx] = old
            np.testing.assert_allclose(p.grad[idx], (up - down) / 2e-6, rtol=1e-5, atol=1e-8,
                                       err_msg=f"{name}{idx}")


def test_one_adam_step_lowers_the_loss(batch):
    vae = VAE(rng=np.random.default_rng(0))
    opt = optim.Adam(vae.parameters(), lr=1e-3)
    eps = np.random.default_rng(1).standard_normal((16, 20), dtype=np.float32)
    before = vae.elbo(batch, eps=eps)
    (-before).backward()
    opt.step()
    after = float(vae.elbo(batch, eps=eps).value)
    assert after > float(before.value) + 1.0        # the ELBO rises: the loss -ELBO falls


def test_iwae_matches_numpy_logsumexp_and_bounds_the_elbo(batch):
    vae = VAE(rng=np.random.default_rng(0))
    x, k = batch[:6], 100
    eps = np.random.default_rng(4).standard_normal((6, k, 20), dtype=np.float32)
    got = vae.iwae_log_px(x, k=k, eps=eps, batch=4)       # two chunks
    ref = np.empty(6)
    for i in range(6):
        log_lik, _, mu, logvar, z = np_forward(vae.state_dict(), x[i:i + 1].astype(float), eps[i])
        log_w = (log_lik + stats.norm.logpdf(z).sum(-1)
                 - stats.norm.logpdf(z, mu, np.exp(0.5 * logvar)).sum(-1))
        ref[i] = special.logsumexp(log_w) - np.log(k)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # the same draws from the same seed
    np.testing.assert_array_equal(vae.iwae_log_px(x, k, np.random.default_rng(4), batch=4), got)
    # the bound: averaged over datapoints and draws, L_100 lies above the ELBO
    elbos = [float(vae.elbo(x, eps=eps[:, s]).value) for s in range(k)]
    assert got.mean() > np.mean(elbos) + 1.0


def train(vae, opt, x, rng, steps):
    for _ in range(steps):
        opt.zero_grad()
        (-vae.elbo(x[rng.integers(0, len(x), 8)], rng)).backward()
        opt.step()


def test_checkpoint_resume_is_bit_identical(batch, tmp_path):
    def fresh(seed=0):
        vae = VAE(x_dim=784, h_dim=32, z_dim=4, rng=np.random.default_rng(seed))
        return vae, optim.Adam(vae.parameters(), lr=1e-2)

    vae, opt = fresh()
    train(vae, opt, batch, np.random.default_rng(7), 6)

    vae1, opt1 = fresh()
    rng = np.random.default_rng(7)
    train(vae1, opt1, batch, rng, 3)
    optim.save(tmp_path / "ckpt.npz", vae1, opt1, step=3,
               rng_state=json.dumps(rng.bit_generator.state))
    vae2, opt2 = fresh(seed=99)                       # everything comes from the file
    extra = optim.load(tmp_path / "ckpt.npz", vae2, opt2)
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = json.loads(extra["rng_state"])
    train(vae2, opt2, batch, rng2, 3)
    for (name, a), b in zip(vae.state_dict().items(), vae2.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert extra["step"] == 3 and not np.array_equal(vae.enc.weight.value, vae1.enc.weight.value)


def test_sample_and_reconstruct_shapes(batch):
    vae = VAE(x_dim=784, h_dim=16, z_dim=2, rng=np.random.default_rng(0))
    s = vae.sample(5, np.random.default_rng(0))
    r = vae.reconstruct(batch[:3])
    assert s.shape == (5, 784) and r.shape == (3, 784) and s.dtype == np.float32
    assert 0 < s.min() and s.max() < 1
    assert "z_dim=2" in repr(vae)
