"""formed: a configuration-driven framework for training JAX/Flax NNX models."""
