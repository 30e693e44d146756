"""The action of eq. (13), shared by every decoder: its fields and the decoded batch (docs/model.md, section 10).

An action holds :data:`FIELDS_PER_TASK` numbers per task in [-1, 1], task-major (task j's fields
at ``10j .. 10j+9``), in the order of :data:`ACTION_FIELDS`. A decoder turns it into a
:class:`DecodedBatch` of decisions that the evaluator then judges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tadp.decision import Decision

#: The 10 fields of one task's action, in order (eq. 13; docs/model.md, section 10).
ACTION_FIELDS = (
    "site",  # m: >= 0 gateway, < 0 edge
    "level",  # phi: >= 0 heavy, < 0 light
    "uplink",  # alpha^l: weight in its gateway's band
    "bs",  # alpha^e: weight in the BS band (edge tasks)
    "compute_gateway",  # beta^l: weight in its gateway's compute (gateway tasks)
    "compute_edge",  # beta^e: weight in the edge compute (edge tasks)
    "keep_gateway_light",  # omega^{l_0}
    "keep_gateway_heavy",  # omega^{l_1}
    "keep_edge_light",  # omega^{e_0}
    "keep_edge_heavy",  # omega^{e_1}
)
FIELDS_PER_TASK = len(ACTION_FIELDS)
#: Field name -> its position within a task's block of the action.
FIELD_INDEX = {name: k for k, name in enumerate(ACTION_FIELDS)}


@dataclass(eq=False)
class DecodedBatch:
    """B decoded decisions; arrays (B, N) or (B, N, 2), as :class:`~tadp.decision.Decision` fields."""

    site: np.ndarray  # int8 codes
    level: np.ndarray  # int8
    uplink_share: np.ndarray
    bs_share: np.ndarray
    compute_share: np.ndarray
    keep_gateway: np.ndarray  # (B, N, 2) bool
    keep_edge: np.ndarray  # (B, N, 2) bool
    dropped_fetch: np.ndarray  # (B, N) bool: dropped because the model's fetch misses the deadline
    dropped_cache: np.ndarray  # (B, N) bool: dropped because the site's cache had no room left

    def decision(self, row: int) -> Decision:
        """Row ``row`` as a :class:`~tadp.decision.Decision`."""
        return Decision(
            site=self.site[row].copy(),
            level=self.level[row].copy(),
            uplink_share=self.uplink_share[row].copy(),
            bs_share=self.bs_share[row].copy(),
            compute_share=self.compute_share[row].copy(),
            keep_gateway=self.keep_gateway[row].copy(),
            keep_edge=self.keep_edge[row].copy(),
        )


__all__ = ["ACTION_FIELDS", "FIELDS_PER_TASK", "FIELD_INDEX", "DecodedBatch"]
