"""Pictures of computational graphs: the Wengert list as a Graphviz drawing.

A reverse-traced `Tensor` remembers the primitive that made it and its parent Tensors, so the
whole computation behind a result can be walked back and drawn, as in Figures 1 and 2 of the
paper: one node per input and per operation, edges in evaluation direction (inputs to output),
each node labelled with its operation, its value (scalars) or shape (arrays), and its gradient
once `backward()` has set one.

- `topological_order(t)`: the Tensors that computed t, parents before children (the Wengert list).
- `to_dot(t)`: the graph as Graphviz DOT text (a string; needs nothing installed).
- `draw_graph(t, "graph.svg")`: renders it to SVG or PNG with Graphviz's `dot` program.

    >>> import autodiff as ad
    >>> w, x, y, z = ad.Node(2), ad.Node(3), ad.Node(4), ad.Node(2)
    >>> a = (x + y) ** z - w
    >>> a.backward()
    >>> [t._node[0].name for t in ad.topological_order(a) if t._node]
    ['add', 'power', 'subtract']
    >>> print(ad.to_dot(a, names={"w": w, "x": x, "y": y, "z": z}))  # doctest: +SKIP
    >>> ad.draw_graph(a, "figure1.svg")                                # doctest: +SKIP
"""
import os
import shutil
import subprocess

import numpy as np

from .tensor import Tensor, getval

__all__ = ["topological_order", "to_dot", "draw_graph"]

_INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                 "`brew install graphviz` (macOS) or `conda install graphviz` (conda); "
                 "or render the text of `to_dot()` elsewhere")
_FORMATS = {".svg": "svg", ".png": "png"}


# ---------------------------------------------------------------------------------------------
def topological_order(t):
    """The Wengert list of `t`: every Tensor that computed t, each once, parents before children.

    The inputs (leaves) come first, in creation order, then every operation in the order it was
    evaluated, `t` last: the paper's v_{1-n}, ..., v_0 (inputs) and v_1, ..., v_l (operations).
    Only Tensors on t's own trace are followed (arguments from elsewhere are constants). The walk
    is iterative, so graphs of any depth work.

    >>> import autodiff as ad
    >>> x = ad.Node(3.0)
    >>> y = x * x + x
    >>> [t._node[0].name if t._node else "input" for t in ad.topological_order(y)]
    ['input', 'multiply', 'add']
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"topological_order needs a Tensor, not {type(t).__name__}")
    seen = {id(t): t}
    stack = [t]
    while stack:
        rec = stack.pop()._node
        if rec is None:
            continue
        for p in rec[2]:
            if p is not None and id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    # creation order (`_id`) is evaluation order for operations; a leaf's `_id` may be renewed by
    # toggling requires_grad, but leaves have no parents, so listing them first is always valid
    return sorted(seen.values(), key=lambda n: (n._node is not None, n._id))


# ---------------------------------------------------------------------------------------------
def _quote(s):
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's `\\n`."""
    s = str(s).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n") + '"'


def _scalar(a):
    """A 0-d array as short text: `3`, `-1`, `95.3496`, `True`."""
    if np.issubdtype(a.dtype, np.floating):
        return f"{float(a):.6g}"
    if np.issubdtype(a.dtype, np.complexfloating):
        return f"{complex(a):.6g}"
    return str(a.item())


def _describe(v):
    """(is_scalar, text): the value of a 0-d array, else its shape (and dtype unless float64)."""
    v = getval(v)
    try:
        a = np.asarray(v)
    except Exception:  # an argument numpy cannot hold: show what it is
        return False, type(v).__name__
    if a.dtype == object:
        r = repr(v)
        return False, r if len(r) <= 30 else r[:27] + "..."
    if a.ndim == 0:
        return True, _scalar(a)
    text = str(a.shape)
    if a.dtype != np.float64:
        text += f" {a.dtype}"
    return False, text


def _label(t, name):
    rec = t._node
    lines = [rec[0].name if rec is not None else "input"]
    scalar, text = _describe(t._v)
    if name is not None:
        lines.append(f"{name} = {text}" if scalar else f"{name}: {text}")
    else:
        lines.append(text)
    if t.grad is not None:
        scalar, text = _describe(t.grad)
        lines.append(f"grad = {text}" if scalar else f"grad: {text}")
    return "\n".join(lines)


def _names_by_id(names):
    if names is None:
        return {}
    if not isinstance(names, dict):
        raise TypeError(f"names must be a dict {{display name: Tensor}}, "
                        f"not {type(names).__name__}")
    out = {}
    for k, v in names.items():
        if not isinstance(k, str) or not isinstance(v, Tensor):
            raise TypeError(f"names must map display names (str) to Tensors; got "
                            f"{type(k).__name__} -> {type(v).__name__}")
        out[id(v)] = k
    return out


