"""Progress of long steps on stderr, readable in a terminal and in a log file alike.

On a terminal, :func:`progress` is tqdm's bar, redrawn in place. Anywhere else (a Snakemake or
SLURM log file, a pipe) the same text comes as whole lines: the first at the start, then at most
one every :data:`LOG_EVERY` seconds, and the last at the end. A day-long job's log thus holds a
few thousand lines of progress, not one line redrawn with carriage returns a million times::

    extract: 120/3000 video [00:57<22:51, 2.10 video/s]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

LOG_EVERY = 30.0  # seconds between two progress lines in a log file
TERMINAL_EVERY = 0.1  # seconds between two redraws of a bar on a terminal


class _Lines:
    """A stream that takes tqdm's redraws (``\\r`` + text) and writes each as one line."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(
    iterable: Iterable | None = None,
    what: str = "",
    *,
    total: float | None = None,
    unit: str = "it",
    enabled: bool = True,
    stream: IO[str] | None = None,
    **options: Any,
) -> tqdm:
    """A tqdm over ``iterable`` (or one to ``update()`` by hand) that writes to ``stream``
    (stderr): a bar on a terminal, timed lines elsewhere. ``options`` go to tqdm (e.g.
    ``unit_scale=True`` for bytes)."""
    stream = stream or sys.stderr
    terminal = stream.isatty()
    every = TERMINAL_EVERY if terminal else LOG_EVERY
    return tqdm(
        iterable,
        desc=what,
        total=total,
        unit=unit,
        file=stream if terminal else _Lines(stream),
        mininterval=every,
        maxinterval=max(every, 10.0),  # tqdm's monitor never redraws sooner than this
        ascii=not terminal,
        dynamic_ncols=terminal,
        disable=not enabled,
        **options,
    )
