import io

import pytest

from formed.training.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    """Seconds since boot, advanced by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_terminal_line_has_rate_eta_and_metrics():
    clock = FakeClock(1000.0)
    stream = Terminal()
    bar = ProgressBar(total=100, stream=stream, clock=clock)
    bar.set_description("epoch 1/2")
    for _ in range(10):
        clock.now += 0.5
        bar.update()
    bar.set_metrics({"loss": 0.5}, prefix="train/")
    line = bar.render()
    assert line.startswith("epoch 1/2")
    assert "10/100" in line and "2.0 steps/s" in line and "<00:45" in line and "train/loss=0.5" in line
    bar.refresh()
    assert stream.getvalue().startswith("\r")


@pytest.mark.parametrize("boot_seconds_ago", [0.0, 30.0, 59.0, 1e6])
def test_plain_lines_when_not_a_terminal_on_any_clock_origin(boot_seconds_ago):
    # A machine booted a minute ago has time.monotonic() < log_interval: the first update still
    # draws (this failed on fresh CI machines when "never drawn" was stored as time 0.0).
    stream = io.StringIO()
    bar = ProgressBar(total=4, stream=stream, log_interval=3600, clock=FakeClock(boot_seconds_ago))
    for _ in range(4):
        bar.update()
    bar.set_metrics({"accuracy": 0.9}, prefix="val/")
    bar.refresh()
    bar.close()  # nothing new since the refresh: no repeated line
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # the first update draws once; the refresh draws the final state
    assert "\r" not in stream.getvalue() and "4/4" in lines[-1] and "val/accuracy=0.9" in lines[-1]


def test_plain_lines_follow_the_log_interval():
    clock = FakeClock(5.0)
    stream = io.StringIO()
    bar = ProgressBar(total=100, stream=stream, log_interval=10.0, clock=clock)
    for _ in range(30):  # one step a second for 30 s: lines at 0 s, 10 s, 20 s, 30 s
        clock.now += 1.0
        bar.update()
    assert [line.split()[:2] for line in stream.getvalue().splitlines()] == [
        ["1%", "1/100"], ["11%", "11/100"], ["21%", "21/100"]
    ]


def test_disabled_writes_nothing():
    stream = io.StringIO()
    bar = ProgressBar(total=4, stream=stream, enabled=False)
    bar.update()
    bar.refresh()
    bar.close()
    assert stream.getvalue() == ""


def test_resumed_bar_counts_rate_from_its_start():
    clock = FakeClock(50.0)
    bar = ProgressBar(total=10, initial=6, stream=io.StringIO(), enabled=False, clock=clock)
    assert bar.rate == 0.0 and "6/10" in bar.render()
    clock.now += 2.0
    bar.update(2)
    assert bar.rate == pytest.approx(1.0) and "8/10" in bar.render()
