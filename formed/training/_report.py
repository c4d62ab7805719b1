"""Readable reports of metrics: the table the `evaluate` binary prints and the summary the
`train` binary ends with.

    >>> print(metrics_table({"test": {"accuracy": 0.98125, "loss": 0.0712}}))
    split  accuracy    loss
    test     0.9812  0.0712
"""

from __future__ import annotations

from typing import Any, Mapping


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per split, one column per metric name (sorted), numbers right-aligned."""
    names = sorted({name for values in metrics.values() for name in values})
    rows = [["split", *names]]
    for split, values in metrics.items():
        rows.append([split, *(_cell(values[name]) if name in values else "-" for name in names)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def training_summary(metrics: Mapping[str, Any], stop_reason: str | None, best_step: int | None) -> str:
    """What the `train` binary prints at the end: why training stopped, the step whose model is
    kept, and the final metrics as a table."""
    splits = {split: values for split, values in metrics.items() if isinstance(values, Mapping)}
    lines = ["training finished: " + (stop_reason or "ran every epoch")]
    step = metrics.get("step")
    if best_step is not None:
        lines.append(f"kept the model of step {best_step} (best validation)" + (f"; last step {step}" if step is not None and step != best_step else ""))
    elif step is not None:
        lines.append(f"kept the model of step {step}")
    if splits:
        lines.append("final metrics:")
        lines.append(metrics_table(splits))
    return "\n".join(lines)
