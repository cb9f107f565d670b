"""The ops reach numpy and scipy through autodiff/backend.py alone (DESIGN.md: another array
library with numpy's API can then be put behind them)."""
import ast
from pathlib import Path

import autodiff
from autodiff import backend

OPS = Path(autodiff.__file__).parent / "ops"


def test_ops_import_numpy_and_scipy_only_from_the_backend():
    bad = []
    for path in sorted(OPS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                bad += [(path.name, a.name) for a in node.names
                        if a.name.split(".")[0] in ("numpy", "scipy")]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                if (node.module or "").split(".")[0] in ("numpy", "scipy"):
                    bad.append((path.name, node.module))
    assert not bad, f"ops importing numpy/scipy directly: {bad}"
    assert backend.np.__name__ == "numpy" and backend.sp.__name__ == "scipy.special"
