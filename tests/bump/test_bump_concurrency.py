"""Concurrent bumps of one file lose nothing (flock on the file, re-read under the lock)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import yaml

from bump_samples import hunks, many_apps
from cmp_plugin.bump import EXIT_REFUSED, BumpError, bump_file
from cmp_plugin.pipeline import validate_text

REPO = Path(__file__).resolve().parents[2]
N = 8


def sha(i: int, round_: int = 0) -> str:
    return f"{round_:02x}{i:02x}".ljust(40, "a")


def check_all_bumped(path: Path, original: str, round_: int, pushed: str | None = None) -> None:
    text = path.read_text()
    assert validate_text(text, str(path)) == []
    data = yaml.safe_load(text)
    assert [a["git"]["hash"] for a in data["applications"]] == [sha(i, round_) for i in range(N)]
    if pushed:
        assert {a["git"]["pushedAt"] for a in data["applications"]} == {pushed}
    changed = hunks(original, text)
    assert sum(len(new) for _, new in changed) == N * (2 if pushed else 1)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp or lock file left


def test_eight_processes_bump_eight_apps_at_once(tmp_path):
    path = tmp_path / "shop.yaml"
    original = many_apps(N)
    path.write_text(original)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-m", "cmp_plugin.bump", str(path), f"app{i}", sha(i),
                               "--pushed-at", "2026-11-27T03:04:05Z"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(N)]
    results = [(p.wait(60), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * N
    check_all_bumped(path, original, 0, "2026-11-27T03:04:05Z")


def _bump_after_barrier(barrier, path: str, app: str, new_sha: str, pushed: str | None, queue) -> None:
    barrier.wait()
    try:
        bump_file(path, app, new_sha, pushed_at=pushed)
        queue.put((app, new_sha, 0))
    except BumpError as exc:
        queue.put((app, new_sha, exc.code))


def _race(path: Path, jobs: list[tuple[str, str, str | None]]) -> list[tuple[str, str, int]]:
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(len(jobs)), ctx.Queue()
    procs = [ctx.Process(target=_bump_after_barrier, args=(barrier, str(path), app, s, pushed, queue))
             for app, s, pushed in jobs]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    return results


def test_released_together_three_rounds(tmp_path):
    """All processes released by one barrier, so they really do collide on the lock."""
    path = tmp_path / "shop.yaml"
    original = many_apps(N)
    path.write_text(original)
    for round_ in range(3):
        results = _race(path, [(f"app{i}", sha(i, round_), None) for i in range(N)])
        assert sorted(code for *_, code in results) == [0] * N
        check_all_bumped(path, original, round_)


def test_one_app_many_builds_at_once_ends_at_the_newest(tmp_path):
    """Eight builds of one app finish together: whatever the order, the newest push wins."""
    path = tmp_path / "shop.yaml"
    path.write_text(many_apps(2))
    jobs = [("app1", sha(i), f"2026-11-27T03:04:{10 + i:02d}Z") for i in range(N)]
    results = _race(path, jobs[::-1])
    assert {code for *_, code in results} <= {0, EXIT_REFUSED}
    git = yaml.safe_load(path.read_text())["applications"][1]["git"]
    assert (git["hash"], git["pushedAt"]) == (sha(N - 1), f"2026-11-27T03:04:{10 + N - 1:02d}Z")
    assert validate_text(path.read_text(), str(path)) == []
