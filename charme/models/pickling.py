"""Pickling for frozen dataclasses that hold read-only mappings.

Problems keep their parameters in :class:`types.MappingProxyType`, which
pickle refuses; sweeps send problems to worker processes and Dask workers.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType


def _rebuild(cls, state: dict):
    values = {k: MappingProxyType(v) if k in state["_proxies"] else v
              for k, v in state.items() if k != "_proxies"}  # fmt: skip
    return cls(**values)


def picklable(cls):
    """Class decorator: pickle mapping-proxy fields as plain dicts."""

    def __reduce__(self):
        state, proxies = {}, []
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            v = getattr(self, f.name)
            if isinstance(v, MappingProxyType):
                v = dict(v)
                proxies.append(f.name)
            state[f.name] = v
        state["_proxies"] = proxies
        return (_rebuild, (cls, state))

    cls.__reduce__ = __reduce__
    return cls
