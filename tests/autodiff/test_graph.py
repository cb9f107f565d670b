"""Graph pictures: topological_order (the Wengert list), to_dot and draw_graph.

No test needs Graphviz: `dot` is replaced by a fake executable put first on PATH, which records
its command line and stdin and writes the output file, so the command and the file are checked.
"""
import json
import os
import re
import shutil
import stat
import sys

import numpy as np
import pytest

import autodiff as ad
from autodiff import Node, Tensor, draw_graph, to_dot, topological_order


# ---------------------------------------------------------------------------------------------
# a small DOT reader: enough structure to check what to_dot writes
_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(->)|'
                    r'([A-Za-z_][A-Za-z0-9_]*|-?[0-9.]+)|([{}\[\];,=]))',
                    re.S)


def _tokens(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m and m.end() > pos, f"cannot tokenize DOT at {text[pos:pos + 40]!r}"
        q, arrow, ident, punct = m.groups()
        if q is not None:
            out.append(("str", re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n" else e.group(1),
                                      q[1:-1])))
        elif arrow:
            out.append(("op", "->"))
        elif ident is not None:
            out.append(("id", ident))
        else:
            out.append(("op", punct))
        pos = m.end()
    return out


def _attrs(toks, i):
    """Parse `[k=v, ...]` starting at toks[i] == '['; return (dict, index after ']')."""
    assert toks[i] == ("op", "[")
    i += 1
    attrs = {}
    while toks[i] != ("op", "]"):
        k, eq, v = toks[i], toks[i + 1], toks[i + 2]
        assert k[0] == "id" and eq == ("op", "=") and v[0] in ("id", "str"), toks[i:i + 3]
        attrs[k[1]] = v[1]
        i += 3
        if toks[i] == ("op", ","):
            i += 1
    return attrs, i + 1


def parse_dot(text):
    """Check the structure of a `digraph` and return ({node: attrs}, [(tail, head), ...])."""
    toks = _tokens(text)
    assert toks[0] == ("id", "digraph") and toks[1][0] == "id" and toks[2] == ("op", "{")
    assert toks[-1] == ("op", "}")
    depth = 0
    for kind, v in toks:  # braces balance outside quoted strings
        if kind == "op" and v in "{}":
            depth += 1 if v == "{" else -1
            assert depth >= 0
    assert depth == 0
    nodes, edges = {}, []
    i, end = 3, len(toks) - 1
    while i < end:
        a = toks[i]
        assert a[0] == "id", toks[i:i + 4]
        if toks[i + 1] == ("op", "="):  # graph attribute
            i += 3
        elif toks[i + 1] == ("op", "->"):
            b = toks[i + 2]
            assert b[0] == "id"
            edges.append((a[1], b[1]))
            i += 3
            if toks[i] == ("op", "["):
                _, i = _attrs(toks, i)
        else:
            attrs, i = _attrs(toks, i + 1)
            if a[1] not in ("node", "edge", "graph"):
                assert a[1] not in nodes, f"node {a[1]} declared twice"
                nodes[a[1]] = attrs
        assert toks[i] == ("op", ";"), f"statement not ended by ';': {toks[i - 3:i + 1]}"
        i += 1
    for tail, head in edges:
        assert tail in nodes and head in nodes, (tail, head)
    return nodes, edges


def paper_example():
    w, x, y, z = Node(2), Node(3), Node(4), Node(2)
    a = (x + y) ** z - w
    return (w, x, y, z), a


def by_label_start(nodes, first_line):
    return [n for n, at in nodes.items() if at.get("label", "").split("\n")[0] == first_line]


# ---------------------------------------------------------------------------------------------
# topological_order
def _check_topological(order, out):
    pos = {id(t): k for k, t in enumerate(order)}
    assert len(pos) == len(order), "a Tensor is listed twice"
    assert order[-1] is out
    reachable, stack = {id(out)}, [out]
    while stack:
        n = stack.pop()
        for p in (n._node[2] if n._node else []):
            if p is not None:
                assert pos[id(p)] < pos[id(n)], "a parent comes after its child"
                if id(p) not in reachable:
                    reachable.add(id(p))
                    stack.append(p)
    assert reachable == set(pos)


