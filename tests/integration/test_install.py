"""`akernel-gateway install` writes kernelspecs Jupyter can start."""

import json
import subprocess

import pytest

from conftest import GATEWAY


@pytest.mark.parametrize("mode, name", [
    ("", "akernel"),
    ("concurrent", "akernel-concurrent"),
    ("concurrent-multi", "akernel-multi-concurrent"),  # canonical order
    ("react-cache-concurrent-multi", "akernel-cache-multi-react-concurrent"),
])
def test_install_writes_kernelspec(tmp_path, mode, name):
    proc = subprocess.run([str(GATEWAY), "install", *([mode] if mode else []), "--prefix", str(tmp_path)],
                          capture_output=True, text=True, timeout=30, check=True)
    spec_file = tmp_path / "share" / "jupyter" / "kernels" / name / "kernel.json"
    assert str(spec_file.parent) in proc.stdout
    spec = json.loads(spec_file.read_text())
    expected_mode = [name.split("-", 1)[1]] if "-" in name else []
    assert spec["argv"] == [str(GATEWAY), "launch", *expected_mode, "-f", "{connection_file}"]
    assert spec["language"] == "python"
    assert spec["interrupt_mode"] == "message"


def test_install_user_dir(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    subprocess.run([str(GATEWAY), "install", "multi", "--user"], env=env, check=True, timeout=30,
                   stdout=subprocess.DEVNULL)
    assert (tmp_path / "data" / "kernels" / "akernel-multi" / "kernel.json").exists()


def test_install_rejects_unknown_mode(tmp_path):
    proc = subprocess.run([str(GATEWAY), "install", "turbo", "--prefix", str(tmp_path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "turbo" in proc.stderr


@pytest.mark.parametrize("argv", [["attach", "--help"], ["attach", "-x", "-f", "f"], ["attach"],
                                  ["status", "--help"], ["install", "--help"], ["cache", "--help"],
                                  ["launch", "--no-such-option"]])
def test_bad_options_print_usage_and_exit(argv):
    """Every command answers an unknown option with its usage, at once."""
    done = subprocess.run([str(GATEWAY), *argv], capture_output=True, text=True, timeout=10)
    assert done.returncode == 2, (argv, done)
    assert "usage" in done.stderr.lower(), (argv, done.stderr)
