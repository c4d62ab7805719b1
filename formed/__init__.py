"""formed: a configuration-driven framework for training JAX/Flax NNX models."""

__version__ = "0.1.0"
