"""Exceptions of the training loop: `StopEarly` ends training on purpose, `NonFiniteLossError`
ends it because the loss diverged."""


class StopEarly(Exception):
    """Raised (usually by a callback) to stop training early.

    `FlaxTrainer.train` catches it, skips the rest of the loop, still runs every callback's
    ``on_training_end`` and returns the final state.
    """


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stops at the next point where the host
    reads device values (a log, an evaluation, a checkpoint or the end of training).

    Attributes:
        step: the first step (1-based, counted over the whole run) whose loss was not finite.
        epoch: the epoch (1-based) of that step.

    >>> str(NonFiniteLossError(step=3, epoch=1))
    'the training loss is not finite (NaN or infinite) at step 3 (epoch 1); lower trainer.engine.optimizer.learning_rate (or clip the gradients) and train again'
    """

    def __init__(self, step: int, epoch: int, what: str = "the training loss") -> None:
        self.step, self.epoch = step, epoch
        at = f"step {step} (epoch {epoch})" if epoch else f"step {step}"
        super().__init__(
            f"{what} is not finite (NaN or infinite) at {at}; "
            "lower trainer.engine.optimizer.learning_rate (or clip the gradients) and train again"
        )
