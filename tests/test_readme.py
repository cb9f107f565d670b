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


def test_readme_model_block_matches_a_hand_written_density():
    from scipy import stats
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    model_block = next(b for b in blocks if "@ppl.model" in b)
    env = {}
    exec(compile(model_block, "README.md", "exec"), env)  # noqa: S102
    m, y, sigma = env["m"], env["y"], env["sigma"]
    want = (stats.norm(0, 5).logpdf(4.0) + stats.halfcauchy(scale=5).logpdf(3.0)
            + stats.norm.logpdf(np.zeros(8)).sum() + stats.norm(4.0, sigma).logpdf(y).sum())
    got = m.log_density({"mu": 4.0, "tau": 3.0, "theta_tilde": np.zeros(8)})
    np.testing.assert_allclose(float(got), want, rtol=1e-12)
    np.testing.assert_array_equal(m.constrain(np.zeros(10))["theta"], np.zeros(8))


def test_readme_advi_block_runs():
    """The ADVI block runs after the model block; its mean of mu is near the NUTS reference
    (posteriordb: 4.39, sd 3.32; within one posterior sd)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    model_block = next(b for b in blocks if "@ppl.model" in b)
    advi_block = next(b for b in blocks if "ppl.advi(" in b)
    env = {}
    exec(compile(model_block, "README.md", "exec"), env)  # noqa: S102
    exec(compile(advi_block, "README.md", "exec"), env)  # noqa: S102
    fit = env["fit"]
    assert fit.converged
    assert abs(float(fit.mean["mu"]) - 4.39) < 3.32
    assert set(env["draws"]) >= {"mu", "tau", "theta_tilde", "theta"}
    assert env["lap"].family == "fullrank" and env["mode"].success
