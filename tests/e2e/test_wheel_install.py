"""The built wheel, installed into a fresh venv, runs ``edge demo`` and ``edge init`` anywhere.

What a new user does: build the distribution, install it (not editable),
then run the command from some other directory. The checkout must play no
part once the wheel is built:

* the wheel is built from a copy of the source tree (setuptools writes
  ``build/`` and ``*.egg-info`` beside the sources; the copy keeps the
  checkout untouched and parallel runs apart), with ``pip wheel --no-deps``
  and pip's usual build isolation, exactly as ``pip install .`` builds it;
* the venv is made with ``--without-pip`` and the wheel installed into it by
  the running pip (``pip --python VENV/bin/python install --no-deps
  --no-index``): nothing is fetched, and the console script is generated as
  for a user;
* the dependencies (SQLAlchemy, paho-mqtt, evdev, ...) come from the
  environment running the tests, through a ``.pth`` file in the new venv
  listing that environment's site directories. ``--system-site-packages``
  would only reach the base interpreter's, not a venv's, and downloading or
  rebuilding the dependencies (evdev compiles from source) would make the
  test slow and need the network. A ``.pth`` line only appends a directory to
  ``sys.path`` after the venv's own site-packages, and ``.pth`` files inside
  that directory are not run, so an editable install of the checkout there
  does not come back in: the test proves it by asking the venv's Python
  where ``edge`` was imported from;
* every command runs in a temporary directory, with ``PYTHONPATH`` and
  ``EDGE_CONFIG`` removed from the environment.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Left out of the copy: environments, caches and build output of the checkout.
NOT_SOURCES = shutil.ignore_patterns(
    ".venv",
    ".git",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
)
CEILING_S = 300  # a hung build or command, not a speed requirement
DEPLOY_FILES = ("edge.toml", "backflush-edge.service", "99-backflush-edge-scanners.rules")


def _run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=CEILING_S, check=False
    )
    assert result.returncode == 0, (
        f"{args} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _site_dirs() -> list[str]:
    """Where the running environment keeps its installed packages (the dependencies)."""
    candidates = [*site.getsitepackages(), site.getusersitepackages()]
    return [path for path in dict.fromkeys(candidates) if Path(path).is_dir()]


def _install(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources and install it into a new venv; its root."""
    sources = tmp_path / "sources"
    shutil.copytree(REPO, sources, ignore=NOT_SOURCES)
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), "."],
        cwd=sources,
    )
    (wheel,) = wheels.glob("backflush_edge-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    _run([*pip, "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
    ).stdout.strip()
    (Path(purelib) / "zz-test-dependencies.pth").write_text("\n".join(_site_dirs()) + "\n")
    return venv


@pytest.mark.skipif(sys.platform != "linux", reason="the demo's virtual scanners are ptys")
def test_the_wheel_runs_demo_and_init_from_any_directory(tmp_path: Path) -> None:
    venv = _install(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "EDGE_CONFIG"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    edge = str(venv / "bin" / "edge")

    # The package is the installed wheel's, not the checkout's.
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import edge; print(edge.__file__)"],
        cwd=elsewhere,
        env=env,
    ).stdout.strip()
    installed = Path(where).resolve().parent
    assert installed.is_relative_to(venv.resolve()), where
    assert not installed.is_relative_to(REPO), where

    demo = _run([edge, "demo"], cwd=elsewhere, env=env)
    assert f"Importing demo data from {installed / 'demo' / 'data'}" in demo.stdout
    assert "== Stock (`edge stock`) ==" in demo.stdout
    assert "FG-PUMP-100" in demo.stdout
    # cards.csv is package data too: the kanban part's cards are loaded and shown.
    assert "cards.csv: 2 kanban cards: 2 added, 0 updated" in demo.stdout
    assert "== Kanban cards (`edge cards`) ==" in demo.stdout
    assert "events are waiting to be published under backflush/demo-plant/demo-edge" in demo.stdout

    init = _run([edge, "init", "plant"], cwd=elsewhere, env=env)
    config = elsewhere / "plant" / "edge.toml"
    assert f"wrote {config}" in init.stdout
    assert f'path = "{elsewhere / "plant" / "edge.db"}"' in config.read_text(encoding="utf-8")
    _run([edge, "check-config", "--config", str(config)], cwd=elsewhere, env=env)
    # Each packaged file is printed, lies inside the installed package and is the one we ship.
    for name in DEPLOY_FILES:
        shipped = installed / "deploy" / name
        assert str(shipped) in init.stdout, init.stdout
        assert shipped.read_bytes() == (REPO / "edge" / "deploy" / name).read_bytes()
    assert not (elsewhere / "plant" / "edge.db").exists()  # init writes a config, nothing else
