"""benchmarks/gpu.py runs every GPU benchmark; here, in its dry mode (toy sizes on the CPU), that each still runs."""

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_every_gpu_benchmark_runs_in_the_dry_mode():
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks/gpu.py"), "--dry", "--budget", "600"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.split("\n### ")[0]
    for name in ("capture", "generation", "interventions", "mechanism", "ablation"):
        assert f"| {name} | " in summary and f"### {name} (ok)" in done.stdout, name
    assert "DRY RUN" in done.stdout


def test_without_a_gpu_the_full_run_says_so():
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the full run would start")
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks/gpu.py")], capture_output=True, text=True)
    assert done.returncode == 2 and "no CUDA device here; --dry" in done.stderr
