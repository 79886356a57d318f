"""Item sightings that fade: each count halves every ``half_life`` sightings of any item,
so the popularity prior reads what is popular now ("trending"), not since the start.

A plain decayed counter would rescale every row at every step, which would put the
whole vector into every delta checkpoint (issue 18). Instead the stored values are
scaled up as the clock runs (a sighting at clock t adds 2^(t / half_life)) and read
scaled back down, so a step writes only the rows it sees. The stored values are
float64 and brought back to scale every RESCALE_HALF_LIVES half-lives (a step that
then writes every row): 2^512 is far from float64's limit and leaves 1e-16 relative
precision for the counts that matter. ``half_life`` None: counts never fade.
"""

from __future__ import annotations

import torch

RESCALE_HALF_LIVES = 512.0


class RecentSightings:
    def __init__(self, rows: int, half_life: float | None, device: torch.device) -> None:
        self.half_life = half_life
        self.scaled = torch.zeros(rows, dtype=torch.float64, device=device)
        self.clock = 0.0  # sightings since the last rescale

    def _exponent(self) -> float:
        return 0.0 if self.half_life is None else self.clock / self.half_life

    def add(self, rows: torch.Tensor) -> bool:
        """Count one sighting per entry of ``rows`` (repeats add up), all at the step's end.
        True when every row was rescaled (every row then changed)."""
        if rows.numel() == 0:
            return False
        self.clock += rows.numel()
        weight = 2.0 ** self._exponent()
        self.scaled.index_add_(0, rows, torch.full(rows.shape, weight, dtype=torch.float64,
                                                   device=self.scaled.device))  # fmt: skip
        if self._exponent() < RESCALE_HALF_LIVES:
            return False
        self.scaled.mul_(2.0 ** -self._exponent())
        self.clock = 0.0
        return True

    def counts(self, rows: int | None = None) -> torch.Tensor:
        """(N,) float32 faded counts of the first ``rows`` rows (all: None)."""
        scaled = self.scaled if rows is None else self.scaled[:rows]
        faded: torch.Tensor = scaled * 2.0 ** -self._exponent()
        return faded.float()

    def clear(self, rows: torch.Tensor) -> None:
        self.scaled[rows] = 0

    def grow(self, rows: int) -> None:
        added = rows - self.scaled.shape[0]
        if added > 0:
            self.scaled = torch.cat([self.scaled, self.scaled.new_zeros(added)])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"recent.sightings": self.scaled,
                "recent.clock": torch.tensor(self.clock, dtype=torch.float64)}  # fmt: skip

    def load_state_dict(self, state: dict[str, torch.Tensor], rows: int) -> None:
        """From a checkpoint (one from before fading counts starts empty)."""
        device = self.scaled.device
        if "recent.sightings" in state:
            self.scaled = state["recent.sightings"].to(device, torch.float64).clone()
            self.clock = float(state["recent.clock"])
        else:
            self.scaled = torch.zeros(rows, dtype=torch.float64, device=device)
            self.clock = 0.0
        self.grow(rows)
