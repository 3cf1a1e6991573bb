"""KenLM's `lmplz` and `build_binary`: found on `KENLM_BIN` or PATH, or built once and cached.

The kenlm wheel on PyPI queries models but does not ship the estimation tools. Failing
`KENLM_BIN` (a directory holding both) and PATH, they are built from the kenlm source
distribution on the package index (the version pinned below) with cmake, Boost, zlib, bzip2
and xz, only those two targets, and cached in `~/.cache/corpusforge/kenlm/<version>/bin`
(`$XDG_CACHE_HOME` and `$CORPUSFORGE_CACHE` move it). A build takes a few minutes on two
cores, once per machine. `python -m stages.perplexity.kenlm_tools` finds or builds them and
prints where they are.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TOOLS = ("lmplz", "build_binary")
KENLM_VERSION = "0.3.0"
# What the build needs on Debian/Ubuntu (kenlm's CMakeLists asks for these Boost components).
APT_PACKAGES = (
    "build-essential", "cmake", "libboost-program-options-dev", "libboost-system-dev",
    "libboost-thread-dev", "libboost-test-dev", "zlib1g-dev", "libbz2-dev", "liblzma-dev",
)  # fmt: skip
APT_LINE = "apt-get install -y --no-install-recommends " + " ".join(APT_PACKAGES)


class KenLMToolsError(RuntimeError):
    """lmplz/build_binary are neither installed nor buildable here."""


def cache_dir() -> Path:
    root = os.environ.get("CORPUSFORGE_CACHE")
    if not root:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "corpusforge")
    return Path(root) / "kenlm" / KENLM_VERSION


def _complete(directory: Path) -> dict[str, Path] | None:
    paths = {tool: directory / tool for tool in TOOLS}
    return paths if all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()) else None


def find_tools(build: bool = True) -> dict[str, Path]:
    """Paths of lmplz and build_binary; builds and caches them when nothing else has them."""
    env = os.environ.get("KENLM_BIN")
    if env:
        found = _complete(Path(env))
        if found is None:
            raise KenLMToolsError(f"KENLM_BIN={env} does not hold executable {' and '.join(TOOLS)}")
        return found
    on_path = {tool: shutil.which(tool) for tool in TOOLS}
    if all(on_path.values()):
        return {tool: Path(p) for tool, p in on_path.items()}
    bin_dir = cache_dir() / "bin"
    found = _complete(bin_dir)
    if found is not None:
        return found
    if not build:
        raise KenLMToolsError(f"KenLM's {' and '.join(TOOLS)} are not on KENLM_BIN, PATH or in {bin_dir}")
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(bin_dir.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building them right now
        found = _complete(bin_dir)
        if found is None:
            build_tools(bin_dir)
            found = _complete(bin_dir)
    assert found is not None
    return found


def _missing_toolchain() -> list[str]:
    missing = [tool for tool in ("cmake", "make") if shutil.which(tool) is None]
    if shutil.which("c++") is None and shutil.which("g++") is None:
        missing.append("a C++ compiler")
    return missing


def _fail(what: str, log: str = "") -> KenLMToolsError:
    tail = "\n".join(log.strip().splitlines()[-15:])
    return KenLMToolsError(
        f"cannot build KenLM's lmplz and build_binary: {what}. Install the toolchain with\n  {APT_LINE}\n"
        f"or put both tools on PATH, or point KENLM_BIN at a directory holding them."
        + (f"\n--- last lines of the build output ---\n{tail}" if tail else "")
    )


def _run(command: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise _fail(what, result.stdout + result.stderr)


def build_tools(bin_dir: Path) -> None:
    """Download kenlm's sdist through pip, build lmplz and build_binary, install them in `bin_dir`."""
    missing = _missing_toolchain()
    if missing:
        raise _fail(f"{', '.join(missing)} not found")
    print(f"corpusforge: building KenLM {KENLM_VERSION} lmplz and build_binary into {bin_dir} (once; a few minutes)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="kenlm-build-") as tmp:
        work = Path(tmp)
        # No build isolation: preparing the sdist's metadata must not build its build
        # requirements (cmake) from source.
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "kenlm", "--no-build-isolation",
              "-q", "-d", str(work), f"kenlm=={KENLM_VERSION}"], work, "pip could not download the kenlm source distribution")
        (archive,) = work.glob("kenlm-*.tar.gz")
        with tarfile.open(archive) as tar:
            # The "data" filter (Python >= 3.11.4) refuses links and paths leaving `work`.
            tar.extractall(work, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        source = next(p for p in work.iterdir() if p.is_dir() and (p / "CMakeLists.txt").exists())
        build = source / "build"
        _run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DKENLM_MAX_ORDER=6"], work,
             "cmake failed (Boost, zlib, bzip2 or xz development files missing?)")
        jobs = str(min(os.cpu_count() or 1, 4))
        _run(["make", "-C", str(build), f"-j{jobs}", *TOOLS], work, "compiling failed")
        staging = bin_dir.parent / f".bin-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for tool in TOOLS:
            shutil.copy2(build / "bin" / tool, staging / tool)
        shutil.rmtree(bin_dir, ignore_errors=True)
        os.replace(staging, bin_dir)  # complete tools appear at once


if __name__ == "__main__":
    try:
        for tool, path in find_tools().items():
            print(f"{tool}: {path}")
    except KenLMToolsError as e:
        sys.exit(f"corpusforge: {e}")
