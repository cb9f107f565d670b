"""Function transformations with JAX's conventions: grad, value_and_grad, vjp, jvp, jacfwd,
jacrev, hessian, hvp.

Each opens a new trace one level above those already active, so they nest:
`grad(grad(f))`, `jacfwd(grad(f))` (forward-over-reverse: the Hessian), `grad` inside `jvp`.
Functions may take and return numpy arrays, Python scalars, Tensors, and tuples, lists or dicts
of them (pytrees). Results are numpy arrays when nothing outside is being differentiated.
"""
import math

import numpy as np

from .ops import concatenate, getitem, reshape, stack, transpose
from .core import ForwardTrace, ReverseTrace, backward_pass, new_trace
from .tensor import Tensor, _new, getval

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "jacobian", "hessian",
           "hvp", "tree_flatten", "tree_unflatten"]


# ---- pytrees ------------------------------------------------------------------------------------
def tree_flatten(tree):
    """(leaves, treedef) of nested tuples, lists and dicts (sorted keys); others are leaves."""
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(x, leaves):
    # module-level recursion: a nested closure would make a reference cycle on every call
    if isinstance(x, (tuple, list)):
        return (type(x), None, [_flatten(c, leaves) for c in x])
    if isinstance(x, dict):
        keys = sorted(x)
        return (dict, keys, [_flatten(x[k], leaves) for k in keys])
    leaves.append(x)
    return None


def tree_unflatten(treedef, leaves):
    """Inverse of tree_flatten."""
    return _unflatten(treedef, iter(leaves))


def _unflatten(d, it):
    if d is None:
        return next(it)
    kind, keys, children = d
    vals = [_unflatten(c, it) for c in children]
    if kind is dict:
        return dict(zip(keys, vals))
    if kind is tuple or kind is list:
        return kind(vals)
    return kind(*vals)  # namedtuple


# ---- boxing -------------------------------------------------------------------------------------
def _primal(x, what):
    """x as a value ready to be boxed: a float numpy array, or a Tensor of an outer trace."""
    if type(x) is np.ndarray and x.dtype.kind == "f":
        return x
    if isinstance(x, Tensor):
        if x._trace is not None:
            return x
        x = x._v
    if isinstance(x, (bool, int)):
        raise TypeError(f"{what} is the integer {x!r}; differentiation needs a floating-point "
                        f"input (write {float(x)!r})")
    if isinstance(x, float):
        x = np.asarray(x, dtype=np.float64)
    else:
        x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{what} has dtype {x.dtype}; differentiation needs a floating-point "
                        f"input (convert with .astype(float))")
    return x


def _argnums(argnums, nargs, fname):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{fname}: argnums={argnums} but the function got {nargs} "
                             f"positional argument(s)")
    return nums


def _box_args(args, argnums, fname, make_box):
    """Replace args[i] for i in argnums by trees of boxes; returns (args, per-arg leaves)."""
    args = list(args)
    leaves = []
    for i in argnums:
        flat, tdef = tree_flatten(args[i])
        boxes = [make_box(_primal(x, f"{fname}: argument {i}")) for x in flat]
        leaves.append((boxes, tdef))
        args[i] = tree_unflatten(tdef, boxes)
    return args, leaves


def _unbox(x, trace):
    """The value of x one level down: the value inside a box of `trace`, numpy at the bottom."""
    if isinstance(x, Tensor):
        if x._trace is trace:
            x = x._v
        if isinstance(x, Tensor) and x._trace is None:
            x = x._v
        if isinstance(x, Tensor):
            return x
    return np.asarray(x)


def _zeros(x):
    dtype = np.result_type(getval(x))
    return np.zeros(_shape_of(x), dtype=dtype if np.issubdtype(dtype, np.floating) else float)


def _leaf_grad(got, box):
    """The gradient for an input box, zeros if unreached, in the input's dtype (as JAX)."""
    g = got.get(id(box))
    if g is None:
        return _zeros(box)
    g = _unbox(g, None)
    if isinstance(g, np.ndarray) and g.dtype != box.dtype:
        g = g.astype(box.dtype)
    return g


