"""A slot decision (eq. 13 of the paper, docs/model.md, section 3).

Per task j: where it runs (``site``: none, gateway or edge; m_j), which model
(``level``: 0 light, 1 heavy; phi_j), its shares of the pools it uses (``uplink_share``
of its gateway's band B, alpha^l; ``bs_share`` of the BS band B_e, alpha^e;
``compute_share`` of its site's compute C_l or C_e, beta), and the keep flags
(``keep_gateway[j, n]``, ``keep_edge[j, n]``; omega, C7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SITE_NONE, SITE_GATEWAY, SITE_EDGE = 0, 1, 2
SITE_NAMES = ("none", "gateway", "edge")
SITE_CODES = {name: code for code, name in enumerate(SITE_NAMES)}


@dataclass(eq=False)
class Decision:
    """One slot's decision for all N tasks (arrays of shape (N,) or (N, 2))."""

    site: np.ndarray  # int8 codes SITE_NONE / SITE_GATEWAY / SITE_EDGE
    level: np.ndarray  # int8, 0 light or 1 heavy
    uplink_share: np.ndarray  # alpha^l, of the gateway band B
    bs_share: np.ndarray  # alpha^e, of the BS band B_e (edge tasks only)
    compute_share: np.ndarray  # beta, of C_l (gateway site) or C_e (edge site)
    keep_gateway: np.ndarray  # (N, 2) bool, omega^l
    keep_edge: np.ndarray  # (N, 2) bool, omega^e

    @staticmethod
    def drop_all(n_devices: int) -> Decision:
        """Serve nothing and keep nothing: always feasible, scores 0."""
        zeros = np.zeros(n_devices)
        return Decision(
            site=np.zeros(n_devices, np.int8),
            level=np.zeros(n_devices, np.int8),
            uplink_share=zeros.copy(),
            bs_share=zeros.copy(),
            compute_share=zeros.copy(),
            keep_gateway=np.zeros((n_devices, 2), bool),
            keep_edge=np.zeros((n_devices, 2), bool),
        )

    @property
    def n_devices(self) -> int:
        return int(self.site.shape[0])

    def copy(self) -> Decision:
        return Decision(*(np.array(getattr(self, f)) for f in self.__dataclass_fields__))

    def site_names(self) -> list[str]:
        return [SITE_NAMES[int(c)] for c in self.site]

    def check_shapes(self, n_devices: int) -> None:
        """Raise ValueError when an array has the wrong shape or a code is unknown."""
        for name in ("site", "level", "uplink_share", "bs_share", "compute_share"):
            if np.shape(getattr(self, name)) != (n_devices,):
                raise ValueError(f"decision.{name}: expected shape ({n_devices},), got {np.shape(getattr(self, name))}")
        for name in ("keep_gateway", "keep_edge"):
            if np.shape(getattr(self, name)) != (n_devices, 2):
                raise ValueError(f"decision.{name}: expected shape ({n_devices}, 2), got {np.shape(getattr(self, name))}")
        if n_devices and not (SITE_NONE <= self.site.min() and self.site.max() <= SITE_EDGE):
            raise ValueError("decision.site: unknown site code")
        if n_devices and not (0 <= self.level.min() and self.level.max() <= 1):
            raise ValueError("decision.level: level must be 0 or 1")
