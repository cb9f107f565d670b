"""Imports run one way: wengert (the command) -> models (the zoo) -> ppl -> autodiff.

Read from the source (every import statement, lazy ones inside functions included) and
checked by importing: loading all of ppl pulls in neither the zoo nor the command.
"""
import ast
import os
import pkgutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# a layer may import only the layers below it
BELOW = {"autodiff": set(), "ppl": {"autodiff"}, "models": {"ppl", "autodiff"},
         "wengert": {"models", "ppl", "autodiff"}}


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_a_layer_imports_only_the_layers_below_it(layer):
    wrong = []
    for root, _, files in os.walk(os.path.join(REPO, layer)):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                for name in _imports(path):
                    if name in BELOW and name != layer and name not in BELOW[layer]:
                        wrong.append(f"{os.path.relpath(path, REPO)} imports {name}")
    assert not wrong, wrong


def test_importing_all_of_ppl_loads_neither_the_zoo_nor_the_command():
    import ppl
    names = [m.name for m in pkgutil.walk_packages(ppl.__path__, "ppl.")]
    assert len(names) > 10
    code = (f"import importlib, sys\nfor n in {names!r}:\n    importlib.import_module(n)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('models', 'wengert')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
