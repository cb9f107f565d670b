"""The model zoo: classic models with their data, each runnable as `wengert fit NAME`.

A zoo entry is a module (or an `Entry` inside one) with `model`, an `@ppl.model` factory;
`data()`, the shipped data as a dict of keyword arguments for it; and a docstring with the
math and where the data come from; optionally `advi_options(data)`, keyword arguments for
`ppl.advi` that the entry needs (a start), which `wengert fit` passes on. The registry below
names each entry's module and a one-line description, so listing the zoo imports nothing
heavy; `load_model` imports one entry.

    >>> "eight_schools" in dict(list_models())
    True
    >>> zoo = load_model("eight_schools")
    >>> m = zoo.model(**zoo.data())      # a bound ppl.Model
    >>> m.num_params
    10

Other modules here (`datasets`, `synthetic_digits`, `vae`) hold the examples' data and
networks; they are not zoo entries.
"""
import importlib

__all__ = ["list_models", "load_model", "Entry", "ZOO"]

# name -> ("module" or "module:attribute", one-line description = the docstring's first line)
ZOO = {
    "eight_schools": (
        "models.eight_schools",
        "Eight schools, non-centred hierarchical normal (Rubin 1981; posteriordb)"),
    "eight_schools_centered": (
        "models.eight_schools:centered",
        "Eight schools, centred: theta ~ N(mu, tau), the funnel"),
    # -- regression and GLMs (models/kidiq.py, earnings.py, linear_regression.py,
    #    logistic_regression.py, seeds.py, count_regression.py)
    "kidiq": (
        "models.kidiq",
        "Kid's test score on mother's IQ, flat-prior linear regression (Gelman and Hill; "
        "posteriordb)"),
    "earnings": (
        "models.earnings",
        "Earnings in raw dollars on height, flat-prior linear regression (Gelman and Hill; "
        "simulated)"),
    "kidiq_normal": (
        "models.kidiq:normal",
        "Kid's test score on mother's IQ, with weakly informative Normal(0, 100) priors on beta"),
    "linear_regression": (
        "models.linear_regression",
        "Bayesian linear regression with many predictors, Normal(0, 10) coefficients "
        "(posteriordb sblri)"),
    "logistic_regression": (
        "models.logistic_regression",
        "Logistic regression, standard normal coefficients, simulated Gaussian predictors"),
    "seeds": (
        "models.seeds",
        "Seeds, random-effect logistic regression of germination on 21 plates (Crowder 1978; "
        "BUGS)"),
    "poisson_regression": (
        "models.count_regression",
        "Poisson regression with a log link and an exposure offset, simulated counts"),
    "negbin_regression": (
        "models.count_regression:negbin",
        "Negative-binomial (NB2) regression with a log link and an exposure offset, simulated "
        "counts"),
    # -- time series, mixtures and simplexes (models/ar.py, gp_regression.py,
    #    normal_mixture.py, dirichlet_categorical.py, hmm.py, arma.py, garch.py)
    "ar": (
        "models.ar",
        "AR(K) autoregression: y_t on its own K previous values (Stan User's Guide; simulated "
        "data)"),
    "gp_regression": (
        "models.gp_regression",
        "Gaussian-process regression, exponentiated quadratic kernel, marginal likelihood "
        "(simulated data)"),
    "normal_mixture": (
        "models.normal_mixture",
        "Two-component normal mixture with ordered means, marginalised with logsumexp "
        "(simulated data)"),
    "dirichlet_categorical": (
        "models.dirichlet_categorical",
        "Dirichlet-categorical: category probabilities on the simplex, exact posterior known "
        "(simulated)"),
    "hmm": (
        "models.hmm",
        "Two-state Poisson hidden Markov model, states summed out by the forward algorithm "
        "(simulated)"),
    "arma": (
        "models.arma",
        "ARMA(1, 1) time series, written with a Python loop over time (Stan User's Guide; "
        "simulated data)"),
    "garch": (
        "models.garch",
        "GARCH(1, 1) volatility, written with a Python loop over time (Stan User's Guide; "
        "simulated data)"),
    # -- covariance and bounds (models/lkj_covariance.py, wishart_covariance.py, censored.py)
    "lkj_covariance": (
        "models.lkj_covariance",
        "Multivariate normal with an LKJ prior on the correlation matrix (Stan User's Guide)"),
    "wishart_covariance": (
        "models.wishart_covariance",
        "Multivariate normal with known mean and an inverse-Wishart prior on its covariance"),
    "wishart_covariance_cholesky": (
        "models.wishart_covariance:cholesky",
        "Inverse-Wishart covariance as a Cholesky-factor parameter (lower_cholesky)"),
    "censored": (
        "models.censored",
        "Normal data censored on both sides, the censored values estimated as parameters "
        "(Stan)"),
    # -- hierarchical and many latents (models/radon.py, stochastic_volatility.py)
    "radon": (
        "models.radon",
        "Radon, varying intercepts by county, non-centred (Gelman and Hill 2007, ch. 12)"),
    "radon_centered": (
        "models.radon:centered",
        "Radon, varying intercepts by county, centred: a_j ~ N(mu_a, sigma_a)"),
    "stochastic_volatility": (
        "models.stochastic_volatility",
        "Stochastic volatility, AR(1) log volatility, non-centred, T = 500 (Stan User's Guide)"),
}


class Entry:
    """A zoo entry that shares its module with another: `model`, `data()` and a docstring."""

    def __init__(self, model, data, doc):
        self.model, self.data, self.__doc__ = model, data, doc

    def __repr__(self):
        return f"Entry({getattr(self.model, '__name__', self.model)!r})"


def list_models():
    """The zoo as [(name, one-line description)], sorted by name; imports no model."""
    return sorted((name, desc) for name, (_, desc) in ZOO.items())


def load_model(name):
    """Import the zoo entry `name`: an object with `model`, `data()` and a docstring."""
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(sorted(ZOO))}")
    path, _, attr = ZOO[name][0].partition(":")
    module = importlib.import_module(path)
    return getattr(module, attr) if attr else module