# ---- reverse mode -------------------------------------------------------------------------------
def vjp(f, *primals):
    """(f(*primals), vjp_fn) where vjp_fn(ct) = ct^T J: one cotangent per primal.

    >>> out, f_vjp = vjp(lambda x: x * x, np.array([1.0, 2.0]))
    >>> f_vjp(np.ones(2))
    (array([2., 4.]),)
    """
    with new_trace(ReverseTrace) as tr:
        args, leaves = _box_args(primals, range(len(primals)), "vjp", lambda v: _new(v, tr))
        out = f(*args)
    tape, tr.tape = tr.tape, None  # vjp_fn holds the tape; the trace must not (no cycle)
    out_leaves, out_def = tree_flatten(out)

    def vjp_fn(ct):
        ct_leaves, ct_def = tree_flatten(ct)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(f"vjp: the cotangent has {len(ct_leaves)} leaves but the output "
                             f"has {len(out_leaves)}")
        seeds = []
        for o, c in zip(out_leaves, ct_leaves):
            if isinstance(o, Tensor) and o._trace is tr:
                if np.shape(c) != o.shape:
                    raise ValueError(f"vjp: cotangent of shape {np.shape(c)} for an output of "
                                     f"shape {o.shape}")
                seeds.append((o, c if isinstance(c, Tensor) else np.asarray(c, dtype=o.dtype)))
        got = {id(leaf): g for leaf, g in backward_pass(seeds, tape)} if seeds else {}
        return tuple(tree_unflatten(tdef, [_leaf_grad(got, b) for b in boxes])
                     for boxes, tdef in leaves)

    return tree_unflatten(out_def, [_unbox(o, tr) for o in out_leaves]), vjp_fn


