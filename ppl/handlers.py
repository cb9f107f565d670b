"""Effect handlers: how a model function's `sample` statements get their values.

A model is a plain function; each `ppl.sample`/`ppl.deterministic`/`ppl.factor` call builds a
small message (a dict) and passes it through the stack of active handlers, innermost first:
plates broadcast the distribution, `substitute` fills in given values, `seed` draws the rest,
`trace` records every site. Each handler is a context manager (or wraps a function).

    >>> import numpy as np
    >>> from ppl import dist, sample
    >>> def f():
    ...     return sample("x", dist.Normal(0.0, 1.0))
    >>> with trace() as tr, substitute({"x": 0.5}):
    ...     f()
    0.5
    >>> list(tr.sites)
    ['x']
"""
import numpy as np

__all__ = ["Messenger", "trace", "substitute", "seed", "subsample", "rows", "apply_stack"]

_STACK = []


class Messenger:
    """Base handler: `process(msg)` runs on the way in (innermost handler first),
    `postprocess(msg)` on the way out (outermost first)."""

    def __init__(self, fn=None):
        self.fn = fn

    def __enter__(self):
        _STACK.append(self)
        return self

    def __exit__(self, *exc):
        # a handler leaves the stack even if the model raised, so one error cannot poison
        # the next run
        if self in _STACK:
            del _STACK[_STACK.index(self):]

    def __call__(self, *args, **kwargs):
        with self:
            return self.fn(*args, **kwargs)

    def process(self, msg):
        pass

    def postprocess(self, msg):
        pass


def apply_stack(msg):
    """Send one site's message through the handlers; return its value."""
    for h in reversed(_STACK):
        h.process(msg)
        if msg.get("stop"):
            break
    if msg["value"] is None:
        if not _STACK:
            raise RuntimeError(
                f"ppl.sample({msg['name']!r}, ...) was called outside a model run: decorate the "
                "function with @ppl.model and use the Model it returns (e.g. "
                "model(data).prior_sample(seed=0))")
        raise RuntimeError(f"sample site {msg['name']!r} got no value from the handlers "
                           "(wrap the run in ppl.handlers.seed to draw one)")
    for h in _STACK:
        h.postprocess(msg)
    return msg["value"]


class trace(Messenger):
    """Record every site of a run, in order, in `self.sites` (name -> message)."""

    def __enter__(self):
        self.sites = {}
        return super().__enter__()

    def postprocess(self, msg):
        name = msg["name"]
        if name in self.sites:
            raise ValueError(f"duplicate site name {name!r}: each ppl.sample, ppl.deterministic "
                             "and ppl.factor in a model needs its own name")
        self.sites[name] = msg


class substitute(Messenger):
    """Give latent sites the values in `data` (name -> value) instead of drawing them."""

    def __init__(self, data, fn=None):
        super().__init__(fn)
        self.data = data

    def process(self, msg):
        if msg["type"] == "sample" and not msg["is_observed"] and msg["name"] in self.data:
            msg["value"] = self.data[msg["name"]]


class seed(Messenger):
    """Draw the value of every latent site that has none, with a numpy Generator."""

    def __init__(self, rng, fn=None):
        super().__init__(fn)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    def process(self, msg):
        if msg["type"] == "sample" and msg["value"] is None:
            msg["value"] = msg["fn"].sample(self.rng)



class subsample(Messenger):
    """Let plates with `subsample_size` draw random indices with `rng` (and scale their sites
    by size / subsample_size). Outside this handler such plates use all the data.

    `layouts` (plate name -> chunk boundaries of the data the plate runs over, as a Model
    finds them for data on disk) makes such a plate draw whole blocks then rows within them
    (`ppl.data.draw_minibatch`, still unbiased)."""

    def __init__(self, rng, fn=None, layouts=None, sizes=None):
        super().__init__(fn)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.layouts, self.sizes = layouts or {}, sizes or {}

    def size_of(self, plate):
        """The subsample size of `plate`: `sizes` (plate name -> size, as a Model's
        `subsample(...)` sets it) outranks the plate's own."""
        return self.sizes.get(plate.name, plate.subsample_size)

    def draw(self, plate):
        """(indices, scale) of one minibatch of `plate`."""
        from .data import draw_minibatch
        return draw_minibatch(self.rng, plate.size, self.size_of(plate),
                              self.layouts.get(plate.name), plate.blocks)


class rows(Messenger):
    """Restrict plates to some of their rows, with scale 1: `ranges` maps a plate's name (or,
    to reach plates not yet named, its size) to (start, stop) or an array of row indices. One
    piece of a full-data pass over chunks; outranks `subsample`."""

    def __init__(self, ranges, fn=None):
        super().__init__(fn)
        self.ranges = ranges

    def get(self, plate):
        return self.ranges.get(plate.name, self.ranges.get(plate.size))


def active(kind):
    """The innermost active handler of the given class, or None."""
    for h in reversed(_STACK):
        if isinstance(h, kind):
            return h
    return None