def test_topological_order_paper_example_is_the_wengert_list():
    (w, x, y, z), a = paper_example()
    order = topological_order(a)
    assert [t._node[0].name if t._node else "input" for t in order] == \
        ["input"] * 4 + ["add", "power", "subtract"]
    assert all(o is t for o, t in zip(order[:4], [w, x, y, z]))
    _check_topological(order, a)


def test_topological_order_diamond_and_repeated_parent_each_once():
    x = Node(1.5)
    a = x * x          # the same parent twice
    b = x + 1.0
    c = a * b
    d = c + a - ad.sin(b)
    order = topological_order(d)
    assert len(order) == 7  # x, a, b, c, c + a, sin(b), d
    _check_topological(order, d)


def test_topological_order_of_leaves_and_constants():
    x = Node(2.0)
    order = topological_order(x)
    assert len(order) == 1 and order[0] is x
    c = Tensor([1.0, 2.0]) * 3  # no trace at all
    order = topological_order(c)
    assert len(order) == 1 and order[0] is c
    with pytest.raises(TypeError, match="Tensor"):
        topological_order(3.0)


def test_topological_order_when_a_leaf_got_a_newer_id_than_its_child():
    # toggling requires_grad gives the leaf a fresh creation number, larger than y's
    t = Tensor(1.0, requires_grad=True)
    y = t * 2.0
    t.requires_grad = False
    t.requires_grad = True
    assert t._id > y._id
    z = y + t
    order = topological_order(z)
    assert len(order) == 3
    _check_topological(order, z)


