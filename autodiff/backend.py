"""The array library behind the ops: the one place where they reach numpy (and scipy).

Every module in ops/ takes `np` (numpy's API), `sp` (scipy.special's) and `sla` (scipy.linalg's)
from here, so that another array library with numpy's API (CuPy and cupyx.scipy for a GPU) can
be put behind the engine by changing this module alone.
"""
import numpy as np
from scipy import linalg as sla
from scipy import special as sp

__all__ = ["np", "sp", "sla"]
