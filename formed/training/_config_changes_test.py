from formed.training._config_changes import MISSING, as_json, config_changes, describe_changes


def test_every_changed_leaf_is_listed_with_its_old_and_new_value():
    old = as_json({"seed": 0, "model": {"dropout": 0.1, "layers": (1, 2)}, "trainer": {"callbacks": [{"metric": "+accuracy"}]}})
    new = as_json({"seed": 1, "model": {"dropout": 0.1, "layers": [1, 2]}, "trainer": {"callbacks": [{"metric": "-loss"}]}, "x": 2})
    changes = config_changes(old, new)
    assert changes == [("seed", 0, 1), ("trainer.callbacks[0].metric", "+accuracy", "-loss"), ("x", MISSING, 2)]
    assert describe_changes(changes).splitlines() == [
        "  seed: 0 -> 1",
        '  trainer.callbacks[0].metric: "+accuracy" -> "-loss"',
        "  x: (not set) -> 2",
    ]
    assert config_changes(old, as_json(old)) == []


def test_objects_written_by_their_repr_differ_only_by_kind_not_by_address():
    old = {"callbacks": ["<config.KillAtStep object at 0x7f6e49da6b50>"]}
    assert config_changes(old, {"callbacks": ["<config.KillAtStep object at 0x7f62b1bbf450>"]}) == []
    assert config_changes(old, {"callbacks": ["<config.Other object at 0x7f62b1bbf450>"]}) != []
