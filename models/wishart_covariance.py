"""Multivariate normal with known mean and an inverse-Wishart prior on its covariance

A covariance matrix as a `positive_definite` parameter (Stan's `cov_matrix`, mapped from R^6
by the Cholesky-factor transform), with the inverse-Wishart prior added as a `factor`:

    Sigma ~ InvWishart(nu, Psi):  log p(Sigma) = nu/2 log|Psi| - nu D/2 log 2 - log Gamma_D(nu/2)
                                   - (nu + D + 1)/2 log|Sigma| - tr(Psi Sigma^-1)/2,
    y_n ~ MultivariateNormal(mu, Sigma),  n = 1..N,  mu known,

with Gamma_D the multivariate gamma function. The prior is conjugate: with
S = sum_n (y_n - mu)(y_n - mu)^T the posterior is exactly InvWishart(nu + N, Psi + S), so
its mean (Psi + S) / (nu + N - D - 1) and the variances of its entries are known in closed form
(the conjugate pair of Gelman et al., "Bayesian Data Analysis", 3rd ed., 2013, chapter 3).

The variant `cholesky` (zoo name `wishart_covariance_cholesky`) has the Cholesky factor of Sigma
as its parameter (`lower_cholesky`) and the Jacobian of L -> L L^T in its prior: the same
posterior, and the same density in the unconstrained space.

Data: simulated with numpy.random.default_rng(SEED) from the true parameters TRUE = {"Sigma":
[[2, 0.6, -0.4], [0.6, 1, 0.3], [-0.4, 0.3, 0.5]]}, mean MU = [0, 1, -1], D = 3, N = 50;
prior nu = D + 2 = 5, Psi = identity (see `simulate`).

    >>> from models import wishart_covariance as wc
    >>> m = wc.model(**wc.data())
    >>> m.num_params, list(m.parameters)
    (6, ['Sigma'])
"""
import math

import numpy as np

import autodiff as ad
import ppl
from models import Entry
from ppl import constraints, dist

__all__ = ["model", "data", "simulate", "inv_wishart_log_prob", "cholesky", "TRUE", "MU", "SEED"]

SEED = 20261127
MU = np.array([0.0, 1.0, -1.0])
TRUE = {"Sigma": np.array([[2.0, 0.6, -0.4],
                           [0.6, 1.0, 0.3],
                           [-0.4, 0.3, 0.5]])}


def simulate(seed=SEED, N=50):
    """y_n ~ MVN(MU, TRUE Sigma), n = 1..N, and the prior nu = D + 2, Psi = I: the keywords."""
    rng = np.random.default_rng(seed)
    D = len(MU)
    y = MU + rng.standard_normal((N, D)) @ np.linalg.cholesky(TRUE["Sigma"]).T
    return {"N": N, "D": D, "mu": MU.copy(), "nu": D + 2.0, "Psi": np.eye(D), "y": y}


def data():
    """The shipped data: simulate() with the default seed, N = 50 draws of dimension D = 3."""
    return simulate()


def inv_wishart_log_prob(Sigma_tril, nu, Psi):
    """log InvWishart(Sigma | nu, Psi) from L = Sigma_tril (L L^T = Sigma; engine ops in L,
    nu and Psi data): nu/2 log|Psi| - nu D/2 log 2 - log Gamma_D(nu/2)
    - (nu + D + 1)/2 log|Sigma| - tr(Psi Sigma^-1)/2, where log|Sigma| = 2 sum log L_ii and,
    with C C^T = Psi, tr(Psi Sigma^-1) = |L^-1 C|_F^2.
    """
    D = Psi.shape[-1]
    log_multigamma = D * (D - 1) / 4 * math.log(math.pi) + sum(
        math.lgamma(nu / 2 + (1 - j) / 2) for j in range(1, D + 1))
    const = (nu / 2 * np.linalg.slogdet(Psi)[1] - nu * D / 2 * math.log(2.0)
             - log_multigamma)
    log_det = 2.0 * ad.sum(ad.log(ad.diagonal(Sigma_tril, 0, -2, -1)))
    W = ad.solve_triangular(Sigma_tril, np.linalg.cholesky(Psi))
    return const - (nu + D + 1) / 2 * log_det - 0.5 * ad.sum(W * W)


@ppl.model
def wishart_covariance(N, D, mu, nu, Psi, y=None):
    """Sigma ~ InvWishart(nu, Psi) (a factor on a positive_definite Sigma); y_n ~ MVN(mu, Sigma)."""
    Sigma = ppl.sample("Sigma", dist.ImproperUniform(constraints.positive_definite, (), (D, D)))
    with ppl.plate("obs", N):
        likelihood = dist.MultivariateNormal(mu, covariance_matrix=Sigma)
        ppl.sample("y", likelihood, obs=y)
    # its Cholesky factor, NaN where Sigma is not positive definite in floating point
    ppl.factor("Sigma_prior", inv_wishart_log_prob(likelihood.scale_tril, nu, Psi))


@ppl.model
def wishart_covariance_cholesky(N, D, mu, nu, Psi, y=None):
    """L_Sigma a lower_cholesky parameter, Sigma = L L^T ~ InvWishart(nu, Psi); y_n ~ MVN(mu,
    scale_tril=L): the prior on L is InvWishart(L L^T) * 2^D prod_k L_kk^(D - k + 1)."""
    L_Sigma = ppl.sample("L_Sigma",
                         dist.ImproperUniform(constraints.lower_cholesky, (), (D, D)))
    ppl.deterministic("Sigma", L_Sigma @ L_Sigma.T)
    log_diag = ad.log(ad.diagonal(L_Sigma, 0, -2, -1))
    log_jacobian = D * math.log(2.0) + ad.sum(np.arange(D, 0, -1.0) * log_diag)
    ppl.factor("Sigma_prior", inv_wishart_log_prob(L_Sigma, nu, Psi) + log_jacobian)
    with ppl.plate("obs", N):
        ppl.sample("y", dist.MultivariateNormal(mu, scale_tril=L_Sigma), obs=y)


model = wishart_covariance


cholesky = Entry(wishart_covariance_cholesky, data, """\
Inverse-Wishart covariance as a Cholesky-factor parameter (lower_cholesky)

The same posterior as `wishart_covariance`, parametrised by the Cholesky factor of Sigma
(Stan's `cholesky_factor_cov`: x fills L row by row, e^x on the diagonal):

    L_Sigma lower triangular with a positive diagonal,  Sigma = L_Sigma L_Sigma^T,
    Sigma ~ InvWishart(nu, Psi), added on L as InvWishart(L L^T) 2^D prod_k L_kk^(D - k + 1)
    (the Jacobian of L -> L L^T),
    y_n ~ MultivariateNormal(mu, scale_tril = L_Sigma),  n = 1..N,  mu known.

The likelihood needs no Cholesky factorisation. With the change of variables written out, the
density in the unconstrained space equals `wishart_covariance`'s at every point, so the two
entries check each other; the posterior is again exactly InvWishart(nu + N, Psi + S).
Data: the same simulation (numpy.random.default_rng(SEED), TRUE Sigma, N = 50, D = 3).
""")
