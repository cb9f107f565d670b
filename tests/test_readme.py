"""The README's tour runs as written, and its numbers are the engine's."""
import math
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs_and_gives_the_papers_numbers():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python block"
    env = {}
    exec(compile(blocks[0], "README.md", "exec"), env)  # noqa: S102 - our own README
    assert float(env["x"].grad) == 14.0
    assert float(env["z"].grad) == 49 * math.log(7)
    assert float(env["w"].grad) == -1.0
    A = env["A"]
    s = 1 / (1 + np.exp(-A @ np.zeros(100)))
    np.testing.assert_allclose(env["ad"].grad(env["f"])(np.zeros(100)), A.T @ s)
