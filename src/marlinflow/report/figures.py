"""The report's figures: learning curves, the feature embedding, mask overlays.

``plot_*`` return a matplotlib ``Figure`` (shown as is in a notebook); the other functions write
it as a PNG. Figures are made without pyplot, so no GUI backend and no global figure list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from marlinflow.atomic import atomic_path
from marlinflow.pretrain.metrics import read_rows
from marlinflow.report.embedding import Embedding
from marlinflow.report.masks import MaskExample

LOSSES = ("loss_rec", "loss_adv", "loss_critic")
MAX_LEGEND_CLASSES = 12


def save(figure: Figure, path: str | Path) -> Path:
    """Write the figure as PNG, atomically."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return Path(path)


def curve(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    points = [(row["step"], row[key]) for row in rows if key in row and not _nan(row[key])]
    return [p[0] for p in points], [p[1] for p in points]


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def learning_curves(metrics_csv: str | Path, out_png: str | Path) -> Path:
    """The curves of a run's ``metrics.csv`` as PNG; ValueError if it holds no losses."""
    return save(plot_curves(read_rows(Path(metrics_csv)), str(metrics_csv)), out_png)


def plot_curves(rows: list[dict], name: str = "metrics") -> Figure:
    """One panel per loss (train per iteration, val per epoch) and one for the learning rate."""
    names = [name for name in LOSSES if any(f"train/{name}" in row for row in rows)]
    if not names:
        raise ValueError(f"{name}: no training losses in it")
    figure = Figure(figsize=(4.2 * (len(names) + 1), 3.2))
    axes = figure.subplots(1, len(names) + 1)
    for ax, name in zip(axes, names, strict=False):
        for split, style in (("train", "-"), ("val", "o-")):
            steps, values = curve(rows, f"{split}/{name}")
            if steps:
                ax.plot(steps, values, style, label=split, markersize=4)
        ax.set(title=name, xlabel="iteration")
        ax.legend()
    steps, values = curve(rows, "lr")
    axes[-1].plot(steps, values, color="tab:green")
    axes[-1].set(title="learning rate", xlabel="iteration")
    axes[-1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    figure.tight_layout()
    return figure


def embedding_plot(embedding: Embedding, out_png: str | Path) -> Path:
    return save(plot_embedding(embedding), out_png)


def plot_embedding(embedding: Embedding) -> Figure:
    """The videos on the first two principal axes, one colour per label."""
    figure = Figure(figsize=(6.4, 4.8))
    ax = figure.subplots()
    names = sorted(set(embedding.labels))
    colours = colormaps["tab10" if len(names) <= 10 else "tab20"]
    for i, name in enumerate(names):
        chosen = np.array(embedding.labels) == name
        ax.scatter(
            *embedding.points[chosen].T,
            s=36,
            color=colours(i % colours.N),
            label=name,
            edgecolors="black",
            linewidths=0.4,
        )
    pc1, pc2 = embedding.explained * 100
    ax.set(
        xlabel=f"PC 1 ({pc1:.0f}% of variance)", ylabel=f"PC 2 ({pc2:.0f}%)", title=embedding.title
    )
    if len(names) <= MAX_LEGEND_CLASSES:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    figure.tight_layout()
    return figure


def mask_figure(examples: Sequence[MaskExample], ratio: float, out_png: str | Path) -> Path:
    return save(plot_masks(examples, ratio), out_png)


def plot_masks(examples: Sequence[MaskExample], ratio: float) -> Figure:
    """One row per video: the face, its part labels, then each mask's visible tokens."""
    strategies = list(examples[0].views)
    n_cols = 2 + len(strategies)
    figure = Figure(figsize=(2.4 * n_cols, 2.8 * len(examples)))
    axes = figure.subplots(len(examples), n_cols, squeeze=False)
    for row, example in zip(axes, examples, strict=True):
        panels = [(example.face, f"{example.video_id}"), (example.parts, "part labels")]
        panels += [(example.views[s], f"{s}: {example.visible[s]} tokens") for s in strategies]
        for ax, (image, title) in zip(row, panels, strict=True):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
    title = f"Middle clip, mask ratio {ratio:g}: grey cells are masked in every tubelet"
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_offset_curves(curves: dict[str, tuple[Sequence[int], Sequence[float]]]) -> Figure:
    """One line per encoder: its lip-sync expert's mean score at each audio offset (frames) over
    the held-out videos; in sync, the peak is at 0."""
    figure = Figure(figsize=(6.4, 3.6))
    ax = figure.subplots()
    for name, (offsets, scores) in curves.items():
        ax.plot(offsets, scores, "o-", markersize=3, label=name)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle="--")
    ax.set(xlabel="audio offset (frames)", ylabel="expert score (cosine)", title="Sync offset")
    ax.legend()
    return figure
