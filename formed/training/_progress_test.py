import io
import re

import pytest

from formed.training._progress import ProgressBar, StepRate, format_duration

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    """Seconds since boot, advanced by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def screen_lines(text: str) -> list[str]:
    """What a terminal shows: rows split at newlines and carriage returns, escapes removed."""
    return [ANSI.sub("", row) for row in re.split(r"\r|\n", text) if ANSI.sub("", row).strip()]


LONG_METRICS = {f"metric_{i}": 0.123456 * i for i in range(12)}


@pytest.mark.parametrize("width", [80, 160])
def test_the_terminal_line_fits_the_width_and_never_wraps(width):
    clock = FakeClock(1000.0)
    stream = Terminal()
    bar = ProgressBar(total=100, stream=stream, clock=clock, width=width)
    bar.set_description("epoch 1/2")
    for _ in range(10):
        clock.now += 0.5
        bar.update()
    bar.set_metrics(LONG_METRICS, prefix="train/")
    bar.refresh()
    bar.close()
    rows = screen_lines(stream.getvalue())
    assert rows
    for row in rows:
        assert len(row) <= width, row
    last = rows[-1]
    assert last.startswith("epoch 1/2") and "10/100" in last and "2.0 steps/s" in last and "<0:00:45" in last
    assert "train/metric_" in last and len(last) > width - 3  # the metrics use the room left
    assert ("train/metric_3=0.3704" in last) == (width == 160)
    assert last.endswith("…")  # the metrics were cut, not wrapped onto a second row


def test_the_rate_leaves_out_compilation_and_evaluation():
    clock = FakeClock(50.0)
    bar = ProgressBar(total=1000, stream=io.StringIO(), enabled=False, clock=clock)
    clock.now += 20.0  # the first step compiles for 20 s
    bar.update()
    for _ in range(100):
        clock.now += 0.1
        bar.update()
    assert bar.rate == pytest.approx(10.0)
    bar.start_evaluation()
    clock.now += 30.0
    bar.end_evaluation({"loss": 0.5}, prefix="val/")
    assert bar.rate == pytest.approx(10.0)
    assert bar.eta == pytest.approx((1000 - 101) / 10.0)
    for _ in range(50):
        clock.now += 0.2
        bar.update()
    # A 30 s window of recent steps: the slower steps show, the old ones fade out.
    assert 5.0 < bar.rate < 10.0


def test_step_rate_window_keeps_recent_samples():
    rate = StepRate(start_count=0, window=10.0, sample_interval=0.0)
    for i in range(1, 101):
        rate.add(float(i), i * (1 if i <= 50 else 3))
    assert rate.value(100.0, 300) == pytest.approx(3.0, rel=0.05)


def test_evaluations_show_while_running_and_leave_a_summary_line():
    clock = FakeClock(0.0)
    stream = Terminal()
    bar = ProgressBar(total=10, stream=stream, clock=clock, width=100)
    bar.set_description("epoch 1/1")
    for _ in range(5):
        clock.now += 1.0
        bar.update()
    bar.start_evaluation()
    assert "evaluating" in screen_lines(stream.getvalue())[-1]
    bar.end_evaluation({"loss": 0.25, "accuracy": 0.75}, prefix="val/", epoch=1)
    for _ in range(5):
        clock.now += 1.0
        bar.update()
    bar.close()
    text = ANSI.sub("", stream.getvalue())
    assert "evaluation at step 5 (epoch 1): val/loss=0.25 val/accuracy=0.75\n" in text
    assert "evaluating" not in screen_lines(stream.getvalue())[-1]


def test_printing_from_a_callback_goes_above_the_line():
    clock = FakeClock(0.0)
    stream = Terminal()
    bar = ProgressBar(total=10, stream=stream, clock=clock, width=80)
    clock.now += 1.0
    bar.update()
    print("a message from a callback")
    clock.now += 1.0
    bar.update()
    bar.close()
    text = ANSI.sub("", stream.getvalue())
    assert "a message from a callback\n" in text
    assert "a message from a callback" not in screen_lines(stream.getvalue())[-1]


def test_plain_lines_every_interval_with_time_and_only_new_metrics():
    clock = FakeClock(5.0)
    lines: list[str] = []
    bar = ProgressBar(total=100, stream=io.StringIO(), log_interval=10.0, clock=clock, log=lines.append)
    for step in range(1, 31):  # one step a second for 30 s
        clock.now += 1.0
        bar.update()
        if step == 12:
            bar.set_metrics({"loss": 0.5}, prefix="train/")
            bar.refresh()  # off a terminal: no extra line, the metrics wait for the next one
    assert [line.split(",")[0] for line in lines] == ["step 1/100 (1%)", "step 11/100 (11%)", "step 21/100 (21%)"]
    assert "0:00:01 elapsed" in lines[0] and "0:00:21 elapsed" in lines[2]
    assert "train/loss=0.5" in lines[2]
    assert "loss" not in lines[1]
    bar.close()
    assert lines[-1].startswith("step 30/100") and "loss" not in lines[-1]  # not repeated as new


def test_plain_lines_on_any_clock_origin_and_one_per_evaluation():
    for origin in (0.0, 59.0, 1e6):
        lines: list[str] = []
        bar = ProgressBar(total=4, stream=io.StringIO(), log_interval=3600, clock=FakeClock(origin), log=lines.append)
        for _ in range(4):
            bar.update()
        bar.start_evaluation()
        bar.end_evaluation({"accuracy": 0.9}, prefix="val/", epoch=1)
        bar.close()
        assert lines[0].startswith("step 1/4")  # the first update draws, whatever the origin
        assert lines[1] == "evaluation at step 4 (epoch 1): val/accuracy=0.9"
        assert lines[2].startswith("step 4/4") and "accuracy" not in lines[2]
        assert len(lines) == 3


def test_disabled_writes_nothing_but_still_measures():
    stream = io.StringIO()
    lines: list[str] = []
    clock = FakeClock(0.0)
    bar = ProgressBar(total=4, stream=stream, enabled=False, clock=clock, log=lines.append)
    for _ in range(4):
        clock.now += 0.5
        bar.update()
    bar.start_evaluation()
    bar.end_evaluation({"loss": 1.0})
    bar.refresh()
    bar.close()
    assert stream.getvalue() == "" and lines == []
    assert bar.rate == pytest.approx(2.0)


def test_resumed_bar_counts_from_where_it_resumed():
    clock = FakeClock(50.0)
    lines: list[str] = []
    bar = ProgressBar(total=10, initial=6, stream=io.StringIO(), clock=clock, log=lines.append)
    assert bar.rate == 0.0 and "6/10" in bar.render()
    clock.now += 1.0
    bar.update()
    clock.now += 2.0
    bar.update(2)
    assert bar.rate == pytest.approx(1.0) and "9/10" in bar.render()


def test_format_duration():
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "-:--:--"
