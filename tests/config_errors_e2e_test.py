"""End to end: a mistake in a config makes the `train` binary fail before it writes anything, with
a message that names the config file and the key path and suggests the intended name."""

from __future__ import annotations

import os

import train_binary


def assert_fails_naming(result, *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in the output:\n{output}"
    assert "final metrics" not in output


def test_misspelt_registered_name(tmp_path) -> None:
    workdir = str(tmp_path / "workdir")
    flags = train_binary.tiny_flags(workdir, "--config.model.encoder.type=lstmm")
    result = train_binary.run_train(*flags, check=False)
    assert_fails_naming(
        result,
        f"{train_binary.TINY_CONFIG}: model.encoder.type: unknown 'lstmm'",
        "did you mean 'lstm'?",
        "Registered names: gru, lstm",
    )
    assert not os.path.exists(workdir)


def test_unknown_key_in_the_config_file(tmp_path) -> None:
    config = tmp_path / "misspelt_key.py"
    config.write_text(
        "from formed.training.configs import text_classifier\n"
        "\n"
        "def get_config():\n"
        "    config = text_classifier.get_config()\n"
        "    config.model.encoder = dict(type='lstm', featurs=16, bidirectional=True)\n"
        "    return config\n"
    )
    workdir = tmp_path / "workdir"
    workdir.mkdir()  # an existing (empty) work directory stays empty
    result = train_binary.run_train(*train_binary.tiny_flags(str(workdir), config=str(config)), check=False)
    assert_fails_naming(
        result, f"{config}: model.encoder.featurs: unexpected key 'featurs'", "did you mean 'features'?"
    )
    assert os.listdir(workdir) == []


def test_unknown_key_in_a_command_line_override(tmp_path) -> None:
    workdir = str(tmp_path / "workdir")
    flags = train_binary.tiny_flags(workdir, "--config.model.encoder.featurs=32")
    result = train_binary.run_train(*flags, check=False)
    assert_fails_naming(
        result,
        f"{train_binary.TINY_CONFIG}: model.encoder.featurs: unknown key 'featurs'",
        "did you mean 'features'?",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert not os.path.exists(workdir)
