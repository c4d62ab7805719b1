"""`StopEarly`: the exception a callback raises to end training before `max_epochs`."""


class StopEarly(Exception):
    """Raised (usually by a callback) to stop training early.

    `FlaxTrainer.train` catches it, skips the rest of the loop, still runs every callback's
    ``on_training_end`` and returns the final state.
    """
