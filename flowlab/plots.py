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


def density(log_prob, title: str = "", ax=None, limits=MOONS_LIMITS, resolution: int = 200):
    """Heat map of a 2-D density; ``log_prob`` is a distribution or a function of points."""
    fn = getattr(log_prob, "log_prob", log_prob)
    xs, ys, grid = density_grid(limits, resolution)
    values = np.exp(np.asarray(fn(grid))).reshape(len(ys), len(xs))
    ax = _axes(ax)
    mesh = ax.pcolormesh(xs, ys, values, shading="auto", cmap="viridis")
    ax.figure.colorbar(mesh, ax=ax, label="density")
    ax.set_title(title)
    ax.set_aspect("equal")
    return ax


def loss_curve(history, title: str = "Training loss", ax=None, ylabel: str = "NLL (nats)"):
    """Training (and, if recorded, validation) loss per epoch from a Keras ``History`` or dict."""
    record = getattr(history, "history", history)
    ax = _axes(ax, size=(6, 3.5))
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        if key in record:
            ax.plot(np.arange(1, len(record[key]) + 1), record[key], label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
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
