"""Wengert's automatic-differentiation engine: reverse and forward mode on numpy arrays.

    import autodiff as ad
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = ad.sum(ad.exp(x) * x)
    y.backward()
    x.grad                      # d/dx sum(x e^x) = (1 + x) e^x
    ad.grad(lambda x: ad.sum(ad.sin(x)))(np.zeros(3))
"""
# tensor first: it wires the machinery (core) and the operators (ops) together on import
from .tensor import (Node, Tensor, enable_grad, getval, is_grad_enabled, no_grad,  # noqa: I001
                     primitive)
from .values import shape_of, stop_gradient, value_op
from . import ops
from .ops import *  # noqa: F403
from .check import check_grads
from .functional import (grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, tree_flatten,
                         tree_unflatten, value_and_grad, vjp)
from .batching import vmap
from .graph import draw_graph, to_dot, topological_order
from .optimize import NewtonError, NewtonResult, minimize_newton, newton
from .compile import Compiled, Replay, compile_value_and_grad
from . import nn, optim  # modules, not star exports: `from autodiff import nn, optim`

__all__ = ["Tensor", "Node", "getval", "shape_of", "stop_gradient", "value_op", "primitive",
           "no_grad", "enable_grad", "is_grad_enabled",
           "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "jacobian", "hessian",
           "hvp", "vmap", "tree_flatten", "tree_unflatten", "check_grads", "topological_order",
           "to_dot", "draw_graph", "newton", "minimize_newton", "NewtonResult", "NewtonError",
           "compile_value_and_grad", "Compiled", "Replay", *ops.__all__]