def value_and_grad(f, argnums=0):
    """f and its gradient: value_and_grad(f)(x) = (f(x), df/dx), for a scalar-valued f.

    The gradient has the structure of argument `argnums` (a tuple of them for a tuple).

    >>> value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 3.0]))
    (array(10.), array([2., 6.]))
    """
    def vg(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad")
        with new_trace(ReverseTrace) as tr:
            args, leaves = _box_args(args, nums, "grad", lambda v: _new(v, tr))
            out = f(*args, **kwargs)
        tape, tr.tape = tr.tape, None
        if isinstance(out, Tensor) and out._trace is tr:
            if out.size != 1:
                raise TypeError(f"grad needs a scalar output; the function returned shape "
                                f"{out.shape} (use jacrev/jacfwd or vjp for non-scalar outputs)")
            seed = np.ones(out.shape, dtype=out.dtype)
            got = {id(leaf): g for leaf, g in backward_pass([(out, seed)], tape)}
        else:
            shape = _shape_of(_unbox(out, tr))  # one row's under vmap
            if math.prod(shape) != 1:
                raise TypeError(f"grad needs a scalar output; the function returned shape "
                                f"{shape}")
            got = {}
        grads = tuple(tree_unflatten(tdef, [_leaf_grad(got, b) for b in boxes])
                      for boxes, tdef in leaves)
        return _unbox(out, tr), grads[0] if isinstance(argnums, int) else grads
    vg.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return vg


def grad(f, argnums=0):
    """The gradient of a scalar-valued f: grad(f)(x) = df/dx, shaped like x.

    >>> grad(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([ 3., 12.])
    """
    vg = value_and_grad(f, argnums)

    def g(*args, **kwargs):
        return vg(*args, **kwargs)[1]
    g.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return g


# ---- forward mode -------------------------------------------------------------------------------
def _forward(f, args, nums, tangent_leaves, batch, fname):
    """Run f once on a forward trace carrying `batch` tangents per input leaf."""
    with new_trace(ForwardTrace, batch) as tr:
        it = iter(tangent_leaves)
        args, _ = _box_args(args, nums, fname, lambda v: _new(v, tr, tangent=next(it)))
        out = f(*args)
    leaves, tdef = tree_flatten(out)
    tans = [o._tangent if isinstance(o, Tensor) and o._trace is tr else None for o in leaves]
    return [_unbox(o, tr) for o in leaves], tans, tdef


def _as_tangent(t, p):
    if isinstance(t, Tensor) and t._trace is not None:
        return reshape(t, (1,) + t.shape)
    t = np.asarray(getval(t))
    shape = _shape_of(p)
    if t.shape != shape:
        raise ValueError(f"jvp: tangent of shape {t.shape} for a primal of shape {shape}")
    dtype = np.result_type(getval(p))
    return t.astype(dtype if np.issubdtype(dtype, np.floating) else np.float64)[None]


def jvp(f, primals, tangents):
    """(f(*primals), J tangents) by forward accumulation: one pass, no graph.

    >>> jvp(lambda x: x ** 2, (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    (array([1., 4.]), array([2., 0.]))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    p_leaves, p_def = tree_flatten(primals)
    t_leaves, t_def = tree_flatten(tangents)
    if len(p_leaves) != len(t_leaves):
        raise ValueError("jvp: primals and tangents must have the same structure")
    tan = [_as_tangent(t, p) for p, t in zip(p_leaves, t_leaves)]
    vals, tans, tdef = _forward(f, primals, range(len(primals)), tan, 1, "jvp")
    t_out = [_zeros(v) if t is None else _unbox(getitem(t, 0), None) for v, t in zip(vals, tans)]
    return tree_unflatten(tdef, vals), tree_unflatten(tdef, t_out)


def _shape_of(x):
    return x.shape if isinstance(x, Tensor) else np.shape(x)  # one row's shape under vmap


def _size(x):
    return int(np.prod(_shape_of(x), dtype=int))


def _jacobian_tree(rows, out_shape, per_arg, argnums):
    """rows (N, *out_shape), row i the derivative along input element i (N = all inputs) ->
    per argument, a tree of out_shape + leaf.shape blocks (a tuple of them for tuple argnums)."""
    k = len(out_shape)
    per, off = [], 0
    for leaves, tdef in per_arg:
        parts = []
        for leaf in leaves:
            shape, n = _shape_of(leaf), _size(leaf)
            block = reshape(getitem(rows, slice(off, off + n)), shape + tuple(out_shape))
            L = len(shape)
            parts.append(_unbox(transpose(block, tuple(range(L, L + k)) + tuple(range(L))), None))
            off += n
        per.append(tree_unflatten(tdef, parts))
    return per[0] if isinstance(argnums, int) else tuple(per)


def jacfwd(f, argnums=0):
    """The Jacobian J_ij = d f_i / d x_j by vector forward mode: all basis tangents in one pass.

    Result shape: output shape + input shape (a tree for pytree inputs and outputs).

    >>> jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    def jac(*args):
        nums = _argnums(argnums, len(args), "jacfwd")
        per_arg = [tree_flatten(args[i]) for i in nums]
        flat = [_primal(x, f"jacfwd: argument {i}") for i, (leaves, _) in zip(nums, per_arg)
                for x in leaves]
        n = sum(_size(x) for x in flat)
        tan, off = [], 0
        for x in flat:  # rows off..off+size of the identity, each in its input's dtype
            s = _size(x)
            basis = np.zeros((n, s), dtype=getval(x).dtype)
            basis[off:off + s] = np.eye(s, dtype=basis.dtype)
            tan.append(basis.reshape((n,) + _shape_of(x)))
            off += s
        vals, tans, tdef = _forward(f, args, nums, tan, n, "jacfwd")
        return tree_unflatten(tdef, [
            _jacobian_tree(np.zeros((n,) + _shape_of(v), dtype=getval(v).dtype) if t is None
                           else t, _shape_of(v), per_arg, argnums)
            for v, t in zip(vals, tans)])
    return jac


def jacrev(f, argnums=0):
    """The Jacobian J_ij = d f_i / d x_j by reverse mode: one VJP per output element.

    Same result as jacfwd; cheaper when there are fewer outputs than inputs.

    >>> jacrev(lambda x: x[0] * x[1])(np.array([2.0, 3.0]))
    array([3., 2.])
    """
    def jac(*args):
        nums = _argnums(argnums, len(args), "jacrev")
        per_arg = [tree_flatten(args[i]) for i in nums]

        def f_nums(*xs):
            full = list(args)
            for i, x in zip(nums, xs):
                full[i] = x
            return f(*full)
        out, f_vjp = vjp(f_nums, *[args[i] for i in nums])
        o_leaves, o_def = tree_flatten(out)
        zeros = [_zeros(o) for o in o_leaves]
        n = sum(_size(x) for leaves, _ in per_arg for x in leaves)
        result = []
        for k in range(len(o_leaves)):
            grads = []  # per output element, its gradient over all inputs, flat (N,)
            for j in range(zeros[k].size):
                e = np.zeros_like(zeros[k])
                e.flat[j] = 1.0
                g = f_vjp(tree_unflatten(o_def, zeros[:k] + [e] + zeros[k + 1:]))
                grads.append(concatenate([reshape(leaf, (-1,)) for a in g
                                          for leaf in tree_flatten(a)[0]]))
            rows = (transpose(stack(grads)) if grads else np.zeros((n, 0), zeros[k].dtype))
            result.append(_jacobian_tree(reshape(rows, (n,) + zeros[k].shape), zeros[k].shape,
                                         per_arg, argnums))
        return tree_unflatten(o_def, result)
    return jac


jacobian = jacrev


def hessian(f, argnums=0):
    """The Hessian H_ij = d^2 f / dx_i dx_j of a scalar f, by forward-over-reverse:
    jacfwd(grad(f)), all n tangents pushed through the gradient's computation in one pass.

    >>> hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    return jacfwd(grad(f, argnums), argnums)


def hvp(f, x, v):
    """H(x) v = d/de grad f(x + e v) at e = 0, the Hessian-vector product of a scalar f, by
    forward-over-reverse: one pass, O(cost of the gradient), H never formed.

    >>> hvp(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    return jvp(grad(f), (x,), (v,))[1]
