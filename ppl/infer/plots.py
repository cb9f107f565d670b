"""Pictures of a fit (matplotlib, imported only here and only when asked): the ELBO history
and histograms of the draws. `VIResult.plot_elbo` and `plot_posterior` call these."""
import numpy as np

__all__ = ["plot_elbo", "plot_posterior", "elements"]

_MAX_PANELS = 16         # plot_posterior draws at most this many scalar elements


def elements(name, a):
    """(label, column) for each scalar element of draws `a` of shape (draws, *shape)."""
    flat = a.reshape(a.shape[0], -1)
    if a.ndim == 1:
        return [(name, flat[:, 0])]
    return [(f"{name}[{','.join(map(str, idx))}]", flat[:, i])
            for i, idx in enumerate(np.ndindex(*a.shape[1:]))]


def _needs_matplotlib(what):
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 -- lazy: plots are optional
    except ImportError as e:
        raise ImportError(f"{what} needs matplotlib: pip install matplotlib "
                          "(or pip install 'wengert[examples]')") from e
    return Figure


def plot_elbo(fit, path):
    """Write a PNG of the ELBO against the iteration (a symlog axis when it spans orders
    of magnitude). Needs matplotlib; returns str(path)."""
    history = getattr(fit.diagnostics, "elbo_history", None)
    if history is None or len(history.iteration) == 0:
        raise ValueError(f"plot_elbo: this {fit.method} result has no ELBO history")
    Figure = _needs_matplotlib("plot_elbo")
    it, elbo = history
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot(it, elbo, marker=".")
    finite = elbo[np.isfinite(elbo)]
    if finite.size and np.ptp(finite) > 100 * max(1.0, abs(finite[-1])):
        ax.set_yscale("symlog", linthresh=max(1.0, abs(finite[-1])))
    ax.set_xlabel("iteration")
    ax.set_ylabel("ELBO")
    ax.set_title(f"{fit.model.name}: {fit.method} {fit.family}")
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    return str(path)


def plot_posterior(fit, path, draws=1000, seed=None):
    """Write a PNG grid of histograms of the draws, one panel per scalar element (the
    first 16). Needs matplotlib; returns str(path)."""
    Figure = _needs_matplotlib("plot_posterior")
    panels = [p for n, a in fit.sample(draws, seed).items() for p in elements(n, a)]
    if not panels:
        raise ValueError(f"plot_posterior: model {fit.model.name!r} has no sites to plot")
    shown = panels[:_MAX_PANELS]
    cols = min(4, len(shown))
    rows = -(-len(shown) // cols)
    fig = Figure(figsize=(3 * cols, 2.4 * rows))
    for i, (label, x) in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.hist(x, bins=40, density=True, color="C0", alpha=0.7)
        ax.axvline(float(np.mean(x)), color="C3")
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    more = f" (first {len(shown)} of {len(panels)})" if len(panels) > len(shown) else ""
    fig.suptitle(f"{fit.model.name}: {fit.method} {fit.family}{more}", fontsize=10)
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    return str(path)
