"""The pip path: the built wheel installed into a fresh virtualenv, used from an empty folder, no checkout.

`atlas demo` runs the installed model on the installed datasets into a report project and
builds its site; `atlas init` makes a project whose sample config runs as it is. Dependencies
come from the package index (torch pinned to the CPU build first, as the README says).
"""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TORCH = "torch==2.13.0"  # the CPU wheel; an unpinned torch would pull a CUDA build


def sh(args, cwd, env=None, timeout=1500):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_a_pip_installed_atlas_runs_the_demo_and_a_new_project_offline(tmp_path):
    wheels = tmp_path / "wheels"
    sh([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels),
        str(REPO_ROOT)], tmp_path)
    wheel = next(wheels.glob("attention_atlas-*.whl"))
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    sh([str(python), "-m", "pip", "install", "--quiet", TORCH], tmp_path)
    sh([str(python), "-m", "pip", "install", "--quiet", str(wheel)], tmp_path)
    atlas = str(tmp_path / "env" / "bin" / "atlas")
    env = {"PATH": f"{tmp_path / 'env' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    work = tmp_path / "somewhere"
    work.mkdir()

    out = sh([atlas, "demo"], work, env)
    site = work / "atlas-demo" / "site"
    assert (site / "index.html").is_file() and (site / "runs/demo/decimals/index.html").is_file()
    assert f"into {site}" in out
    assert not (site / "benchmarks").exists()  # the report's pages only, not the tool's own docs
    assert "import generator" not in out and not (work / "generator").exists()

    sh([atlas, "init", "mine"], work, env)
    sh([atlas, "run", "configs/example.yaml"], work / "mine", env)
    sh([atlas, "build"], work / "mine", env)
    assert (work / "mine" / "site/runs/example/sample/index.html").is_file()
    where = sh([str(python), "-c", "import generator, pathlib; print(pathlib.Path(generator.__file__).parent)"],
               work, env).strip()
    assert Path(where).is_relative_to(tmp_path / "env")  # the installed package ran, not the checkout
