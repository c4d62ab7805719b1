"""Tests for formed.core._random."""

import threading

import jax
import pytest
from flax import nnx

from formed.core._random import require_rngs, resolve_rngs, use_rngs


def test_require_rngs_outside_a_context_explains_what_to_do():
    with pytest.raises(RuntimeError, match="use_rngs"):
        require_rngs()


def test_use_rngs_with_a_seed_is_deterministic():
    with use_rngs(3) as rngs:
        assert require_rngs() is rngs
        first = jax.random.key_data(rngs.params())
    with use_rngs(3) as rngs:
        second = jax.random.key_data(rngs.params())
    assert (first == second).all()


def test_use_rngs_accepts_an_existing_rngs_and_restores_the_previous():
    outer = nnx.Rngs(1)
    inner = nnx.Rngs(2)
    with use_rngs(outer):
        with use_rngs(inner):
            assert require_rngs() is inner
        assert require_rngs() is outer
    with pytest.raises(RuntimeError):
        require_rngs()


def test_use_rngs_without_argument_keeps_the_current_or_defaults():
    outer = nnx.Rngs(5)
    with use_rngs(outer):
        with use_rngs() as rngs:
            assert rngs is outer
    with use_rngs() as rngs:
        assert isinstance(rngs, nnx.Rngs)


def test_context_does_not_leak_into_other_threads():
    seen = []
    with use_rngs(0):
        thread = threading.Thread(target=lambda: seen.append(_has_rngs()))
        thread.start()
        thread.join()
    assert seen == [False]


def _has_rngs() -> bool:
    try:
        require_rngs()
        return True
    except RuntimeError:
        return False


def test_resolve_rngs():
    assert isinstance(resolve_rngs(0), nnx.Rngs)
    existing = nnx.Rngs(0)
    assert resolve_rngs(existing) is existing
    with use_rngs(existing):
        assert resolve_rngs(None) is existing
    with pytest.raises(TypeError):
        resolve_rngs(True)
