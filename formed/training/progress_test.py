import io

from formed.training.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_line_has_rate_eta_and_metrics():
    stream = Terminal()
    bar = ProgressBar(total=100, stream=stream)
    bar.set_description("epoch 1/2")
    for _ in range(10):
        bar.update()
    bar.set_metrics({"loss": 0.5}, prefix="train/")
    line = bar.render()
    assert line.startswith("epoch 1/2")
    assert "10/100" in line and "steps/s" in line and "<" in line and "train/loss=0.5" in line
    bar.refresh()
    assert stream.getvalue().startswith("\r")


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(total=4, stream=stream, log_interval=3600)
    for _ in range(4):
        bar.update()
    bar.set_metrics({"accuracy": 0.9}, prefix="val/")
    bar.refresh()
    bar.close()  # nothing new since the refresh: no repeated line
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # the first update draws once; the refresh draws the final state
    assert "\r" not in stream.getvalue() and "4/4" in lines[-1] and "val/accuracy=0.9" in lines[-1]


def test_disabled_writes_nothing():
    stream = io.StringIO()
    bar = ProgressBar(total=4, stream=stream, enabled=False)
    bar.update()
    bar.refresh()
    bar.close()
    assert stream.getvalue() == ""


def test_resumed_bar_counts_rate_from_its_start():
    bar = ProgressBar(total=10, initial=6, stream=io.StringIO(), enabled=False)
    assert bar.rate == 0.0 and "6/10" in bar.render()
