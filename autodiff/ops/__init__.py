"""The engine's operations, with numpy's names. Each module groups primitives by kind."""
from .elementwise import (abs, absolute, add, astype, clip, cos, divide, exp, expm1, log,
                          log1p, log_sigmoid, maximum, minimum, multiply, negative, power,
                          reciprocal, relu, sigmoid, sign, sin, softplus, sqrt, square, subtract,
                          tan, tanh, where)
from .products import dot, matmul, outer
from .reductions import (amax, amin, cumsum, log_softmax, logsumexp, max, mean, min, prod,
                         softmax, std, sum, var)
from .shape import (broadcast_to, concatenate, expand, expand_dims, flip, getitem, moveaxis,
                    reshape, scatter_add, squeeze, stack, swapaxes, take_along_axis, transpose,
                    unsqueeze)
from .linalg import (cholesky, diagonal, einsum, inv, logdet, slogdet, solve, solve_triangular,
                     trace, tril, triu)
from .special import (betaln, digamma, erf, erfc, gammaln, lgamma, log_ndtr, ndtr, polygamma,
                      xlog1py, xlogy)

pow = power  # numpy 2's names
concat = concatenate

__all__ = [name for name in dir() if not name.startswith("_")
           and name not in ("elementwise", "products", "reductions", "shape", "linalg", "special")]
