"""Plots the labs share: sample scatters, density heat maps, loss curves and image grids.

Each function draws on ``ax`` when given one (so figures can be combined) and returns the axes.
"""

import matplotlib.pyplot as plt
import numpy as np

MOONS_LIMITS = ((-1.5, 2.5), (-1.0, 1.5))


def _axes(ax, size=(5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def scatter(points, title: str = "", ax=None, limits=MOONS_LIMITS, size: float = 2.0):
    """Scatter plot of 2-D points, e.g. data or samples from a flow."""
    points = np.asarray(points)
    ax = _axes(ax)
    ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.5)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    ax.set_title(title)
    ax.set_aspect("equal")
    return ax


def density_grid(limits=MOONS_LIMITS, resolution: int = 200):
    """A ``resolution`` x ``resolution`` grid over ``limits``: (xs, ys, points of shape (n, 2))."""
    xs = np.linspace(*limits[0], resolution)
    ys = np.linspace(*limits[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)
    return xs, ys, grid


def density(log_prob, title: str = "", ax=None, limits=MOONS_LIMITS, resolution: int = 200,
            log_floor: float | None = None):
    """Heat map of a 2-D density; ``log_prob`` is a distribution or a function of points.

    With ``log_floor`` the map shows the log-density, cut off below ``log_floor``: on a linear
    scale a density a thousand times below its peak looks like none at all.
    """
    fn = getattr(log_prob, "log_prob", log_prob)
    xs, ys, grid = density_grid(limits, resolution)
    values = np.asarray(fn(grid)).reshape(len(ys), len(xs))
    if log_floor is None:
        values, label = np.exp(values), "density"
    else:
        values, label = np.maximum(values, log_floor), "log density"
    ax = _axes(ax)
    mesh = ax.pcolormesh(xs, ys, values, shading="auto", cmap="viridis")
    ax.figure.colorbar(mesh, ax=ax, label=label)
    ax.set_title(title)
    ax.set_aspect("equal")
    return ax


def loss_curve(history, title: str = "Training loss", ax=None, ylabel: str = "NLL (nats)"):
    """Training (and, if recorded, validation) loss per epoch from a Keras ``History`` or dict.

    A first epoch far above the rest (a flow starting from random weights can begin hundreds of
    nats higher) would flatten the whole curve, so when including it would squeeze the later epochs
    into less than a third of the axis, the y-axis fits the later epochs and the first epoch's
    value is written in the corner instead.
    """
    record = getattr(history, "history", history)
    ax = _axes(ax, size=(6, 3.5))
    curves = {label: np.asarray(record[key], dtype=float)
              for key, label in (("loss", "train"), ("val_loss", "validation")) if key in record}
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    later = np.concatenate([values[1:] for values in curves.values()] or [np.zeros(0)])
    later = later[np.isfinite(later)]
    if later.size:
        low, high = later.min(), later.max()
        spread = max(high - low, 1e-6 * max(abs(high), 1.0))
        margin = 0.08 * spread
        top = high + margin
        off_scale = [(label, values[0]) for label, values in curves.items()
                     if values[0] - low > 3 * spread]
        if off_scale:
            ax.set_ylim(low - margin, top)
            ax.text(0.98, 0.95, "; ".join(f"epoch 1 ({label}): {value:.4g}, off the scale"
                                          for label, value in off_scale),
                    transform=ax.transAxes, ha="right", va="top", fontsize="small")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="center right")
    return ax


def image_grid(images, columns: int = 10, title: str = "", scale: float = 1.0):
    """A grid of images (``(n, h, w)`` or ``(n, h, w, c)``, values in [0, 1]); returns the figure."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * scale, rows * scale),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image in zip(axes.flat, images, strict=False):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
    fig.suptitle(title)
    return fig


def marginal(data_values, model_values: dict, title: str = "", ax=None, bins: int = 80):
    """Histogram of one coordinate of the data against the same coordinate of model samples.

    ``model_values`` maps a label to 1-D samples; each is drawn as an outline over the data's
    filled histogram, all normalised to densities so different sample sizes compare.
    """
    data_values = np.asarray(data_values)
    ax = _axes(ax)
    edges = np.histogram_bin_edges(data_values, bins=bins)
    ax.hist(data_values, bins=edges, density=True, alpha=0.35, label="data")
    for label, values in model_values.items():
        ax.hist(np.asarray(values), bins=edges, density=True, histtype="step", linewidth=1.5,
                label=label)
    ax.set_title(title)
    ax.set_ylabel("density")
    ax.legend()
    return ax


def tiled(images, columns: int = 6, gap: int = 1, background: float = 1.0) -> np.ndarray:
    """One mosaic array of ``images`` (``(n, h, w)`` or ``(n, h, w, c)``, values in [0, 1]).

    Images sit ``columns`` to a row with ``gap`` pixels of ``background`` between them: small
    images with dark borders (8x8 digits) otherwise run together into stripes. Show it with
    ``ax.imshow(tiled(images), cmap="gray", vmin=0, vmax=1)``.
    """
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    count, height, width = images.shape[:3]
    rows = int(np.ceil(count / columns))
    mosaic = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap,
                      *images.shape[3:]), background, dtype=np.float32)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        mosaic[top:top + height, left:left + width] = image
    return mosaic


def mosaics(panels: dict, columns: int = 2, panel_size: float = 3.6, title: str = ""):
    """One labelled :func:`tiled` mosaic per entry of ``panels`` (label -> images), in a grid.

    Few columns and large titles keep the labels readable when a page shrinks the figure to its
    text width. Returns the figure.
    """
    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * panel_size, rows * (panel_size + 0.5)),
                             squeeze=False, layout="constrained")
    fig.get_layout_engine().set(wspace=0.08, hspace=0.06)  # panels must not run into each other
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, images) in zip(axes.flat, panels.items(), strict=False):
        mosaic = tiled(images)
        ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0.0, vmax=1.0,
                  interpolation="nearest")
        ax.set_title(label, fontsize=13)
    if title:
        fig.suptitle(title, fontsize=14)
    return fig


def trajectories(states, times, title: str = "Trajectories from the Gaussian to the data",
                 ax=None, limits=MOONS_LIMITS, show: int = 150):
    """Paths of 2-D points through a continuous flow: ``states`` has shape ``(len(times), n, 2)``.

    Grey lines follow ``show`` of the points; the starting points (``times[0]``) and end points
    are drawn on top, coloured by time.
    """
    states = np.asarray(states)
    if states.ndim != 3 or states.shape[-1] != 2 or len(states) != len(times):
        raise ValueError(f"states must have shape (len(times), n, 2), got {states.shape} for "
                         f"{len(times)} times.")
    ax = _axes(ax, size=(6, 4.5))
    for i in range(min(show, states.shape[1])):
        ax.plot(states[:, i, 0], states[:, i, 1], color="grey", linewidth=0.5, alpha=0.5)
    colours = plt.cm.viridis(np.linspace(0, 1, len(times)))
    for index in (0, len(times) - 1):
        ax.scatter(states[index, :, 0], states[index, :, 1], s=3, color=colours[index],
                   label=f"t = {times[index]:g}")
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    ax.legend(loc="upper right")
    ax.set_title(title)
    return ax
