"""When a run is evaluated: the fixed budget's schedule, and a horizon experiment's past it.

One definition for the engine (which probes at these epochs), the stall rule
(:mod:`lossatlas.stats.convergence`) and the figure plan (:mod:`lossatlas.design.plan`, which counts
the points). Epochs are counted from 0 (the initial weights). Standard library only.
"""

from __future__ import annotations

import dataclasses


def eval_schedule(epochs: int, eval_every: int) -> list[int]:
    """The epochs after which a fixed-budget run is evaluated: 0 (the initial weights), 1, every
    ``eval_every``-th epoch, and the last one."""
    return sorted({0, min(1, epochs), epochs, *range(eval_every, epochs + 1, eval_every)})


@dataclasses.dataclass(frozen=True)
class Horizon:
    """The horizon settings of the config (``horizon``), in epochs of one experiment.

    Attributes:
        budget: the fixed budget (the experiment's epochs): the first horizon.
        cap: the last horizon, in epochs (the config's ``cap_steps`` over the steps per epoch).
        points_per_doubling: evaluation points per doubling of the horizon past the budget.
        stall_improvement, stall_factor: the stall rule (see the module doc).
        threshold: the nRMSE threshold.
    """

    budget: int
    cap: int
    points_per_doubling: int
    stall_improvement: float
    stall_factor: float
    threshold: float

    def checkpoints(self) -> list[int]:
        """The horizons in epochs: the budget, doubled until the cap (the cap is always the last)."""
        points, horizon = [], self.budget
        while horizon < self.cap:
            points.append(horizon)
            horizon *= 2
        return [*points, self.cap]

    def schedule(self, eval_every: int) -> list[int]:
        """Every evaluation epoch up to the cap: the budget's (0, 1, every ``eval_every``-th, the
        budget), then ``points_per_doubling`` geometric points per doubling (every checkpoint among them)."""
        points = set(eval_schedule(self.budget, eval_every))
        checkpoints = self.checkpoints()
        for start, end in zip(checkpoints, checkpoints[1:]):
            for j in range(1, self.points_per_doubling + 1):
                points.add(min(end, int(round(start * 2 ** (j / self.points_per_doubling)))))
            points.add(end)
        return sorted(points)
