"""Finding lmplz and build_binary: KENLM_BIN, PATH, the build cache, and a clear error without a toolchain."""

import os
import stat

import pytest

from stages.perplexity import kenlm_tools
from stages.perplexity.kenlm_tools import APT_LINE, KenLMToolsError, cache_dir, find_tools


def fake_tools(directory, names=("lmplz", "build_binary")):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No KENLM_BIN, an empty PATH and an empty cache."""
    monkeypatch.delenv("KENLM_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setenv("CORPUSFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_kenlm_bin_wins_and_must_hold_both(isolated, monkeypatch):
    good = fake_tools(isolated / "kenlm")
    monkeypatch.setenv("KENLM_BIN", str(good))
    assert find_tools() == {"lmplz": good / "lmplz", "build_binary": good / "build_binary"}
    half = fake_tools(isolated / "half", ["lmplz"])
    monkeypatch.setenv("KENLM_BIN", str(half))
    with pytest.raises(KenLMToolsError, match="KENLM_BIN"):
        find_tools()


def test_path_then_cache(isolated, monkeypatch):
    on_path = fake_tools(isolated / "bin")
    monkeypatch.setenv("PATH", str(on_path))
    assert find_tools()["lmplz"] == on_path / "lmplz"
    monkeypatch.setenv("PATH", str(isolated / "nothing"))
    assert cache_dir() == isolated / "cache" / "kenlm" / kenlm_tools.KENLM_VERSION
    cached = fake_tools(cache_dir() / "bin")
    assert find_tools(build=False)["build_binary"] == cached / "build_binary"


def test_no_tools_and_no_toolchain_names_the_apt_line(isolated):
    with pytest.raises(KenLMToolsError, match="not on KENLM_BIN, PATH"):
        find_tools(build=False)
    # PATH is empty: no cmake, make or compiler, so the build stops before downloading anything.
    with pytest.raises(KenLMToolsError) as error:
        find_tools()
    assert APT_LINE in str(error.value) and "cmake" in str(error.value)
    assert "libboost-program-options-dev" in APT_LINE and APT_LINE.startswith("apt-get install -y --no-install-recommends")
    assert not (cache_dir() / "bin").exists()


def test_the_real_tools_run():
    # The project's scripts/test finds or builds them before the suite starts.
    import subprocess

    tools = find_tools(build=False)
    for path in tools.values():
        assert os.access(path, os.X_OK)
    result = subprocess.run([str(tools["lmplz"]), "--help"], capture_output=True, text=True)
    assert "lmplz" in result.stderr + result.stdout or "Kneser" in result.stderr + result.stdout


def test_install_script_installs_the_same_packages():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / "scripts" / "install").read_text()
    line = next(x for x in script.splitlines() if x.startswith("KENLM_APT="))
    assert line.split("=", 1)[1].strip('"').split() == list(kenlm_tools.APT_PACKAGES)
