"""Progress reporting for the training loop.

On a terminal, one line redrawn in place (at most ten times a second)::

    epoch 2/10  41%|██████▌         | 410/1000 [00:12<00:17, 34.1 steps/s] loss=0.412 val/accuracy=0.91

Elsewhere (CI, a log file) a plain line every `log_interval` seconds and one at the end, so that
logs stay readable. `update` is a counter increment and a clock read: cheap enough for every step.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Mapping, TextIO


def _format_duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite: unknown yet
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _format_metrics(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{name}={value:.4g}" for name, value in metrics.items())


class ProgressBar:
    """Counts steps towards `total` and shows rate, ETA and the latest metrics.

    Args:
        total: steps of the whole run.
        initial: steps already done (a resumed run).
        stream: where to write; stderr by default.
        enabled: ``False`` writes nothing.
        log_interval: seconds between plain lines when `stream` is not a terminal.
        clock: returns seconds from any fixed origin (`time.monotonic` by default); tests pass
            a fake one.
    """

    def __init__(
        self,
        total: int,
        initial: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        log_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 1)
        self.count = initial
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.refresh_interval = 0.1 if self.is_terminal else log_interval
        self.description = ""
        self.metrics: dict[str, float] = {}
        self._clock = clock
        self._start_time = clock()
        self._start_count = initial
        # None until the first draw: a clock's origin is arbitrary (time.monotonic() counts from
        # boot), so no value of it means "long ago".
        self._last_draw: float | None = None
        self._drawn_count = -1

    @property
    def rate(self) -> float:
        """Steps per second since the bar started."""
        elapsed = self._clock() - self._start_time
        done = self.count - self._start_count
        return done / elapsed if elapsed > 0 and done > 0 else 0.0

    def set_description(self, description: str) -> None:
        self.description = description

    def set_metrics(self, metrics: Mapping[str, float], prefix: str = "") -> None:
        """Remembers the latest metrics (shown with `prefix`), replacing those with the same name."""
        for name, value in metrics.items():
            self.metrics[prefix + name] = value

    def refresh(self) -> None:
        """Draws now (after new metrics): redraws the terminal line, or writes a log line."""
        self._draw(force=True)

    def update(self, steps: int = 1) -> None:
        self.count += steps
        now = self._clock()
        if self._due(now):
            self._draw(now=now)

    def render(self) -> str:
        """The current line, without a line ending."""
        fraction = min(self.count / self.total, 1.0)
        rate = self.rate
        elapsed = self._clock() - self._start_time
        eta = (self.total - self.count) / rate if rate > 0 else float("nan")
        head = f"{self.description}  " if self.description else ""
        bar = " "
        if self.is_terminal:
            width = 20
            filled = int(fraction * width)
            bar = "|" + "█" * filled + " " * (width - filled) + "| "
        line = (
            f"{head}{fraction * 100:3.0f}%{bar}{self.count}/{self.total} "
            f"[{_format_duration(elapsed)}<{_format_duration(eta)}, {rate:.1f} steps/s]"
        )
        if self.metrics:
            line += " " + _format_metrics(self.metrics)
        return line

    def _due(self, now: float) -> bool:
        return self._last_draw is None or now - self._last_draw >= self.refresh_interval

    def _draw(self, now: float | None = None, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self._clock() if now is None else now
        if not force and not self._due(now):
            return
        self._last_draw = now
        self._drawn_count = self.count
        if self.is_terminal:
            self.stream.write("\r\x1b[2K" + self.render())
        else:
            self.stream.write(self.render() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draws the final state and ends the line."""
        if not self.enabled:
            return
        if self.is_terminal:
            self.stream.write("\r\x1b[2K" + self.render() + "\n")
        elif self._drawn_count != self.count:
            self.stream.write(self.render() + "\n")
        self.stream.flush()