def to_dot(t, show_constants=True, names=None, rankdir="TB"):
    r"""The graph that computed `t` as Graphviz DOT text (a string).

    One node per Tensor of `topological_order(t)`: inputs as ellipses labelled "input", operations
    as boxes labelled with the primitive's name, the output with a double border. Each shows its
    value if it is a scalar (`x = 3`) or its shape if it is an array (`(2, 3)`), and its gradient
    when one is set (`grad = 14`). Edges run from arguments to the operation that used them (one
    per argument, so `x * x` has two). With `show_constants`, arguments that are not traced
    Tensors (numbers, arrays, constant Tensors) appear as small grey nodes with their value or
    shape. `names` maps display names to Tensors ({"x": x}); `rankdir` is Graphviz's layout
    direction ("TB" top to bottom, "LR", "BT", "RL").

    >>> import autodiff as ad
    >>> x = ad.Node(3.0)
    >>> dot = ad.to_dot(2 * x, names={"x": x})
    >>> dot.splitlines()[0]
    'digraph autodiff {'
    >>> 'label="input\\nx = 3"' in dot and 'label="multiply\\n6"' in dot and 'label="2"' in dot
    True
    """
    order = topological_order(t)
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be one of TB, LR, BT, RL; got {rankdir!r}")
    named = _names_by_id(names)
    ids = {id(n): f"t{n._id}" for n in order}
    if len(set(ids.values())) != len(ids):  # only if `_id`s were ever shared: fall back to id()
        ids = {id(n): f"t{id(n)}" for n in order}
    lines = ["digraph autodiff {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];', '  edge [color="#444444"];']
    for n in order:
        nid = ids[id(n)]
        label = _quote(_label(n, named.get(id(n))))
        if n._node is None:
            style = 'shape=ellipse, style=filled, fillcolor="#dbe9f6"'
        else:
            style = 'shape=box, style="rounded,filled", fillcolor="#fdf1d8"'
        if n is t:
            style += ", peripheries=2"
        lines.append(f"  {nid} [label={label}, {style}];")
        if n._node is None:
            continue
        _, vals, parents, _ = n._node
        for i, p in enumerate(parents):
            if p is not None:
                lines.append(f"  {ids[id(p)]} -> {nid};")
            elif show_constants:
                cid = f"{nid}_c{i}"
                text = _quote(_describe(vals[i])[1])
                lines.append(f'  {cid} [label={text}, shape=box, style=filled, '
                             f'fillcolor="#eeeeee", color="#aaaaaa", fontcolor="#555555", '
                             f'fontsize=9, width=0.3, height=0.2, margin="0.04,0.02"];')
                lines.append(f'  {cid} -> {nid} [color="#aaaaaa"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
def draw_graph(t, path, **kw):
    """Render the graph that computed `t` to `path` (SVG or PNG, by its suffix) with Graphviz.

    Keyword arguments go to `to_dot` (`show_constants`, `names`, `rankdir`). Runs Graphviz's
    `dot` program, which must be on PATH; raises RuntimeError if it is missing or fails, and
    ValueError for a suffix other than .svg or .png. Returns `path`.

    >>> import autodiff as ad
    >>> w, x, y, z = ad.Node(2), ad.Node(3), ad.Node(4), ad.Node(2)
    >>> a = (x + y) ** z - w
    >>> a.backward()
    >>> ad.draw_graph(a, "figure1.svg", names={"w": w, "x": x, "y": y, "z": z})  # doctest: +SKIP
    'figure1.svg'
    """
    suffix = os.path.splitext(os.fspath(path))[1]
    fmt = _FORMATS.get(suffix.lower())
    if fmt is None:
        what = suffix or "a file without a suffix"
        raise ValueError(f"draw_graph writes .svg or .png files; cannot write {what!r} "
                         f"({os.fspath(path)!r}); use to_dot() for DOT text")
    text = to_dot(t, **kw)
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(f"Graphviz's `dot` program was not found on PATH; {_INSTALL_HINT}")
    try:
        proc = subprocess.run([dot, f"-T{fmt}", "-o", os.fspath(path)], input=text.encode("utf-8"),
                              capture_output=True)
    except OSError as e:
        raise RuntimeError(f"could not run Graphviz's `dot` ({dot}): {e}; {_INSTALL_HINT}") from e
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz's `dot` failed (exit status {proc.returncode}) writing "
                           f"{os.fspath(path)!r}: {err or '(no message)'}")
    return path
