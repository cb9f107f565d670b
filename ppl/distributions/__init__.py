"""Probability distributions: log_prob (differentiable by the engine), sample, support, shapes.

The shape contract is stated once, in `base.Distribution`.
"""
from .base import (Distribution, ExpandedDistribution, Independent, enable_validation,
                   is_validation_enabled, validation_enabled)
from .continuous import *
from .positive import *
from .bounded import *
from .discrete import *
from .multivariate import *
from .improper import *
from . import cdf as _cdf  # registers the cdf, log_cdf and icdf of each family
