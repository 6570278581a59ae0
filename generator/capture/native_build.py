"""Build a C source file of this package into a shared library once per machine, and load it.

The CPU attention kernel is plain C (no Python or torch headers), so it compiles in about a
second with the machine's own compiler, tuned for its CPU (``-march=native``). Libraries are
cached under ``$XDG_CACHE_HOME/attention-atlas`` (``~/.cache`` by default), keyed by a hash of
the source, the flags, the compiler and the CPU, and written to a temporary name then renamed,
so two processes building at once never load a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=gnu11")


class BuildError(RuntimeError):
    """No compiler, or the compiler refused the source: the message says which and why."""


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "attention-atlas"


def compiler() -> str:
    """The C compiler to use: ``$CC``, else the first of cc / gcc / clang on the PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise BuildError("no C compiler found (set CC, or install gcc)")


def _cpu_signature() -> str:
    """What -march=native depends on: the CPU model and its flags (Linux), else the platform."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() + platform.machine()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "".join(line for line in text.splitlines()[:40] if line.split(":")[0].strip() in wanted)


def build(source: Path) -> Path:
    """The shared library built from ``source`` (built now if not cached); raises BuildError."""
    cc = compiler()
    key = hashlib.sha256()
    for part in (source.read_bytes(), " ".join(FLAGS).encode(), cc.encode(), _cpu_signature().encode()):
        key.update(part)
    target = cache_dir() / f"{source.stem}-{key.hexdigest()[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(handle)
    try:
        result = subprocess.run([cc, *FLAGS, str(source), "-o", temporary, "-lm"], capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"{cc} could not build {source.name}: {result.stderr.strip()[-2000:]}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def load(source: Path) -> ctypes.CDLL:
    """Build (if needed) and load ``source`` as a ctypes library."""
    return ctypes.CDLL(str(build(source)))
