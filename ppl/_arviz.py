"""The one adapter between ArviZ 0.23 and ArviZ 1.x; nothing else in ppl imports arviz.

pip gives ArviZ 0.23 on Python 3.11 (`InferenceData`; `az.from_dict(posterior=...,
observed_data=..., sample_stats=..., posterior_attrs=...)`) and ArviZ 1.x on Python >= 3.12
(an xarray `DataTree`; `az.from_dict({"posterior": ..., ...}, attrs={"posterior": ...})`).
Both keep custom groups and both save them to netCDF: the ELBO history goes in a group named
`elbo_history` (variable `elbo` over the dimension `iteration`), added after `from_dict`
(`InferenceData.add_groups` / `DataTree[...] = Dataset`) since neither `from_dict` would give
it an `iteration` axis. arviz is imported inside the functions (`import arviz` takes ~1.7 s).

Saving: InferenceData and DataTree write netCDF-4 (groups), which xarray does through
h5netcdf (+ h5py) or netCDF4. ArviZ 0.23 depends on h5netcdf; ArviZ 1.x does not, and scipy's
netCDF-3 writer cannot hold groups, so on ArviZ 1.x `to_netcdf` needs h5netcdf and h5py.
"""
import numpy as np

__all__ = ["to_arviz", "summary", "groups", "to_netcdf", "from_netcdf", "ELBO_GROUP",
           "ONE_CHAIN"]

ELBO_GROUP = "elbo_history"
# what a posterior of one chain holds (a posterior attribute): not a Markov chain
ONE_CHAIN = "independent draws from q, stored as one chain; R-hat does not apply"


def _az():
    import arviz  # noqa: PLC0415 -- lazy: arviz is slow to import
    return arviz


def _is_v1(az):
    return int(az.__version__.split(".")[0]) >= 1


def _attr(v):
    """A value netCDF can store as an attribute (bool -> int, numpy scalar -> Python,
    an integer beyond int64 -> its decimal string)."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, int) and not -2**63 <= v < 2**63:
        return str(v)      # e.g. a SeedSequence's 128-bit entropy: netCDF has no such integer
    return v


def to_arviz(posterior, observed_data=None, sample_stats=None, elbo=None, dims=None,
             coords=None, attrs=None):
    """An ArviZ object (InferenceData on 0.23, DataTree on 1.x) with the given groups.

    posterior: name -> array (chain, draw, *shape); observed_data: name -> array (no sample
    axes); sample_stats: name -> array (chain, draw); elbo: (iteration, elbo) arrays or None;
    dims: name -> list of names of the axes after (chain, draw); coords: dim -> values;
    attrs: posterior attributes (None values are dropped, bools stored as 0/1).
    """
    az = _az()
    dims, coords = dict(dims or {}), dict(coords or {})
    attrs = {k: _attr(v) for k, v in (attrs or {}).items() if v is not None}
    if len({np.shape(a)[0] for a in posterior.values()}) == 1 and \
            next(iter(posterior.values())).shape[0] == 1:
        attrs.setdefault("draws", ONE_CHAIN)
    data = {"posterior": posterior}
    if observed_data:
        data["observed_data"] = observed_data
    if sample_stats:
        data["sample_stats"] = sample_stats
    if _is_v1(az):
        obj = az.from_dict(data, dims=dims, coords=coords, attrs={"posterior": attrs})
    else:
        obj = az.from_dict(**data, dims=dims, coords=coords, posterior_attrs=attrs)
    if elbo is not None:
        import xarray as xr  # noqa: PLC0415 -- an arviz dependency, as lazy as arviz
        iteration, values = (np.asarray(a) for a in elbo)
        ds = xr.Dataset({"elbo": ("iteration", values.astype(float))},
                        coords={"iteration": iteration.astype(np.int64)})
        if _is_v1(az):
            obj[ELBO_GROUP] = ds
        else:
            obj.add_groups({ELBO_GROUP: ds})
    return obj


class _NoShapeCheck:
    """ArviZ 0.23's logger filter: drop "Shape validation failed ... chains=2", which R-hat
    raises for one chain (the draws from q are independent: there is nothing to compare)."""

    def filter(self, record):
        return not str(record.msg).startswith("Shape validation failed")


def _chains(obj):
    post = obj["posterior"] if hasattr(obj, "children") else getattr(obj, "posterior", None)
    return None if post is None else dict(post.sizes).get("chain")


def summary(obj, **kwargs):
    """ArviZ's summary table (a pandas DataFrame) of the posterior group.

    Defaults: kind="stats" (mean, sd and an interval: 0.23 gives hdi_3%/hdi_97%, 1.x
    eti89_lb/eti89_ub) and round_to="none" (raw numbers); any keyword goes to az.summary
    (e.g. kind="all" adds ESS and MCSE). The draws of a VI fit are one chain of independent
    draws from q: R-hat, which compares chains, does not apply, so its column is left out
    and ArviZ 0.23's warning about fewer than 2 chains is not shown.
    """
    import logging  # noqa: PLC0415
    kwargs = {"kind": "stats", "round_to": "none", **kwargs}
    az = _az()
    log = getattr(az, "_log", None) if isinstance(getattr(az, "_log", None), logging.Logger) \
        else None
    quiet = _NoShapeCheck()
    if log is not None:
        log.addFilter(quiet)
    try:
        table = az.summary(obj, **kwargs)
    finally:
        if log is not None:
            log.removeFilter(quiet)
    if _chains(obj) == 1 and "r_hat" in getattr(table, "columns", ()):
        table = table.drop(columns="r_hat")
    return table


def groups(obj):
    """The group names of an InferenceData or DataTree, e.g. ['posterior', ...]."""
    if hasattr(obj, "children"):      # DataTree
        return list(obj.children)
    return list(obj.groups())


def to_netcdf(obj, path):
    """Write `obj` (all its groups) to the netCDF-4 file `path`; returns str(path)."""
    path = str(path)
    if hasattr(obj, "children"):      # DataTree
        import importlib.util  # noqa: PLC0415
        found = importlib.util.find_spec
        if not (found("netCDF4") or (found("h5netcdf") and found("h5py"))):
            raise ImportError("saving an ArviZ DataTree to netCDF needs h5netcdf and h5py (pip "
                              "install h5netcdf h5py) or netCDF4; ArviZ 1.x does not install "
                              "them and scipy's netCDF-3 writer cannot store groups")
    obj.to_netcdf(path)
    return path


def from_netcdf(path):
    """Read a file written by `to_netcdf` (InferenceData on 0.23, DataTree on 1.x)."""
    return _az().from_netcdf(str(path))
