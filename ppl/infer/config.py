"""What an ADVI fit is asked to do (`AdviConfig`), checked once, and its initial point."""
import math
import numbers
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

import autodiff as ad


__all__ = ["AdviConfig", "initial_point", "has_subsample", "rows_per_step", "progress_bar",
           "site_of"]


@dataclass(frozen=True)
class AdviConfig:
    """The arguments of `ppl.advi` that shape the run (see its docstring), checked."""
    family: str = "meanfield"
    steps: int = 10_000
    optimizer: str = "stan"
    eta: Optional[float] = None
    adapt_iter: int = 50
    tol_rel_obj: float = 0.01
    eval_elbo: int = 100
    grad_samples: int = 1
    elbo_samples: int = 100
    lr: Optional[float] = None
    average: bool = True
    precondition: Optional[str] = "laplace"
    rank: Optional[int] = None

    def __post_init__(self):
        if self.family not in ("meanfield", "fullrank", "lowrank"):
            raise ValueError(f"advi: family must be 'meanfield', 'fullrank' or 'lowrank', got "
                             f"{self.family!r}")
        if self.rank is not None:
            if self.family != "lowrank":
                raise ValueError(f"advi: rank is the low-rank family's; family={self.family!r} "
                                 "takes none")
            if isinstance(self.rank, bool) or not isinstance(self.rank, (int, np.integer)) \
                    or self.rank < 1:
                raise ValueError(f"advi: rank must be a positive integer, got {self.rank!r}")
        if self.optimizer not in ("stan", "adam"):
            raise ValueError(f"advi: optimizer must be 'stan' or 'adam', got {self.optimizer!r}")
        for name in ("steps", "adapt_iter", "eval_elbo", "grad_samples", "elbo_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"advi: {name} must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        for name in ("tol_rel_obj", "eta", "lr"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)
                                  or not v > 0 or not math.isfinite(v)):
                raise ValueError(f"advi: {name} must be a positive number, got {v!r}")
            if v is not None:
                object.__setattr__(self, name, float(v))
        if self.tol_rel_obj is None:
            raise ValueError("advi: tol_rel_obj must be a positive number, got None")
        if self.optimizer == "stan" and self.lr is not None:
            raise ValueError("advi: lr is Adam's step size; with optimizer='stan' give eta=...")
        if self.optimizer == "adam" and self.eta is not None:
            raise ValueError("advi: eta is the Stan optimizer's step-size scale; with "
                             "optimizer='adam' give lr=...")
        if self.precondition not in ("laplace", None):
            raise ValueError(f"advi: precondition must be 'laplace' or None, got "
                             f"{self.precondition!r}")


def check_model(model):
    from ..model import Model  # noqa: PLC0415 -- ppl.model imports the package
    if not isinstance(model, Model):
        raise TypeError(f"advi: model must be a bound ppl.Model (call the @ppl.model factory "
                        f"with its data), got {type(model).__name__}")
    if model.num_params == 0:
        raise ValueError(f"advi: model {model.name!r} has no latent parameters to fit")


def initial_point(model, init):
    """init (dict of constrained values) -> flat z, naming the site whose value is outside
    its support, then checked: a clear error naming the site whose log density is not finite
    there."""
    if isinstance(init, dict):
        for name, p in model.parameters.items():
            if name in init and not np.all(p.constraint.check(np.asarray(init[name]))):
                raise ValueError(f"advi: init[{name!r}] = {init[name]!r} is outside the support "
                                 f"{p.constraint!r} of site {name!r}")
    try:
        z0 = model.unconstrain(init)
    except (ValueError, TypeError) as e:
        raise type(e)(f"advi: init {init!r} cannot be used: {e}") from None
    _check_finite_at(model, z0)
    return z0


def _check_finite_at(model, z0):
    with np.errstate(all="ignore"):
        lp, g = model.full_value_and_grad(z0)        # data on disk: chunk by chunk
    if np.isfinite(lp) and np.all(np.isfinite(g)):
        return
    params = model.constrain(z0, deterministic=False)
    bad = []
    with np.errstate(all="ignore"):
        for name, site in model.trace(params).items():
            if site.log_prob is not None and not np.all(np.isfinite(ad.getval(
                    site.log_prob))):
                bad.append(f"{name!r} ({site.fn!r})" if site.fn is not None else repr(name))
    where = ("the log density of site(s) " + ", ".join(bad) + " is not finite there") if bad \
        else "every site's log density is finite there, so a transform's log-Jacobian or " \
             "the gradient is not"
    what = "log density" if not np.isfinite(lp) else "gradient"
    raise ValueError(f"advi: the {what} of model {model.name!r} is not finite at the initial "
                     f"point {params}: {where}. Give init=... with values inside the support")


def has_subsample(model):
    """Whether the model has a plate that subsamples its data (minibatches): the plates' own
    subsample_size or `Model.subsample`."""
    return bool(model.subsampled)


def rows_per_step(model):
    """Rows of data one gradient evaluation reads: the minibatch, or every plate's rows."""
    sizes = {n: size for n, (size, _, _) in model.plates.items()}
    return sum({**sizes, **model.subsampled}.values()) or 1


def progress_bar(progress, steps, model, method="ADVI"):
    """A tqdm bar on a terminal (progress=None) or when asked; None otherwise."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm  # noqa: PLC0415 -- only with a bar
    if model.subsampled or model.layouts:    # counts rows: the rate shows rows per second
        return tqdm(total=steps, desc=f"{method} {model.name}", unit="row", leave=False,
                    unit_scale=rows_per_step(model))
    return tqdm(total=steps, desc=f"{method} {model.name}", unit="step", leave=False)


def site_of(model, i):
    """Flat index i of the unconstrained vector -> 'site' or 'site[j, k]' (index in the site's
    unconstrained shape)."""
    for name, p in model.parameters.items():
        if p.offset <= i < p.offset + p.size:
            if p.unconstrained_shape == ():
                return name
            idx = np.unravel_index(i - p.offset, p.unconstrained_shape)
            return f"{name}[{', '.join(str(int(j)) for j in idx)}]"
    raise IndexError(i)
