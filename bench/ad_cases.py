"""What the autodiff workloads are made of: the libraries, the rows, and the result checks.

  ad, HAS_FUNCTIONAL           Wengert's engine (this repository's `autodiff`), and whether it
                               has its functional API (value_and_grad, hessian, hvp)
  torch, F, autograd, anp,     the optional peers, None when not importable (torch runs on one
  a_logsumexp                  thread)
  peer_versions()              {numpy, autograd, torch: version or None}
  Case, Skip, wengert_rows     one row of a workload's table: timed, or skipped with a reason
  compare(got, ref, ...)       the check every row passes before it is timed

Import it after timing.pin_blas_threads(): it imports numpy and torch.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import autodiff as ad  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
except ImportError:
    torch = F = None

try:
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp as a_logsumexp
except ImportError:
    autograd = anp = a_logsumexp = None

HAS_FUNCTIONAL = all(hasattr(ad, n) for n in ("value_and_grad", "hessian", "hvp"))


def peer_versions():
    """{numpy, autograd, torch: version string or None when not installed}."""
    ag = None
    if autograd is not None:
        try:
            from importlib.metadata import version
            ag = version("autograd")
        except Exception:  # noqa: BLE001
            ag = getattr(autograd, "__version__", None)
    return dict(numpy=np.__version__, autograd=ag,
                torch=torch.__version__ if torch else None)


# =================================================================================================
# results: conversion and comparison
def to_np(x):
    """A result as numpy: arrays stay arrays, tuples and lists become lists of arrays."""
    if isinstance(x, ad.Tensor):
        return np.asarray(x.value)
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (tuple, list)):
        return [to_np(c) for c in x]
    if hasattr(x, "_value"):  # an autograd box (should not escape, but be safe)
        return to_np(x._value)
    return np.asarray(x)


def flatten(x):
    """A (nested) result as a flat list of numpy arrays."""
    x = to_np(x)
    if isinstance(x, list):
        out = []
        for c in x:
            out.extend(flatten(c))
        return out
    return [x]


def compare(got, ref, rtol, atol):
    """(ok, message): elementwise |got - ref| <= atol + rtol * max|ref| per array."""
    g, r = flatten(got), flatten(ref)
    if len(g) != len(r):
        return False, f"{len(g)} arrays vs {len(r)}"
    worst = 0.0
    for a, b in zip(g, r):
        if np.shape(a) != np.shape(b):
            return False, f"shape {np.shape(a)} vs {np.shape(b)}"
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            return False, "non-finite result"
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        err = float(np.max(np.abs(a - b))) if a.size else 0.0
        rel = err / max(scale, 1e-300)
        worst = max(worst, rel)
        if err > atol + rtol * scale:
            return False, f"max rel err {rel:.2e}"
    return True, f"{worst:.0e}"


# =================================================================================================
# rows
class Case:
    """One row: `fn()` is what is timed; `result(fn())` gives (value, grads...) for the check.

    `group` picks the reference (when a workload has several) and the rows its ratios are
    taken within; `hand` marks the group's baseline ("x hand"), `primary` Wengert's main row
    ("x wengert").
    """

    def __init__(self, lib, fn, result=None, group="", primary=False, hand=False, note=""):
        self.lib, self.fn, self.group = lib, fn, group
        self.result = result or (lambda r: r)
        self.primary, self.hand, self.note = primary, hand, note


class Skip:
    """A row that is not run: `why` is shown in place of the timings."""

    def __init__(self, lib, why, group=""):
        self.lib, self.why, self.group = lib, why, group


def wengert_rows(make):
    """Cases from `make()`, or an error row if the engine cannot build them."""
    try:
        return make()
    except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not stop
        return [Skip("wengert", f"error: {type(e).__name__}: {e}")]
