"""Inference as one flow, read in this order:

- `families`: q, a Gaussian in the unconstrained space (sample, log q, entropy), and its
  meanfield / fullrank parametrisations with their natural-gradient step;
- `objective`: the model's log density at a batch of draws, and the stochastic ELBO;
- `optim`: Stan's step-size sequence with its eta adaptation, and Adam;
- `convergence`: Stan's relative-ELBO rule and the averaging windows;
- `mode`: the mode and Hessian (whitening, Laplace, MAP);
- `diagnostics`: PSIS, k-hat and its thresholds, split R-hat;
- `config`, `advi`: ADVI's arguments and the flow that runs it;
- `laplace`: MAP and the Laplace approximation;
- `result`: `VIResult`, one result type, with each method's diagnostics in its own record.
"""
from .advi import advi
from .diagnostics import KHAT_BAD, KHAT_GOOD, khat, psis, split_rhat
from .families import Fullrank, Gaussian, Meanfield
from .laplace import MAPResult, laplace, map_estimate
from .result import AdviDiagnostics, ElboHistory, LaplaceDiagnostics, VIResult

__all__ = ["advi", "laplace", "map_estimate", "MAPResult", "VIResult", "ElboHistory",
           "AdviDiagnostics", "LaplaceDiagnostics", "Gaussian", "Meanfield", "Fullrank",
           "psis", "khat", "split_rhat", "KHAT_GOOD", "KHAT_BAD"]