def test_topological_order_depth_100000_is_iterative():
    x = Node(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    order = topological_order(y)  # far past the recursion limit: the walk must be iterative
    assert len(order) == 100_001
    assert order[0] is x and order[-1] is y
    assert all(order[k] is order[k + 1]._node[2][0] for k in range(100_000))
    text = to_dot(y, show_constants=False)  # to_dot walks the same order: no recursion either
    lines = text.splitlines()
    assert lines[0] == "digraph autodiff {" and lines[-1] == "}"
    assert sum(bool(re.fullmatch(r"  t\d+ \[label=.*\];", ln)) for ln in lines) == 100_001
    assert sum(bool(re.fullmatch(r"  t\d+ -> t\d+;", ln)) for ln in lines) == 100_000


def test_topological_order_inside_a_nested_trace():
    seen = {}

    def f(x):
        y = x * x + ad.sin(x)
        seen["order"] = topological_order(y)
        seen["dot"] = to_dot(y)
        return y

    g = ad.grad(f)(0.7)
    assert np.isclose(float(np.asarray(g)), 2 * 0.7 + np.cos(0.7))
    assert [t._node[0].name if t._node else "input" for t in seen["order"]] == \
        ["input", "multiply", "sin", "add"]
    nodes, edges = parse_dot(seen["dot"])
    assert len(nodes) == 4 and len(edges) == 5  # x * x: two edges from x
    assert any(at["label"] == "input\n0.7" for at in nodes.values())


# ---------------------------------------------------------------------------------------------
# to_dot
def test_to_dot_paper_example_figure():
    (w, x, y, z), a = paper_example()
    a.backward()
    text = to_dot(a, names={"w": w, "x": x, "y": y, "z": z})
    assert isinstance(text, str) and text.startswith("digraph ")
    nodes, edges = parse_dot(text)
    labels = {at["label"] for at in nodes.values()}
    assert labels == {
        "input\nw = 2\ngrad = -1",
        "input\nx = 3\ngrad = 14",
        "input\ny = 4\ngrad = 14",
        f"input\nz = 2\ngrad = {49 * np.log(7):.6g}",
        "add\n7", "power\n49", "subtract\n47",
    }
    assert len(by_label_start(nodes, "input")) == 4
    for op in ("add", "power", "subtract"):
        assert len(by_label_start(nodes, op)) == 1
    # edges in evaluation direction, one per (parent -> child) pair
    name = {at["label"].split("\n")[1].split(" = ")[0] if at["label"].startswith("input")
            else at["label"].split("\n")[0]: n for n, at in nodes.items()}
    assert sorted(edges) == sorted([
        (name["x"], name["add"]), (name["y"], name["add"]),
        (name["add"], name["power"]), (name["z"], name["power"]),
        (name["power"], name["subtract"]), (name["w"], name["subtract"])])
    # the output is marked
    assert nodes[name["subtract"]].get("peripheries") == "2"
    assert sum("peripheries" in at for at in nodes.values()) == 1


def test_to_dot_without_names_and_before_backward():
    _, a = paper_example()
    nodes, _ = parse_dot(to_dot(a))
    labels = sorted(at["label"] for at in nodes.values())
    assert labels == sorted(["input\n2", "input\n3", "input\n4", "input\n2",
                             "add\n7", "power\n49", "subtract\n47"])
    assert not any("grad" in lab for lab in labels)


def test_to_dot_edge_count_equals_parent_child_pairs():
    x, y = Node(1.2), Node(-0.4)
    u = x * x            # x twice: two edges
    v = u * y + 3.0 * x  # constants 3.0
    out = ad.exp(v) / (v + 2.0)
    order = topological_order(out)
    pairs = sum(p is not None for t in order if t._node for p in t._node[2])
    consts = sum(p is None for t in order if t._node for p in t._node[2])
    assert consts == 2
    nodes, edges = parse_dot(to_dot(out, show_constants=False))
    assert len(nodes) == len(order)
    assert len(edges) == pairs
    nodes, edges = parse_dot(to_dot(out))
    assert len(nodes) == len(order) + consts
    assert len(edges) == pairs + consts
    # each constant is a small grey node with its value, feeding exactly one operation
    grey = {n for n, at in nodes.items() if at.get("fillcolor") == "#eeeeee"}
    assert sorted(nodes[n]["label"] for n in grey) == ["2", "3"]
    assert sorted(t for t, _ in edges if t in grey) == sorted(grey)


def test_to_dot_arrays_show_shapes_and_gradients():
    X = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    s = ad.sum(X * np.arange(3.0) + b)
    before = parse_dot(to_dot(s, names={"X": X}))[0]
    assert {at["label"] for at in before.values()} >= {"input\nX: (2, 3)", "input\n(3,) float32",
                                                       "multiply\n(2, 3)", "add\n(2, 3)",
                                                       "(3,)"}
    s.backward()
    labels = {at["label"] for at in parse_dot(to_dot(s, names={"X": X}))[0].values()}
    assert "input\nX: (2, 3)\ngrad: (2, 3)" in labels
    assert "input\n(3,) float32\ngrad: (3,) float32" in labels
    assert "sum\n6" in labels  # two rows of 0 + 1 + 2, plus b = 0


def test_to_dot_constant_tensors_and_named_intermediates():
    x = Node(3.0)
    c = Tensor([1.0, 2.0, 3.0])  # a constant Tensor argument
    a = ad.sum(x * c)
    nodes, edges = parse_dot(to_dot(a, names={"x": x, "a": a}))
    labels = {at["label"] for at in nodes.values()}
    assert {"input\nx = 3", "multiply\n(3,)", "(3,)", "sum\na = 18"} == labels
    assert len(edges) == 3


def test_to_dot_escapes_quotes_and_backslashes():
    x = Node(1.0)
    odd = 'say "hi" \\ {braces} [b] ; -> x'
    text = to_dot(x * 2.0, names={odd: x})
    nodes, _ = parse_dot(text)  # would fail on an unescaped quote or a stray brace
    assert any(at["label"] == f"input\n{odd} = 1" for at in nodes.values())
    assert '\\"hi\\"' in text and "\\\\" in text


def test_to_dot_node_names_are_id_based_and_unique():
    _, a = paper_example()
    nodes, _ = parse_dot(to_dot(a))
    assert {f"t{t._id}" for t in topological_order(a)} == set(nodes)


def test_to_dot_rejects_bad_arguments():
    x = Node(1.0)
    with pytest.raises(TypeError, match="names"):
        to_dot(x, names={x: "x"})
    with pytest.raises(TypeError, match="names"):
        to_dot(x, names=["x"])
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(x, rankdir="sideways")
    assert "rankdir=LR;" in to_dot(x, rankdir="LR")


# ---------------------------------------------------------------------------------------------
# draw_graph
def _fake_dot(bindir, log, exit_code=0, stderr=""):
    """A `dot` that logs argv and stdin to `log`, writes `FAKE <format>` + stdin to -o's path."""
    bindir.mkdir(exist_ok=True)
    script = bindir / "dot"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "data = sys.stdin.buffer.read().decode('utf-8')\n"
        f"json.dump({{'argv': sys.argv, 'stdin': data}}, open({str(log)!r}, 'w'))\n"
        f"if {exit_code}:\n"
        f"    sys.stderr.write({stderr!r}); sys.exit({exit_code})\n"
        "args = sys.argv[1:]\n"
        "fmt = [a[2:] for a in args if a.startswith('-T')][0]\n"
        "open(args[args.index('-o') + 1], 'w').write('FAKE ' + fmt + '\\n' + data)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.mark.parametrize("suffix, fmt", [(".svg", "svg"), (".png", "png"), (".SVG", "svg")])
def test_draw_graph_runs_dot_with_the_exact_command(tmp_path, monkeypatch, suffix, fmt):
    bindir, log = tmp_path / "bin", tmp_path / "log.json"
    script = _fake_dot(bindir, log)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    (w, x, y, z), a = paper_example()
    a.backward()
    out = tmp_path / f"figure{suffix}"
    names = {"w": w, "x": x, "y": y, "z": z}
    assert draw_graph(a, out, names=names) == out
    rec = json.loads(log.read_text())
    assert rec["argv"][1:] == [f"-T{fmt}", "-o", str(out)]
    assert os.path.samefile(rec["argv"][0], script)
    expected = to_dot(a, names=names)
    assert rec["stdin"] == expected
    assert out.read_text() == f"FAKE {fmt}\n" + expected


def test_draw_graph_passes_options_and_accepts_str_paths(tmp_path, monkeypatch):
    bindir, log = tmp_path / "bin", tmp_path / "log.json"
    _fake_dot(bindir, log)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    x = Node(2.0)
    y = 3.0 * x
    out = str(tmp_path / "g.svg")
    assert draw_graph(y, out, show_constants=False, rankdir="LR") == out
    rec = json.loads(log.read_text())
    assert rec["stdin"] == to_dot(y, show_constants=False, rankdir="LR")
    nodes, edges = parse_dot(rec["stdin"])
    assert len(nodes) == 2 and len(edges) == 1


def test_draw_graph_reports_dot_failure(tmp_path, monkeypatch):
    bindir, log = tmp_path / "bin", tmp_path / "log.json"
    _fake_dot(bindir, log, exit_code=3, stderr="Error: <stdin>: syntax error in line 1")
    monkeypatch.setenv("PATH", str(bindir))
    out = tmp_path / "g.png"
    with pytest.raises(RuntimeError, match="syntax error in line 1") as e:
        draw_graph(Node(1.0) * 2.0, out)
    assert "3" in str(e.value)
    assert not out.exists()


def test_draw_graph_without_dot_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    with pytest.raises(RuntimeError) as e:
        draw_graph(Node(1.0) + 1.0, tmp_path / "g.svg")
    msg = str(e.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert hint in msg
    assert not (tmp_path / "g.svg").exists()


def test_draw_graph_without_dot_via_which(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        draw_graph(Node(1.0) + 1.0, tmp_path / "g.png")


@pytest.mark.parametrize("name", ["g.pdf", "g.dot", "g", "g.svg.gz"])
def test_draw_graph_rejects_other_suffixes(tmp_path, monkeypatch, name):
    bindir, log = tmp_path / "bin", tmp_path / "log.json"
    _fake_dot(bindir, log)
    monkeypatch.setenv("PATH", str(bindir))
    suffix = os.path.splitext(name)[1]
    with pytest.raises(ValueError, match=re.escape(repr(suffix)) if suffix else "suffix"):
        draw_graph(Node(1.0) + 1.0, tmp_path / name)
    assert not log.exists()  # dot was never run


def test_draw_graph_with_whatever_dot_this_machine_has(tmp_path):
    # not skipped: with Graphviz installed the real file is checked, without it the error is
    out = tmp_path / "g.svg"
    (w, x, y, z), a = paper_example()
    a.backward()
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="install Graphviz"):
            draw_graph(a, out)
    else:
        draw_graph(a, out, names={"w": w, "x": x, "y": y, "z": z})
        svg = out.read_text()
        assert "<svg" in svg and "subtract" in svg and "grad = 14" in svg
