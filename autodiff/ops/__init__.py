"""The engine's operations, with numpy's names. Each module groups primitives by kind."""
from .elementwise import (abs, absolute, add, astype, clip, cos, divide, exp, expm1, log,
                          log1p, log_sigmoid, maximum, minimum, multiply, negative, power,
                          reciprocal, relu, sigmoid, sign, sin, softplus, sqrt, square, subtract,
                          tan, tanh, where)
from .trig import (arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cosh, exp2, fmod,
                   hypot, log2, log10, logaddexp, logaddexp2, mod, remainder, sinh)
from .products import cross, dot, inner, kron, matmul, outer, tensordot, vdot
from .reductions import (amax, amin, cumsum, log_softmax, logsumexp, max, mean, min, prod,
                         softmax, std, sum, var)
from .shape import (broadcast_to, concatenate, expand, expand_dims, flip, getitem, moveaxis,
                    reshape, scatter_add, squeeze, stack, swapaxes, take_along_axis, transpose,
                    unsqueeze)
from .layout import (append, argsort, array_split, atleast_1d, atleast_2d, atleast_3d, c_,
                     column_stack, diag, diff, dsplit, dstack, fliplr, flipud, hsplit, hstack,
                     pad, r_, ravel, repeat, roll, rot90, row_stack, sort, split, tile, vsplit,
                     vstack)
from .linalg import (cholesky, diagonal, einsum, inv, logdet, slogdet, solve, solve_triangular,
                     trace, tril, triu)
from .decomp import det, eig, eigh, eigvalsh, norm, pinv, svd
from .special import (beta, betainc, betaincinv, betaln, digamma, erf, erfc, erfcinv, erfinv,
                      gamma, gammainc, gammaincc, gammaincinv, gammaln, gammasgn, lgamma,
                      log_ndtr, logit, multigammaln, ndtr, ndtri, polygamma, psi, rgamma,
                      xlog1py, xlogy)
from .bessel import i0, i1, iv, ive, j0, j1, jn, y0, y1, yn

pow = power  # numpy 2's names
concat = concatenate
true_divide = divide
expit = sigmoid
asin, acos, atan, atan2 = arcsin, arccos, arctan, arctan2
asinh, acosh, atanh = arcsinh, arccosh, arctanh

__all__ = [name for name in dir() if not name.startswith("_")
           and name not in ("elementwise", "products", "reductions", "shape", "linalg", "special",
                            "trig", "layout", "decomp", "bessel")]
