"""Action decoders: an action of eq. (13) to a valid slot decision (docs/model.md, section 10).

- :mod:`tadp.decoders.action`: the action's fields (:data:`ACTION_FIELDS`) and the decoded batch;
- :mod:`tadp.decoders.dcpu`: the paper's DCPU (Algorithm 1, Steps 1-4), the default;
- :mod:`tadp.decoders.fit`: this project's ``fit`` decoder, which sizes the shares to the deadlines.

:data:`DECODERS` names them; every report names the decoder a policy ran with, so the two are
never confused. :func:`decode_actions` decodes a batch with either, :func:`decode_slot` one slot
of an instance's trace.
"""

from __future__ import annotations

import numpy as np

from tadp.decision import Decision
from tadp.decoders.action import ACTION_FIELDS, FIELD_INDEX, FIELDS_PER_TASK, DecodedBatch
from tadp.decoders.dcpu import decode, decode_batch
from tadp.decoders.fit import decode_fit, decode_fit_batch
from tadp.instance import Cache, Instance

#: Decoder names: the paper's DCPU (:mod:`tadp.decoders.dcpu`) and deadline-sized shares (:mod:`tadp.decoders.fit`).
DECODERS = ("dcpu", "fit")


def decode_actions(inst: Instance, decoder: str, actions: np.ndarray, cache_gateway: np.ndarray,
                   cache_edge: np.ndarray, data: np.ndarray, deadline: np.ndarray) -> DecodedBatch:
    """B actions (B, 10N) from start caches (B, N, 2), for tasks ``data``, ``deadline`` (B, N), with
    the named decoder."""
    if decoder == "fit":
        return decode_fit_batch(inst, actions, cache_gateway, cache_edge, data, deadline)
    return decode_batch(inst, actions, cache_gateway, cache_edge, deadline)


def decode_slot(inst: Instance, slot: int, action: np.ndarray, cache: Cache, decoder: str) -> Decision:
    """An action (10N,) for slot ``slot`` of ``inst`` from ``cache``, decoded by ``decoder``."""
    if decoder == "fit":
        return decode_fit(inst, action, cache, inst.data[slot], inst.deadline[slot])
    return decode(inst, action, cache, inst.deadline[slot])


__all__ = [
    "ACTION_FIELDS", "DECODERS", "FIELDS_PER_TASK", "FIELD_INDEX", "DecodedBatch", "decode", "decode_actions",
    "decode_batch", "decode_fit", "decode_fit_batch", "decode_slot",
]
