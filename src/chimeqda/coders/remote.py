"""The worker side of distributed coding (``services.distributed``): pure computation, no database.

The client registers a :class:`CoderPlugin` holding the fitted coder once;
Dask sends it to every worker, also to one that joins or restarts later, and
each worker unpickles it once. :func:`code_partition` then codes one
partition of segments with the coder the worker holds, so a task ships only
its segments, never the coder, and returns the suggestions with the
probabilities the client needs for review flags.

Each worker's encoders compute with as many threads as the worker has
(``--nthreads``; one in ``chimeqda``'s own LocalCluster), not with every core
of the machine: several worker processes on one machine would otherwise
oversubscribe its cores and each slow down (:func:`worker_threads`).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

from chimeqda.coders.base import Coder, score_segments
from chimeqda.coders.calibration import selective_limits
from chimeqda.coders.encoders import set_threads
from chimeqda.model import Segment, Suggestion

try:  # the scale extra brings dask.distributed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - without the extra the engine is refused before this is used
    WorkerPlugin = object  # type: ignore[assignment,misc]

_HELD = "chimeqda_coders"


class CoderPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Puts one fitted coder on every worker, under ``key``."""

    def __init__(self, key: str, coder: Coder):
        self.key = key
        self.name = f"chimeqda-coder-{key}"
        self.payload = pickle.dumps(coder, protocol=pickle.HIGHEST_PROTOCOL)

    def setup(self, worker: Any) -> None:
        set_threads(worker_threads(worker))
        held = getattr(worker, _HELD, None)
        if held is None:
            held = {}
            setattr(worker, _HELD, held)
        held[self.key] = pickle.loads(self.payload)

    def teardown(self, worker: Any) -> None:
        getattr(worker, _HELD, {}).pop(self.key, None)


def worker_threads(worker: Any) -> int:
    """The threads a worker's coder computes with: the worker's own thread count (``dask worker --nthreads``)."""
    state = getattr(worker, "state", worker)  # distributed keeps it in worker.state
    return max(1, int(getattr(state, "nthreads", 1) or 1))


def held_coder(key: str) -> Coder:
    """The fitted coder this worker holds under ``key`` (set up by :class:`CoderPlugin`)."""
    from distributed import get_worker

    held = getattr(get_worker(), _HELD, {})
    if key not in held:
        raise RuntimeError(f"this Dask worker has no chimeqda coder {key!r}: the plugin was not set up")
    return held[key]


def code_partition(key: str, segments: Sequence[Segment], flag_level: float, precision: float | None = None,
                   ) -> tuple[list[Suggestion], dict[Any, dict[str, float]], int]:
    """A task: the held coder's suggestions for one partition of segments, the unsure segments' scores,
    and (with ``precision``) how many segments stay unsettled.

    Scored as ``run_coder`` scores (:func:`~chimeqda.coders.base.score_segments`,
    then ``suggest`` on those probabilities; with ``precision`` on the thresholds of
    :func:`~chimeqda.coders.calibration.selective_limits`, as ``run_coder --precision``). The
    second part maps each segment left without a suggestion whose most likely code reaches
    ``flag_level`` to its probabilities: the client flags them with ``services.review.flag_rows``
    as ``run_coder`` does ("empty means unsure"); the others need no probabilities. The third
    is 0 without ``precision``.
    """
    from distributed import get_worker

    set_threads(worker_threads(get_worker()))  # in this task's thread: OpenMP keeps its limit per thread
    coder = held_coder(key)
    segments = list(segments)
    probs = score_segments(coder, segments)
    left = 0
    if precision is None:
        suggestions = coder.suggest(segments, probs=probs)
    else:
        limits, left = selective_limits(coder, segments, precision, probs=probs)
        suggestions = coder.suggest(segments, limits=limits, probs=probs)
    suggested = {s.segment_key for s in suggestions}
    unsure = {segment.key: dict(scores) for segment, scores in zip(segments, probs)
              if segment.key not in suggested and scores and max(scores.values()) >= flag_level}
    return suggestions, unsure, left
