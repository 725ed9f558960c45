"""Comparing 2-D density models: held-out NLL beside cost, in one table, and a check that each
density integrates to one.

Any model fits: a TFP distribution (``flow_cost``) or anything with a sampler and a log-density
(``cost``), e.g. a fitted scikit-learn ``GaussianMixture`` (``lambda n: model.sample(n)[0]`` and
``model.score_samples``).
"""

from dataclasses import dataclass

import numpy as np

from flowlab import training

POINTS = 10000


@dataclass(frozen=True)
class Row:
    """One model's line in the comparison table; times in seconds, ``None`` where not applicable."""

    name: str
    nll: float
    train_seconds: float
    sample_seconds: float | None
    density_seconds: float | None


def cost(sample, log_prob, points: int = POINTS, repeats: int = 3) -> tuple[float, float]:
    """Seconds to draw ``points`` samples and to evaluate ``points`` densities, scaled to 10k.

    Slow models are timed on fewer ``points`` and the time is scaled linearly to 10k, so each row
    of the table reads the same; each figure is the best of ``repeats`` after a warm-up.
    """
    if points <= 0:
        raise ValueError(f"points must be positive, got {points}.")
    where = np.asarray(sample(points), dtype=np.float32)
    scale = POINTS / points
    sample_seconds = training.seconds(lambda: sample(points), repeats) * scale
    density_seconds = training.seconds(lambda: np.asarray(log_prob(where)), repeats) * scale
    return sample_seconds, density_seconds


def flow_cost(distribution, points: int = POINTS, repeats: int = 3) -> tuple[float, float]:
    """:func:`cost` of a TFP distribution's ``sample`` and ``log_prob``."""
    return cost(lambda n: distribution.sample(n).numpy(), distribution.log_prob, points, repeats)


def _seconds(value) -> str:
    return "" if value is None else f"{value:.2f}"


def table(rows: list[Row], truth: float | None = None) -> str:
    """The comparison as fixed-width text: NLL, gap to ``truth`` (if given), and the three times."""
    header = (f"{'model':<26}{'held-out NLL':>13}{'gap':>8}{'train s':>9}"
              f"{'s/10k samples':>15}{'s/10k densities':>17}")
    lines = [header, "-" * len(header)]
    for row in rows:
        gap = "" if truth is None else f"{row.nll - truth:.3f}"
        lines.append(f"{row.name:<26}{row.nll:>13.3f}{gap:>8}{row.train_seconds:>9.1f}"
                     f"{_seconds(row.sample_seconds):>15}{_seconds(row.density_seconds):>17}")
    return "\n".join(lines)


@dataclass(frozen=True)
class GridIntegral:
    """``value``: the integral over the grid cells where ``log_prob`` is a number. ``undefined``:
    cells where it is nan, which happens when a flow's computation overflows far from the data
    (``inf - inf``); they are counted and shown, not guessed at. A log density of ``-inf`` is a
    density of zero and counts as such."""

    value: float
    undefined: int
    cells: int

    def __format__(self, spec: str) -> str:
        # Formats like a number (``f"{integral:.3f}"``), and never drops the count of nan cells.
        text = format(self.value, spec or ".4f")
        if not self.undefined:
            return text
        return (f"{text} (log_prob is nan at {self.undefined} of {self.cells} grid cells, "
                "where the flow overflows)")

    def __str__(self) -> str:
        return format(self, "")


def grid_integral(log_prob, box, resolution: int = 300, chunk: int = 20000) -> GridIntegral:
    """The integral of ``exp(log_prob)`` over ``box = ((x_min, x_max), (y_min, y_max))``.

    Midpoint rule on ``resolution`` x ``resolution`` cells. A correct density gives a value just
    under 1 (the mass outside the box is missing); a wrong log-determinant shows up as a value
    well away from 1, which a held-out NLL alone can hide.
    """
    (x0, x1), (y0, y1) = box
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must be ((x_min, x_max), (y_min, y_max)) with min < max, got {box}.")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}.")
    dx, dy = (x1 - x0) / resolution, (y1 - y0) / resolution
    xs = x0 + dx * (np.arange(resolution) + 0.5)
    ys = y0 + dy * (np.arange(resolution) + 0.5)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)
    total, undefined = 0.0, 0
    for start in range(0, len(grid), chunk):
        log_density = np.asarray(log_prob(grid[start:start + chunk]), np.float64)
        defined = ~np.isnan(log_density)
        undefined += int((~defined).sum())
        total += float(np.exp(log_density[defined]).sum())
    return GridIntegral(total * dx * dy, undefined, len(grid))
