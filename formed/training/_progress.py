"""Progress reporting for the training loop, drawn by `rich` on a terminal and logged by absl
elsewhere.

On a terminal, one line redrawn in place that never wraps (long metrics are cut to the
terminal's width, so a redraw leaves no stale rows), with one summary line per evaluation kept
above it::

    evaluation at step 400 (epoch 2): val/loss=0.291 val/accuracy=0.912
    epoch 3/10 ━━━━━━━━━━━━        41% 410/1000 0:00:12<0:00:17 34.1 steps/s train/loss=0.412

While evaluating, the line says so. Text printed by a callback appears above the line.

Elsewhere (CI, a log file): through absl logging (so ``--log_dir`` and ``--alsologtostderr``
work as in the Flax examples), one line every `log_interval` seconds and one per evaluation.
A periodic line shows only the metrics logged since the previous line, never stale ones::

    step 410/1000 (41%) epoch 3/10, 0:00:12 elapsed, 34.1 steps/s, ETA 0:00:17: train/loss=0.412

The rate counts recent steps only (a window of `window` seconds), starting after the first
step (which includes compilation) and leaving out time spent evaluating, so the ETA early in a
run is close to the real end. `update` is a counter increment and a clock read: cheap enough
for every step. `clock` is injectable: tests advance a fake one.
"""

from __future__ import annotations

import collections
import sys
import time
from typing import Callable, Mapping, TextIO

from absl import logging
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Column


