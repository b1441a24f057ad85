"""Figures for the report, drawn with matplotlib and returned as PNG bytes.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas,
never through ``pyplot``, so no global state or GUI backend is involved and
the functions are safe to call from a web server thread.
"""

from __future__ import annotations

import io
import math
import textwrap

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..model import Codebook

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def code_colors(codebook: Codebook, codes: list[str]) -> list[str]:
    """Each code's own colour, else one from a fixed palette by position."""
    return [codebook[code].color or PALETTE[i % len(PALETTE)] for i, code in enumerate(codes)]


def participants_bar_chart(frequencies: pd.DataFrame, codebook: Codebook) -> bytes:
    """Horizontal bars: participants mentioning each code, labelled "n of N"."""
    codes = list(frequencies.index)
    names = list(frequencies["name"])
    counts = frequencies["participants"].to_numpy()
    total = int(frequencies["participants_total"].iloc[0]) if len(frequencies) else 0
    fig = Figure(figsize=(6.5, 0.45 * len(codes) + 1.0))
    ax = fig.add_subplot()
    positions = np.arange(len(codes))[::-1]
    ax.barh(positions, counts, color=code_colors(codebook, codes), height=0.6)
    ax.set_yticks(positions, labels=names)
    ax.set_xlim(0, max(total, 1) * 1.18)
    ax.set_xlabel(f"Participants mentioning the category (of {total})")
    for y, n in zip(positions, counts):
        ax.text(n + max(total, 1) * 0.01, y, f"{n} of {total}", va="center", fontsize=9)
    if total:
        ax.axvline(total, color="#999999", linewidth=0.8, linestyle="--")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def cooccurrence_heatmap(matrix: pd.DataFrame, names: list[str]) -> bytes:
    """A code x code heatmap of co-occurrence counts, every cell annotated."""
    values = matrix.to_numpy()
    size = len(names)
    off_diagonal = values[~np.eye(size, dtype=bool)]
    top = max(int(off_diagonal.max(initial=0)), 1)
    # the diagonal (units with the code) would swamp the scale: grey it out
    shown = np.ma.masked_array(values, mask=np.eye(size, dtype=bool))
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#E6E6E6")
    fig = Figure(figsize=(1.0 * size + 2.5, 0.8 * size + 1.8))
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=top)
    labels = [textwrap.fill(name, 22) for name in names]
    ax.set_xticks(range(size), labels=labels, rotation=35, ha="right")
    ax.set_yticks(range(size), labels=labels)
    limit = top * 0.6
    for i in range(size):
        for j in range(size):
            value = int(values[i, j])
            colour = "white" if value > limit and value > 0 and i != j else "black"
            weight = "bold" if i == j else "normal"
            ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=9,
                    fontweight=weight)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Units with both codes (grey diagonal: with the code)")
    return _png(fig)


def code_network(
    frequencies: pd.DataFrame,
    cooccurrence_df: pd.DataFrame,
    codebook: Codebook,
    centre: str,
) -> bytes:
    """The codes as a network around ``centre``.

    The central code sits in the middle, the others on a circle around it.
    Node area grows with the number of segments; edge width with the
    c-coefficient. Edges to the centre are drawn dark and labelled with their
    c-coefficient; edges among the other codes light.
    """
    codes = list(frequencies.index)
    others = [code for code in codes if code != centre]
    positions = {centre: (0.0, 0.0)}
    for k, code in enumerate(others):
        angle = math.pi / 2 - 2 * math.pi * k / max(len(others), 1)
        positions[code] = (math.cos(angle), math.sin(angle))
    colours = dict(zip(codes, code_colors(codebook, codes)))
    segments = frequencies["segments"]
    biggest = max(int(segments.max()), 1) if len(segments) else 1

    fig = Figure(figsize=(6.5, 6.0))
    ax = fig.add_subplot()
    strongest = max(float(cooccurrence_df["c_coefficient"].to_numpy().max(initial=0.0)), 1e-9)
    for row in cooccurrence_df.itertuples(index=False):  # one row per pair: few rows
        if row.n_ab == 0 or row.code_a not in positions or row.code_b not in positions:
            continue
        (x1, y1), (x2, y2) = positions[row.code_a], positions[row.code_b]
        central = centre in (row.code_a, row.code_b)
        width = 0.5 + 9.0 * row.c_coefficient / strongest
        ax.plot([x1, x2], [y1, y2], color="#333333" if central else "#AAAAAA",
                linewidth=width, alpha=0.8 if central else 0.5, zorder=1,
                solid_capstyle="round")
        if central:
            if (x1, y1) == positions[centre]:  # label nearer the outer node, clear of the centre
                (x1, y1), (x2, y2) = (x2, y2), (x1, y1)
            ax.text(0.6 * x1 + 0.4 * x2, 0.6 * y1 + 0.4 * y2, f"c={row.c_coefficient:.2f}",
                    fontsize=8,
                    ha="center", va="center", zorder=3,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    for code in codes:
        x, y = positions[code]
        area = 300 + 2700 * int(segments[code]) / biggest
        ax.scatter([x], [y], s=area, color=colours[code], edgecolors="white", linewidths=1.5,
                   zorder=2)
        label = f"{textwrap.fill(str(frequencies.loc[code, 'name']), 20)}\n({int(segments[code])})"
        if code == centre:
            ax.text(0, 0, label, ha="center", va="center", fontsize=9, zorder=4,
                    fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})
        else:
            ax.text(x * 1.36, y * 1.33, label, ha="center", va="center", fontsize=9, zorder=4)
    ax.set_xlim(-1.75, 1.75)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return _png(fig)
