"""Tests for formed.core._config.from_config: building, and errors that name the key path."""

from __future__ import annotations

import abc
from typing import Callable, Literal, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import pytest

from formed.core._config import ConfigurationError, from_config, register_builder
from formed.core._registrable import Registrable


class Encoder(Registrable, abc.ABC):
    @abc.abstractmethod
    def size(self) -> int: ...


@Encoder.register("lstm")
class LSTM(Encoder):
    def __init__(self, features: int, bidirectional: bool = False, dropout: float = 0.0) -> None:
        self.features = features
        self.bidirectional = bidirectional
        self.dropout = dropout

    def size(self) -> int:
        return self.features * (2 if self.bidirectional else 1)


@Encoder.register("stack")
class Stack(Encoder):
    def __init__(self, layers: list[Encoder]) -> None:
        self.layers = layers

    def size(self) -> int:
        return self.layers[-1].size()


class Pooler(Registrable):
    default_implementation = "mean"


@Pooler.register("mean")
class MeanPooler(Pooler):
    def __init__(self, normalize: bool = False) -> None:
        self.normalize = normalize


class Model:
    def __init__(
        self,
        encoder: Encoder,
        pooler: Optional[Pooler] = None,
        heads: Mapping[str, Encoder] = {},
        sizes: tuple[int, int] = (1, 2),
        mode: Literal["fast", "slow"] = "fast",
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        names: Sequence[str] = (),
        weights: jax.Array | None = None,
        threshold: float | int = 0.5,
    ) -> None:
        self.encoder = encoder
        self.pooler = pooler
        self.heads = heads
        self.sizes = sizes
        self.mode = mode
        self.activation = activation
        self.names = names
        self.weights = weights
        self.threshold = threshold


def test_builds_a_registered_subclass_from_type():
    encoder = from_config(Encoder, {"type": "lstm", "features": 8, "bidirectional": True})
    assert isinstance(encoder, LSTM)
    assert encoder.size() == 16


def test_builds_nested_components_recursively():
    model = from_config(
        Model,
        {
            "encoder": {"type": "stack", "layers": [{"type": "lstm", "features": 3}, {"type": "lstm", "features": 5}]},
            "pooler": {"normalize": True},
            "heads": {"a": {"type": "lstm", "features": 2}},
            "sizes": [3, 4],
            "mode": "slow",
            "activation": "gelu",
            "names": ["x", "y"],
            "weights": [1.0, 2.0],
        },
    )
    assert isinstance(model.encoder, Stack) and model.encoder.size() == 5
    assert isinstance(model.pooler, MeanPooler) and model.pooler.normalize  # default implementation
    assert isinstance(model.heads["a"], LSTM)
    assert model.sizes == (3, 4)
    assert model.mode == "slow"
    assert model.activation is jax.nn.gelu
    assert list(model.names) == ["x", "y"]
    assert isinstance(model.weights, jax.Array) and jnp.allclose(model.weights, jnp.array([1.0, 2.0]))


def test_accepts_ml_collections_config_dict():
    config = ml_collections.ConfigDict({"encoder": {"type": "lstm", "features": 4}, "pooler": None})
    model = from_config(Model, config)
    assert isinstance(model.encoder, LSTM) and model.encoder.features == 4
    assert model.pooler is None


def test_int_is_accepted_for_float_and_objects_pass_through():
    encoder = LSTM(features=2)
    model = from_config(Model, {"encoder": encoder, "threshold": 1})
    assert model.encoder is encoder
    assert model.threshold == 1


def test_module_colon_class_type():
    encoder = from_config(Encoder, {"type": f"{__name__}:LSTM", "features": 2})
    assert isinstance(encoder, LSTM)


def test_unknown_type_lists_names_and_suggests_the_closest():
    with pytest.raises(ConfigurationError) as error:
        from_config(Model, {"encoder": {"type": "lstmm", "features": 2}}, path="model")
    message = str(error.value)
    assert message.startswith("model.encoder.type: unknown 'lstmm'; did you mean 'lstm'?")
    assert "lstm, stack" in message
    assert error.value.path == "model.encoder.type"