def format_duration(seconds: float) -> str:
    """``h:mm:ss``; ``-:--:--`` when unknown (NaN or infinite)."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "-:--:--"
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def format_metrics(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{name}={value:.4g}" for name, value in metrics.items())


class StepRate:
    """Steps per second over the last `window` seconds of training.

    Samples ``(time, count)`` at most once per `sample_interval`; the first sample is taken at
    the first step (after compilation), and `pause` / `resume` shift the samples by the time
    in between, so evaluations do not count.

    >>> rate = StepRate(start_count=0, window=30.0, sample_interval=0.0)
    >>> rate.add(100.0, 1)   # the first step ends after 100 s of compilation
    >>> rate.add(102.0, 5)
    >>> rate.value(102.0, 5)
    2.0
    """

    def __init__(self, start_count: int, window: float = 30.0, sample_interval: float = 0.25) -> None:
        self.window = window
        self.sample_interval = sample_interval
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self._paused_at: float | None = None

    def add(self, now: float, count: int) -> None:
        samples = self.samples
        if samples and now - samples[-1][0] < self.sample_interval:
            return
        samples.append((now, count))
        # Keep one sample older than the window, so the window is always covered.
        while len(samples) > 2 and now - samples[1][0] > self.window:
            samples.popleft()

    def value(self, now: float, count: int) -> float:
        """Steps per second from the oldest kept sample to ``(now, count)``; 0.0 while unknown."""
        if self._paused_at is not None:
            now = self._paused_at
        if not self.samples:
            return 0.0
        first_time, first_count = self.samples[0]
        elapsed = now - first_time
        return (count - first_count) / elapsed if elapsed > 0 and count > first_count else 0.0

    def pause(self, now: float) -> None:
        if self._paused_at is None:
            self._paused_at = now

    def resume(self, now: float) -> None:
        if self._paused_at is None:
            return
        shift = now - self._paused_at
        self.samples = collections.deque((t + shift, c) for t, c in self.samples)
        self._paused_at = None


class ProgressBar:
    """Counts steps towards `total` and shows rate, ETA, the latest metrics and evaluations.

    Args:
        total: steps of the whole run.
        initial: steps already done (a resumed run).
        stream: where to draw; stderr by default. A terminal gets the redrawn line, anything
            else the logged lines.
        enabled: ``False`` shows nothing (the rate is still measured, for TensorBoard).
        log_interval: seconds between logged lines when `stream` is not a terminal.
        clock: returns seconds from any fixed origin (`time.monotonic` by default).
        width: the terminal's width in columns (found from the terminal by default).
        log: writes one plain line (``absl.logging.info`` by default).
        window: seconds of recent steps the rate is measured over.

    Not on a terminal, it logs a line every `log_interval` seconds (here with a fake clock, one
    step a second):

    >>> import io
    >>> now = [0.0]
    >>> bar = ProgressBar(total=30, stream=io.StringIO(), clock=lambda: now[0], log=print)
    >>> for step in range(30):
    ...     now[0] += 1.0  # ... one training step ...
    ...     bar.update()
    step 1/30 (3%), 0:00:01 elapsed, 0.0 steps/s, ETA -:--:--
    step 11/30 (37%), 0:00:11 elapsed, 1.0 steps/s, ETA 0:00:19
    step 21/30 (70%), 0:00:21 elapsed, 1.0 steps/s, ETA 0:00:09
    >>> bar.close()
    step 30/30 (100%), 0:00:30 elapsed, 1.0 steps/s, ETA 0:00:00
    """

    def __init__(
        self,
        total: int,
        initial: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        log_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        log: Callable[[str], None] | None = None,
        window: float = 30.0,
    ) -> None:
        if log_interval <= 0:
            raise ValueError(f"log_interval must be a positive number of seconds, got {log_interval!r}")
        self.total = max(total, 1)
        self.count = initial
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.refresh_interval = 0.1 if self.is_terminal else log_interval
        self.description = ""
        self.metrics: dict[str, float] = {}
        self._new_metrics: dict[str, float] = {}
        self._clock = clock
        self._log = log if log is not None else (lambda line: logging.info("%s", line))
        self._start_time = clock()
        self._start_count = initial
        self._rate = StepRate(initial, window=window, sample_interval=min(0.25, self.refresh_interval))
        self._evaluating = False
        # None until the first draw: a clock's origin is arbitrary (time.monotonic() counts from
        # boot), so no value of it means "long ago".
        self._last_draw: float | None = None
        self._drawn_count = -1
        self._progress: Progress | None = None
        if enabled and self.is_terminal:
            self._progress = self._start_rich(width)

    # -- the terminal line, drawn by rich --------------------------------------------------------

    def _start_rich(self, width: int | None) -> Progress:
        console = Console(file=self.stream, force_terminal=True, width=width, highlight=False)
        no_wrap = lambda: Column(no_wrap=True, overflow="ellipsis")  # noqa: E731
        progress = Progress(
            TextColumn("{task.description}", table_column=no_wrap()),
            BarColumn(bar_width=10),
            TextColumn("{task.percentage:>3.0f}%", table_column=no_wrap()),
            TextColumn("{task.completed}/{task.total}", table_column=no_wrap()),
            TextColumn("{task.fields[times]}", table_column=no_wrap()),
            # The one column that gives way: it takes what the others leave of the width.
            TextColumn("{task.fields[metrics]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=console,
            auto_refresh=False,  # drawn from the loop when due: no thread competes with it
            get_time=self._clock,
            redirect_stdout=True,  # print() from a callback goes above the line
            redirect_stderr=False,
            expand=True,
        )
        self._task = progress.add_task(self.description, total=self.total, completed=self.count, times="", metrics="")
        progress.start()
        return progress

    @property
    def console(self) -> Console | None:
        """The rich console of the terminal line (print through it to appear above the line)."""
        return None if self._progress is None else self._progress.console

    # -- counting ----------------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """Steps per second over recent training steps (compilation and evaluations left out)."""
        return self._rate.value(self._clock(), self.count)

    @property
    def eta(self) -> float:
        rate = self.rate
        return (self.total - self.count) / rate if rate > 0 else float("nan")

    def update(self, steps: int = 1) -> None:
        self.count += steps
        now = self._clock()
        self._rate.add(now, self.count)
        if self.enabled and (self._last_draw is None or now - self._last_draw >= self.refresh_interval):
            self._draw(now)

    def set_description(self, description: str) -> None:
        self.description = description

    def set_metrics(self, metrics: Mapping[str, float], prefix: str = "") -> None:
        """Remembers the latest metrics (shown with `prefix`), replacing those with the same name."""
        for name, value in metrics.items():
            self.metrics[prefix + name] = value
            self._new_metrics[prefix + name] = value

    def refresh(self) -> None:
        """Redraws the terminal line now (after new metrics). Off a terminal new metrics wait for
        the next periodic line: a line per log would flood a CI log."""
        if self._progress is not None:
            self._draw(self._clock())

    def message(self, text: str) -> None:
        """One line of text: above the terminal line, or logged."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self._log(text)

    # -- evaluations -------------------------------------------------------------------------

    def start_evaluation(self) -> None:
        """The line says that an evaluation runs; its time does not count in the rate."""
        now = self._clock()
        self._rate.pause(now)
        self._evaluating = True
        if self._progress is not None:
            self._draw(now)

    def end_evaluation(self, metrics: Mapping[str, float], prefix: str = "", epoch: int | None = None) -> None:
        """Shows one summary line of the evaluation's metrics, kept on screen / in the log."""
        now = self._clock()
        self._rate.resume(now)
        self._evaluating = False
        self.set_metrics(metrics, prefix)
        for name in metrics:
            self._new_metrics.pop(prefix + name, None)  # reported here, not again as new
        if not self.enabled:
            return
        where = f"step {self.count}" + (f" (epoch {epoch})" if epoch is not None else "")
        line = f"evaluation at {where}: " + format_metrics({prefix + k: v for k, v in metrics.items()})
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=False, overflow="ellipsis", crop=True)
            self._draw(now)
        else:
            self._log(line)

    # -- drawing -----------------------------------------------------------------------------

    def _times(self, now: float) -> str:
        rate = self._rate.value(now, self.count)
        eta = (self.total - self.count) / rate if rate > 0 else float("nan")
        return f"{format_duration(now - self._start_time)}<{format_duration(eta)} {rate:.1f} steps/s"

    def render(self) -> str:
        """The plain (non-terminal) line, without a line ending."""
        now = self._clock()
        rate = self._rate.value(now, self.count)
        eta = (self.total - self.count) / rate if rate > 0 else float("nan")
        head = f"step {self.count}/{self.total} ({min(self.count / self.total, 1.0) * 100:.0f}%)"
        if self.description:
            head += f" {self.description}"
        line = f"{head}, {format_duration(now - self._start_time)} elapsed, {rate:.1f} steps/s, ETA {format_duration(eta)}"
        if self._new_metrics:
            line += ": " + format_metrics(self._new_metrics)
        return line

    def _draw(self, now: float) -> None:
        self._last_draw = now
        if self._progress is not None:
            description = f"{self.description} evaluating…" if self._evaluating else self.description
            self._progress.update(
                self._task,
                description=description,
                completed=self.count,
                times=self._times(now),
                metrics=format_metrics(self.metrics),
            )
            self._progress.refresh()
        elif self._drawn_count != self.count or self._new_metrics:
            self._log(self.render())
            self._new_metrics = {}
        self._drawn_count = self.count

    def close(self) -> None:
        """Draws the final state and ends the line."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._draw(self._clock())
            self._progress.stop()
            self._progress = None
        elif self._drawn_count != self.count or self._new_metrics:
            self._log(self.render())
            self._new_metrics = {}
