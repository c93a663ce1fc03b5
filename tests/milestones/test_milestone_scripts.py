"""Milestone scripts run directly: --quick meets the criterion and ends with one JSON line.

Also the shared plumbing in milestones/common.py: options, progress output, sparkline, plot
fallback and the result line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MILESTONES = sorted(p.parent for p in (ROOT / "milestones").glob("*/milestone.yaml"))
RESULT_KEYS = {"passed", "final_loss", "accuracy", "seconds"}
# The models are tiny: BLAS threads only add contention on a busy CI machine.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def load_common():
    spec = importlib.util.spec_from_file_location("milestone_common", ROOT / "milestones/common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = load_common()


def spec_of(folder: Path) -> dict:
    return yaml.safe_load((folder / "milestone.yaml").read_text())


def run(folder: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    script = folder / spec_of(folder)["script"]
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def result_line(done: subprocess.CompletedProcess) -> dict:
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert RESULT_KEYS <= result.keys(), result
    return result


@pytest.mark.parametrize("folder", MILESTONES, ids=[p.name for p in MILESTONES])
def test_milestone_yaml_is_complete(folder):
    spec = spec_of(folder)
    fields = {"id", "title", "year", "requires", "script", "description", "criterion"}
    assert fields <= spec.keys(), fields - spec.keys()
    assert spec["id"] == folder.name and (folder / spec["script"]).is_file()
    for module_id in spec["requires"]:
        assert (ROOT / "modules" / module_id / "module.yaml").is_file(), module_id


# Each milestone's full --quick run is tests/e2e/test_course.py::test_every_milestone_passes_quick
# (marked slow), on the package a fresh course exports: one run per milestone in CI.


def test_a_run_that_misses_the_criterion_exits_1():
    done = run(ROOT / "milestones/xor", "--steps", "1")
    assert done.returncode == 1, done.stderr[-2000:]
    assert result_line(done)["passed"] is False


def test_script_finds_the_course_from_another_directory(tmp_path):
    done = run(ROOT / "milestones/perceptron", "--quick", "--plot", "loss.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in done.stdout
    else:
        assert (tmp_path / "loss.png").stat().st_size > 0


def test_unknown_option_is_a_usage_error():
    done = run(ROOT / "milestones/perceptron", "--no-such-option")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def test_parse_args_defaults_and_quick(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["x"])
    args = common.parse_args("demo", default_steps=50, quick_steps=5)
    assert (args.quick, args.seed, args.steps, args.plot) == (False, 0, 50, None)
    monkeypatch.setattr(sys, "argv", ["x", "--quick", "--seed", "3"])
    assert common.parse_args("demo", 50, 5).steps == 5
    monkeypatch.setattr(sys, "argv", ["x", "--quick", "--steps", "7"])
    assert common.parse_args("demo", 50, 5).steps == 7
    monkeypatch.setattr(sys, "argv", ["x", "--steps", "0"])
    with pytest.raises(SystemExit) as exit_info:
        common.parse_args("demo", 50, 5)
    assert exit_info.value.code == 2


def test_progress_bar_without_a_terminal_prints_about_every_tenth(capsys):
    bar = common.ProgressBar(50, "train")
    for step in range(50):
        bar.update(loss=1.0 / (step + 1))
    bar.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert 9 <= len(lines) <= 11 and lines[-1].startswith("train: 50/50 loss=0.0200")


def test_sparkline_shape():
    line = common.sparkline([10, 5, 2.5, 1.25, 0.6], width=40)
    assert line[0] == "█" and line[-1] == "▁" and len(line) == 5
    assert len(common.sparkline(range(1000), width=40)) == 40
    assert common.sparkline([]) == "" and common.sparkline([float("nan")]) == ""
    assert set(common.sparkline([1.0, 1.0, 1.0])) == {"▁"}


def test_plot_without_matplotlib_says_so_and_continues(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    common.plot_losses(tmp_path / "loss.png", [1.0, 0.5], "title")
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "loss.png").exists()


def test_finish_prints_one_json_line_and_sets_the_exit_code(capsys):
    import numpy as np

    with pytest.raises(SystemExit) as exit_info:
        common.finish(
            {"passed": np.bool_(True), "final_loss": np.float32(0.5), "accuracy": 1.0, "seconds": 2}
        )
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == {"passed": True, "final_loss": 0.5, "accuracy": 1.0, "seconds": 2}
    with pytest.raises(SystemExit) as exit_info:
        common.finish({"passed": False, "final_loss": float("nan"), "accuracy": 0, "seconds": 1})
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["final_loss"] is None
    with pytest.raises(ValueError, match="accuracy"):
        common.finish({"passed": True, "final_loss": 0.1, "seconds": 1})