def test_missing_required_argument_is_named_with_its_path():
    with pytest.raises(ConfigurationError, match=r"^encoder\.layers\[1\]\.features: missing required argument 'features'"):
        from_config(Model, {"encoder": {"type": "stack", "layers": [{"type": "lstm", "features": 1}, {"type": "lstm"}]}})


def test_unexpected_key_is_named_with_a_suggestion():
    with pytest.raises(ConfigurationError) as error:
        from_config(Encoder, {"type": "lstm", "features": 1, "bidirectinal": True}, path="model.encoder")
    assert str(error.value).startswith("model.encoder.bidirectinal: unexpected key 'bidirectinal' for LSTM; did you mean 'bidirectional'?")


def test_wrong_value_type_says_what_was_expected():
    with pytest.raises(ConfigurationError, match=r"^encoder\.features: expected int, got str 'eight'"):
        from_config(Model, {"encoder": {"type": "lstm", "features": "eight"}})


def test_bool_is_not_an_int():
    with pytest.raises(ConfigurationError, match="expected int, got bool"):
        from_config(Encoder, {"type": "lstm", "features": True})


def test_literal_rejects_other_values():
    with pytest.raises(ConfigurationError, match=r"^mode: expected one of \['fast', 'slow'\]"):
        from_config(Model, {"encoder": {"type": "lstm", "features": 1}, "mode": "medium"})


def test_abstract_base_without_type_is_an_error():
    with pytest.raises(ConfigurationError, match="Encoder is abstract: give a 'type' key"):
        from_config(Model, {"encoder": {"features": 1}})


def test_tuple_of_fixed_length_is_checked():
    with pytest.raises(ConfigurationError, match=r"^sizes: expected 2 items, got 3"):
        from_config(Model, {"encoder": {"type": "lstm", "features": 1}, "sizes": [1, 2, 3]})


def test_list_where_mapping_expected():
    with pytest.raises(ConfigurationError, match=r"^heads: expected a mapping"):
        from_config(Model, {"encoder": {"type": "lstm", "features": 1}, "heads": [1]})


def test_unknown_activation_is_named():
    with pytest.raises(ConfigurationError, match=r"^activation: jax.nn has no function unknown 'gelux'; did you mean 'gelu'"):
        from_config(Model, {"encoder": {"type": "lstm", "features": 1}, "activation": "gelux"})


def test_none_for_required_component_is_an_error():
    with pytest.raises(ConfigurationError, match=r"^encoder: expected Encoder, got None"):
        from_config(Model, {"encoder": None})


def test_constructor_errors_are_wrapped_with_the_path():
    class Picky:
        def __init__(self, value: int) -> None:
            if value < 0:
                raise ValueError("value must be >= 0")

    with pytest.raises(ConfigurationError, match=r"^x: Picky\(\.\.\.\) failed: value must be >= 0"):
        from_config(Picky, {"value": -1}, path="x")


def test_type_key_on_a_plain_class_is_an_error():
    with pytest.raises(ConfigurationError, match="not registrable"):
        from_config(Model, {"type": "model", "encoder": {"type": "lstm", "features": 1}})


class Opaque:
    def __init__(self, name: str) -> None:
        self.name = name


class Holder:
    def __init__(self, thing: Opaque) -> None:
        self.thing = thing


def test_register_builder_handles_library_types():
    register_builder(lambda annotation: annotation is Opaque, lambda annotation, value, path: Opaque(value.upper()))
    assert from_config(Holder, {"thing": "abc"}).thing.name == "ABC"


class Vectorizer:
    def __init__(self, pooling: Literal["mean", "max"] | Sequence[Literal["mean", "max"]] = "mean") -> None:
        self.pooling = pooling


def test_a_string_is_never_taken_for_a_list():
    assert from_config(Vectorizer, {"pooling": "max"}).pooling == "max"
    assert from_config(Vectorizer, {"pooling": ["max", "mean"]}).pooling == ["max", "mean"]
    with pytest.raises(ConfigurationError, match=r"^pooling: expected"):
        from_config(Vectorizer, {"pooling": "median"})
