"""Inference as one flow (issue 14). This file holds the `dadvi` branch's exports; it is merged
with the reorganised package of the `infer` branch.

- `start`: the mode and its Hessian, scale-free, from several initial points (`model_start`).
- `dadvi`: deterministic ADVI's fixed-draw ELBO and its trust-region Newton fit.
- `lrvb`: linear-response covariances by Hessian-vector products and conjugate gradients.
- `verdict`: k-hat plus whether reweighting moves the moments, in words, with a remedy.
- `resample`: PSIS importance resampling (Pathfinder).
- `fit`: `dadvi(model, ...)`, the user-facing call (exported as `ppl.dadvi`).
"""
from .fit import DADVIResult, dadvi
from .lrvb import LRVB, lrvb_cov
from .resample import Resampled, psis_resample
from .start import Start, find_mode, model_start
from .verdict import Verdict, judge, meanfield_warning

__all__ = ["dadvi", "DADVIResult", "Start", "find_mode", "model_start", "LRVB", "lrvb_cov",
           "Verdict", "judge", "meanfield_warning", "Resampled", "psis_resample"]
