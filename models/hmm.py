"""Two-state Poisson hidden Markov model, states summed out by the forward algorithm (simulated)

    Gamma_k ~ Dirichlet((1, 1)) for each row k = 1, 2 of the transition matrix (a simplex),
    lambda = (lambda_1 < lambda_2) positive ordered, lambda_k ~ Gamma(2, rate 0.1),
    s_1 ~ delta (Gamma's stationary distribution),  s_t | s_{t-1} ~ Categorical(Gamma_{s_{t-1}}),
    y_t | s_t ~ Poisson(lambda_{s_t}),   t = 1..T,

with the hidden states s_t summed out: log p(y) = logsumexp_j log alpha_T(j), where
log alpha_1(j) = log delta_j + log Poisson(y_1 | lambda_j) and
log alpha_t(j) = logsumexp_i(log alpha_{t-1}(i) + log Gamma_ij) + log Poisson(y_t | lambda_j).
delta solves delta Gamma = delta (for two states delta = (Gamma_21, Gamma_12) / (Gamma_12 +
Gamma_21)). Ordering the rates labels the states (state 1 the low-rate one). lambda's support
is set with an improper uniform on positive-ordered vectors and its Gamma prior added with
ppl.factor (so the model has no prior draws; `PoissonHMM.sample` simulates y given the
parameters, e.g. under handlers.substitute, for posterior predictive checks).
The recursion is associative (a chain of log-semiring matrix products M_2 (x) ... (x) M_T), so
it is taken as a balanced tree of pairwise products: log2(T) levels on the tape instead of T
steps, about 5x faster per gradient at T = 120 (the step-by-step loop is in the tests).

Source: Zucchini, MacDonald and Langrock, "Hidden Markov Models for Time Series", 2nd ed., 2016
(the Poisson-HMM and its forward algorithm, stationary start); Stan User's Guide, "Hidden Markov
models" (the forward algorithm in log space). The priors are ours.

Data: T = 120 counts simulated with numpy.random.default_rng(SEED) from
TRUE = {"Gamma": [[0.9, 0.1], [0.2, 0.8]], "lambda": [2.0, 8.0]}, the first state drawn from
Gamma's stationary distribution (2/3, 1/3) (see `simulate`).

    >>> from models import hmm
    >>> m = hmm.model(**hmm.data())
    >>> m.num_params, list(m.parameters)
    (4, ['Gamma', 'lambda'])
"""
import numpy as np

import autodiff as ad
import ppl
from autodiff import getval
from ppl import constraints, dist
from ppl.distributions.base import Distribution

__all__ = ["model", "data", "simulate", "stationary", "PoissonHMM", "TRUE", "SEED"]

SEED = 1729
TRUE = {"Gamma": np.array([[0.9, 0.1], [0.2, 0.8]]), "lambda": np.array([2.0, 8.0])}


def stationary(Gamma):
    """delta with delta Gamma = delta, sum delta = 1, for 2 states:
    delta = (Gamma_21, Gamma_12) / (Gamma_12 + Gamma_21). (The S-state solve of
    (I - Gamma + U)^T delta = 1 raises on a reducible Gamma, which ADVI's wide first steps
    can reach; here that is a NaN density, which ADVI rejects and retries.)"""
    off = ad.stack([Gamma[1, 0], Gamma[0, 1]])
    return off / ad.sum(off)


def _log_matmul(A, B):
    """log(exp(A) @ exp(B)) for stacks of matrices (n, S, S): logsumexp_k(A_ik + B_kj)."""
    return ad.logsumexp(A[:, :, :, None] + B[:, None, :, :], axis=2)


class PoissonHMM(Distribution):
    """PoissonHMM(init, Gamma, rate, T): counts y_1..y_T of a Poisson HMM with S states,
    s_1 ~ init, s_t ~ Gamma[s_{t-1}], y_t ~ Poisson(rate[s_t]); log p(y) = the forward algorithm
    in log space (see the module docstring), summing over the S^T state paths.
    """
    arg_constraints = {}
    support = constraints.independent(constraints.nonnegative_integer, 1)
    is_discrete = True

    def __init__(self, init, Gamma, rate, T):
        self.init, self.Gamma, self.rate = init, Gamma, rate
        super().__init__((), (int(T),), validate_args=False)

    def sample(self, rng, sample_shape=()):
        init, Gamma, rate = (np.asarray(getval(p), dtype=float)
                             for p in (self.init, self.Gamma, self.rate))
        n, T = int(np.prod(sample_shape)), self.event_shape[0]
        s = np.empty((n, T), dtype=int)
        s[:, 0] = (rng.random((n, 1)) > np.cumsum(init)[:-1]).sum(-1)
        for t in range(1, T):   # a simulation, not on the tape
            s[:, t] = (rng.random((n, 1)) > np.cumsum(Gamma[s[:, t - 1]], -1)[:, :-1]).sum(-1)
        return rng.poisson(rate[s]).reshape(tuple(sample_shape) + (T,))

    def log_prob(self, value):
        y = np.asarray(getval(value), dtype=float)
        if y.ndim != 1:
            raise ValueError(f"PoissonHMM.log_prob: one series of shape (T,), got {y.shape}")
        log_emit = dist.Poisson(self.rate).log_prob(y[:, None])     # (T, S)
        M = ad.log(self.Gamma) + log_emit[1:, None, :]    # M_t[i, j] = log Gamma_ij p(y_t | j)
        while M.shape[0] > 1:    # M_2 (x) ... (x) M_T by pairs: log2(T) levels on the tape
            n = M.shape[0] // 2 * 2
            pairs = _log_matmul(M[0:n:2], M[1:n:2])
            M = pairs if n == M.shape[0] else ad.concatenate([pairs, M[n:]], axis=0)
        log_alpha_1 = ad.log(self.init) + log_emit[0]
        if len(y) == 1:
            return ad.logsumexp(log_alpha_1)
        return ad.logsumexp(log_alpha_1[:, None] + M[0])

    def __repr__(self):
        return f"PoissonHMM(S={np.shape(getval(self.rate))[-1]}, T={self.event_shape[0]})"


@ppl.model
def hmm(T, y=None):
    """Gamma_k ~ Dirichlet(1, 1), lambda positive ordered ~ Gamma(2, 0.1);
    y ~ PoissonHMM(stationary(Gamma), Gamma, lambda)."""
    with ppl.plate("state", 2):
        Gamma = ppl.sample("Gamma", dist.Dirichlet(np.ones(2)))
    lam = ppl.sample("lambda", dist.ImproperUniform(constraints.positive_ordered, (), (2,)))
    ppl.factor("lambda_prior", ad.sum(dist.Gamma(2.0, 0.1).log_prob(lam)))
    ppl.sample("y", PoissonHMM(stationary(Gamma), Gamma, lam, T), obs=y)


model = hmm


def simulate(seed=SEED, T=120):
    """Data keywords {T, y}: T counts of the Poisson HMM at TRUE, stationary start."""
    rng = np.random.default_rng(seed)
    G, lam = TRUE["Gamma"], TRUE["lambda"]
    delta = np.array([G[1, 0], G[0, 1]]) / (G[0, 1] + G[1, 0])
    s = np.empty(T, dtype=int)
    s[0] = rng.choice(2, p=delta)
    for t in range(1, T):
        s[t] = rng.choice(2, p=G[s[t - 1]])
    return {"T": T, "y": rng.poisson(lam[s])}


def data():
    """The shipped data: simulate() with its defaults (T = 120)."""
    return simulate()
