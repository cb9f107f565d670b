"""Seeds, random-effect logistic regression of germination on 21 plates (Crowder 1978; BUGS)

The proportion of seeds that germinated on each of 21 plates, in a 2 x 2 factorial design:
seed variety x1 (O. aegyptiaca 75 = 0, O. aegyptiaca 73 = 1) and root extract x2 (bean = 0,
cucumber = 1). Plate-level overdispersion is a random effect b_i, written as BUGS writes it
(centred):

    alpha0, alpha1, alpha2, alpha12 ~ Normal(0, 10),   sigma ~ HalfCauchy(1),
    b_i ~ Normal(0, sigma),
    logit p_i = alpha0 + alpha1 x1_i + alpha2 x2_i + alpha12 x1_i x2_i + b_i,
    r_i ~ Binomial(n_i, p_i),   i = 1..N = 21.

Source: Crowder, "Beta-binomial ANOVA for proportions", Applied Statistics 27, 1978;
the WinBUGS/OpenBUGS Examples Vol. I, "Seeds: random effect logistic regression" (site names
alpha0, alpha1, alpha2, alpha12, sigma and data names N, r, n, x1, x2 follow it). Priors: BUGS
uses alpha ~ N(0, 10^6 variance) and tau = 1/sigma^2 ~ Gamma(0.001, 0.001); here the
coefficients get sd 10 (flat on the logit scale over any plausible range: posterior sds are
0.2-0.4) and sigma a HalfCauchy(1), which, unlike the Gamma(0.001, 0.001) on the precision,
does not pile mass near sigma = 0 (Gelman, "Prior distributions for variance parameters in
hierarchical models", Bayesian Analysis, 2006).

Parameterisation: b is a Normal whose scale is a latent, so `ppl.advi` and `ppl.dadvi` learn a
centredness lam_i per plate (`centring="learn"`, `ppl.centring`): they fit
b_tilde_i ~ N(0, sigma^lam_i) with b_i = sigma^(1 - lam_i) b_tilde_i; lam_i = 0 is the
hand-non-centred b_i = sigma b_raw_i, b_raw_i ~ N(0, 1) this entry was written in before
centring was learned. Meanfield on that form has nothing to learn (b_raw depends on no latent):
sigma came out 0.43 sd low, 0.76 of the posterior sd after PSIS reweighting; written as here,
within 0.1 sd (lam between 0 and 0.9 by plate).

Data (typed in, 4 x 21 numbers): r (germinated), n (seeds on the plate), x1, x2, from the BUGS
Examples Vol. I Seeds data (from Crowder 1978), checked against several independent copies.

    >>> from models import seeds
    >>> m = seeds.model(**seeds.data())
    >>> m.num_params, list(m.parameters)
    (26, ['alpha0', 'alpha1', 'alpha2', 'alpha12', 'sigma', 'b'])
"""
import numpy as np

import ppl
from ppl import dist

__all__ = ["model", "data"]

R = [10, 23, 23, 26, 17, 5, 53, 55, 32, 46, 10, 8, 10, 8, 23, 0, 3, 22, 15, 32, 3]
N_SEEDS = [39, 62, 81, 51, 39, 6, 74, 72, 51, 79, 13, 16, 30, 28, 45, 4, 12, 41, 30, 51, 7]
X1 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
X2 = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def data():
    """The shipped data: N = 21 plates, r germinated of n, seed variety x1, root extract x2."""
    return {"N": 21, "r": np.array(R, dtype=float), "n": np.array(N_SEEDS, dtype=float),
            "x1": np.array(X1, dtype=float), "x2": np.array(X2, dtype=float)}


@ppl.model
def seeds(N, n, x1, x2, r=None):
    """alpha ~ N(0, 10); sigma ~ HalfCauchy(1); b ~ N(0, sigma);
    r ~ Binomial(n, logits = alpha0 + alpha1 x1 + alpha2 x2 + alpha12 x1 x2 + b)."""
    alpha0 = ppl.sample("alpha0", dist.Normal(0.0, 10.0))
    alpha1 = ppl.sample("alpha1", dist.Normal(0.0, 10.0))
    alpha2 = ppl.sample("alpha2", dist.Normal(0.0, 10.0))
    alpha12 = ppl.sample("alpha12", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfCauchy(1.0))
    with ppl.plate("plate", int(N)):
        b = ppl.sample("b", dist.Normal(0.0, sigma))
        logits = alpha0 + alpha1 * x1 + alpha2 * x2 + alpha12 * x1 * x2 + b
        ppl.sample("r", dist.Binomial(n, logits=logits), obs=r)


model = seeds
