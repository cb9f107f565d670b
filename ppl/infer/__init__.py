"""Inference as one flow, read in this order:

- `families`: q, a Gaussian in the unconstrained space (sample, log q, entropy), and its
  meanfield / fullrank parametrisations with their natural-gradient step;
- `objective`: the model's log density at a batch of draws, and the stochastic ELBO;
- `optim`: Stan's step-size sequence with its eta adaptation, and Adam;
- `convergence`: Stan's relative-ELBO rule and the averaging windows;
- `start`: the mode and its Hessian, scale-free, from several initial points (DADVI's start);
- `mode`: the mode and Hessian from one point (ADVI's whitening, Laplace, MAP);
- `diagnostics`: PSIS, k-hat and its thresholds, split R-hat;
- `verdict`: k-hat plus whether reweighting moves the moments, in words, with a remedy;
- `resample`: PSIS importance resampling (Pathfinder);
- `config`, `advi`: ADVI's arguments and the flow that runs it;
- `draws`, `dadvi`, `lrvb`, `fit`: log p and its derivatives at many draws in batched passes,
  deterministic ADVI's fixed-draw ELBO and its trust-region Newton fit, linear-response
  covariances, and `dadvi(model, ...)` (exported as `ppl.dadvi`);
- `method`: which of ADVI's two algorithms `ppl.advi` runs by default;
- `laplace`: MAP and the Laplace approximation;
- `records`, `result`: `VIResult`, one result type, with each method's diagnostics in its own
  record (`AdviDiagnostics`, `DadviDiagnostics`, `LaplaceDiagnostics`).
"""
from .advi import advi
from .diagnostics import KHAT_BAD, KHAT_GOOD, khat, psis, split_rhat
from .families import Fullrank, Gaussian, Meanfield
from .fit import dadvi
from .laplace import MAPResult, laplace, map_estimate
from .lrvb import LRVB, lrvb_cov
from .resample import Resampled, psis_resample
from .result import (AdviDiagnostics, DadviDiagnostics, ElboHistory, LaplaceDiagnostics,
                     VIResult)
from .start import Start, model_start
from .verdict import Verdict, judge, meanfield_warning

__all__ = ["advi", "dadvi", "laplace", "map_estimate", "MAPResult", "VIResult", "ElboHistory",
           "AdviDiagnostics", "DadviDiagnostics", "LaplaceDiagnostics", "Gaussian",
           "Meanfield", "Fullrank", "psis", "khat", "split_rhat", "KHAT_GOOD", "KHAT_BAD",
           "Start", "model_start", "LRVB", "lrvb_cov", "Verdict", "judge",
           "meanfield_warning", "Resampled", "psis_resample"]
