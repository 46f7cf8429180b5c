"""The command frame: help, version, info, start-up without heavy imports, error handling."""

import json
import subprocess
import sys

import pytest

from her2net.cli.main import SUBCOMMANDS, main


def _run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "her2net", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def test_help_lists_every_subcommand_and_imports_no_torch():
    result = _run("--help", env={"PYTHONPROFILEIMPORTTIME": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "her2net" in imported
    assert not imported & {"torch", "lightning", "albumentations"}


def test_version(capsys):
    from her2net import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_info_json_reports_versions_devices_and_checkpoint(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"]
    assert info["devices"]["cuda_available"] in (True, False)
    assert info["checkpoint"]["path"].endswith("her2net-v1.pt")


def test_info_on_a_bad_checkpoint_says_why(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["info", "--json", "--checkpoint", str(bad)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and "bad.pt: not a" in err[0]


def test_unknown_option_is_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["info", "--no-such-option"])
    assert info.value.code == 2


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: her2net" in capsys.readouterr().out


def test_info_on_a_missing_checkpoint_is_an_error(tmp_path, capsys):
    assert main(["info", "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.pt: no such checkpoint file" in err[0]
