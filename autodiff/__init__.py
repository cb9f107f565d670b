"""Wengert's automatic-differentiation engine: reverse and forward mode on numpy arrays.

    import autodiff as ad
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = ad.sum(ad.exp(x) * x)
    y.backward()
    x.grad                      # d/dx sum(x e^x) = (1 + x) e^x
    ad.grad(lambda x: ad.sum(ad.sin(x)))(np.zeros(3))
"""
from .tensor import Node, Tensor, enable_grad, is_grad_enabled, no_grad, primitive  # first
from .ops import *  # noqa: F401,F403,E402
from .ops import __dict__ as _ops_dict  # noqa: E402

__all__ = ["Tensor", "Node", "primitive", "no_grad", "enable_grad", "is_grad_enabled"] + [
    k for k in _ops_dict if not k.startswith("_") and callable(_ops_dict[k])]
from .functional import (grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp,  # noqa: E402
                         tree_flatten, tree_unflatten, value_and_grad, vjp)

__all__ += ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "jacobian", "hessian",
            "hvp", "tree_flatten", "tree_unflatten"]
from .check import check_grads  # noqa: E402

__all__ += ["check_grads"]
from .graph import draw_graph, to_dot, topological_order  # noqa: E402

__all__ += ["topological_order", "to_dot", "draw_graph"]
