"""The command line: exit codes, exact messages, stdout empty on failure, file untouched."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bump_samples import OLD, SEED, SHA, SHA2, SHOP, hunks
from cmp_plugin import bump
from cmp_plugin.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    """`cmp-render bump ARGV...` in this process."""
    return cli_main(["bump", *argv])
T = "2026-11-27T03:04:05Z"


def snapshot(path: Path):
    st = path.stat()
    return path.read_bytes(), st.st_ino, st.st_mtime_ns, stat.S_IMODE(st.st_mode)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run in tmp_path so messages show the relative paths the Action uses."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "projects").mkdir()
    return tmp_path


def write(workdir: Path, name: str, text: str) -> Path:
    path = workdir / "projects" / name
    path.write_bytes(text.encode("utf-8"))
    return path


# (id, file name, file text or None, argv after the file, exit code, exact stderr)
P = "projects/shop.yaml"
REJECTED = [
    ("sha-short", "shop.yaml", SHOP, ["api", "abc123"], 2,
     f"{P}: error: invalid sha 'abc123': expected a full commit id, 40 lowercase hex characters\n"),
    ("sha-uppercase", "shop.yaml", SHOP, ["api", SHA.upper()], 2,
     f"{P}: error: invalid sha '{SHA.upper()}': expected a full commit id, 40 lowercase hex characters\n"),
    ("sha-41", "shop.yaml", SHOP, ["api", SHA + "0"], 2,
     f"{P}: error: invalid sha '{SHA}0': expected a full commit id, 40 lowercase hex characters\n"),
    ("sha-newline", "shop.yaml", SHOP, ["api", SHA + "\n"], 2,
     f"{P}: error: invalid sha '{SHA}\\n': expected a full commit id, 40 lowercase hex characters\n"),
    ("sha-injection", "shop.yaml", SHOP, ["api", '"; rm -rf / #'], 2,
     f"{P}: error: invalid sha '\"; rm -rf / #': expected a full commit id, 40 lowercase hex characters\n"),
    ("pushed-at-no-zone", "shop.yaml", SHOP, ["api", SHA, "--pushed-at", "2026-11-27T03:04:05"], 2,
     f"{P}: error: invalid --pushed-at '2026-11-27T03:04:05': expected an RFC 3339 time such as "
     "2026-11-27T03:04:05Z or 2026-11-27T12:04:05+09:00\n"),
    ("pushed-at-offset-without-colon", "shop.yaml", SHOP, ["api", SHA, "--pushed-at", "2026-11-27T03:04:05+0900"], 2,
     f"{P}: error: invalid --pushed-at '2026-11-27T03:04:05+0900': expected an RFC 3339 time such as "
     "2026-11-27T03:04:05Z or 2026-11-27T12:04:05+09:00\n"),
    ("unknown-app", "shop.yaml", SHOP, ["shop", SHA], 1,
     f"{P}:4:1: error: applications: no application named 'shop' (applications: 'api', 'web', 'worker')\n"),
    ("no-applications", "shop.yaml", "databases: []\n", ["api", SHA], 1,
     f"{P}: error: applications: no application named 'api': the file has no applications\n"),
    ("duplicate-app", "shop.yaml", SEED.replace("name: frontend", "name: api"), ["api", SHA], 1,
     f"{P}:13:13: error: applications[1].name: application 'api' is defined more than once (first on line 2)\n"),
    ("duplicate-hash-key", "shop.yaml", SEED.replace("hash: ~\n      port: 8080", "hash: ~\n          hash: ~\n      port: 8080"),
     ["api", SHA], 1,
     f"{P}:9:11: error: applications[0].git.hash: duplicate key 'hash' (first defined on line 8)\n"),
    ("no-such-file", "shop.yaml", None, ["api", SHA], 1, f"{P}: error: no such file\n"),
    ("invalid-yaml", "shop.yaml", SHOP.replace("    port: 9000", "   port: 9000"), ["api", SHA], 1,
     f"{P}:32:4: error: YAML syntax: while parsing a block collection, did not find expected '-' indicator\n"),
    ("two-documents", "shop.yaml", SEED + "---\n{}\n", ["api", SHA], 1,
     f"{P}:31:1: error: YAML syntax: expected one YAML document, found more\n"),
    ("not-utf8", "shop.yaml", "applications: []\n# caf\udce9\n", ["api", SHA], 1,
     f"{P}:2:6: error: not valid UTF-8 (byte 0xe9)\n"),
    ("too-big", "shop.yaml", "#" * (1024 * 1024 + 9), ["api", SHA], 1,  # the loader's limit and words
     f"{P}:1:1: error: file is 1048577 bytes; the limit is 1048576 (1 MiB)\n"),
    ("control-character", "shop.yaml", "applications: \x01\n", ["api", SHA], 1,
     f"{P}:1:15: error: YAML syntax: control character U+0001 is not allowed\n"),
    ("no-git", "shop.yaml", "applications:\n  - name: api\n    port: 80\n", ["api", SHA], 1,
     f"{P}:2:5: error: applications[0].git: application 'api' has no git mapping to write the hash into\n"),
    ("alias", "shop.yaml", SEED.replace("hash: ~\n      port: 8080", "hash: &h ~\n      port: 8080")
     .replace("hash: ~\n      port: 80\n", "hash: *h\n      port: 80\n"), ["frontend", SHA], 1,
     f"{P}:19:11: error: applications[1].git.hash: the value is shared through a YAML anchor and alias; "
     "edit it by hand\n"),
    ("block-scalar", "shop.yaml", SEED.replace("hash: ~\n      port: 8080", f"hash: |\n            {OLD}\n      port: 8080"),
     ["api", SHA], 1,
     f"{P}:8:17: error: applications[0].git.hash: a block scalar (| or >) cannot be edited; "
     "write the value on the key's line\n"),
    ("older-pushed-at", "shop.yaml", SHOP, ["web", SHA, "--pushed-at", "2026-10-01T00:00:00Z"], 3,
     f"{P}:24:17: error: applications[1].git.pushedAt: refusing to roll 'web' back: it is at {OLD}, pushed at "
     f"2026-11-01T10:00:00Z; {SHA} was pushed earlier, at 2026-10-01T00:00:00Z (use --force for a deliberate "
     "rollback)\n"),
    ("equal-pushed-at", "shop.yaml", SHOP, ["web", SHA, "--pushed-at", "2026-11-01T10:00:00Z"], 3,
     f"{P}:24:17: error: applications[1].git.pushedAt: refusing to replace {OLD} of 'web' with {SHA}: both were "
     "pushed at 2026-11-01T10:00:00Z, so which is newer is unknown (use --force to choose)\n"),
    ("missing-pushed-at", "shop.yaml", SHOP, ["web", SHA], 1,
     f"{P}:24:17: error: applications[1].git.pushedAt: application 'web' records pushedAt 2026-11-01T10:00:00Z; "
     "give --pushed-at so that an older build cannot roll it back (or --force for a deliberate rollback)\n"),
]


@pytest.mark.parametrize("name,text,args,code,stderr", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected(workdir, capsys, name, text, args, code, stderr):
    path = workdir / "projects" / name
    if text is not None:
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        before = snapshot(path)
    assert main([f"projects/{name}", *args]) == code
    out, err = capsys.readouterr()
    assert (out, err) == ("", stderr)
    if text is not None:
        assert snapshot(path) == before
    assert sorted(p.name for p in (workdir / "projects").iterdir()) == ([name] if text is not None else [])


def test_not_a_regular_file(workdir, capsys):
    (workdir / "projects" / "shop.yaml").mkdir()
    assert main(["projects/shop.yaml", "api", SHA]) == 1
    assert capsys.readouterr() == ("", "projects/shop.yaml: error: not a regular file\n")


def test_schema_invalid_result_is_not_written(workdir, capsys):
    path = write(workdir, "shop.yaml", SHOP.replace("repo: shop-web", "repo: shop-web\n      tag: v1"))
    before = snapshot(path)
    assert main(["projects/shop.yaml", "api", SHA]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == ""
    assert lines[0].startswith("projects/shop.yaml:22:7: error: applications[1].git.tag: ")
    assert lines[-1] == "projects/shop.yaml: error: not changed: the result would not pass the project schema"
    assert snapshot(path) == before


def test_usage_errors_print_usage_not_traceback(workdir, capsys):
    assert main(["projects/shop.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("cmp-render bump: error: the following arguments are required: APP, SHA\n")


# ---- success


def test_bump_prints_one_line_on_stdout(workdir, capsys):
    path = write(workdir, "shop.yaml", SHOP)
    assert main(["projects/shop.yaml", "api", SHA, "--pushed-at", T]) == 0
    assert capsys.readouterr() == (f"projects/shop.yaml: api: no hash -> {SHA} (pushed {T})\n", "")
    assert hunks(SHOP, path.read_text()) == [(["      hash: ~               # set by CI\n"],
                                              [f"      hash: {SHA}               # set by CI\n",
                                               f'      pushedAt: "{T}"\n'])]


def test_already_at_is_a_no_op(workdir, capsys):
    path = write(workdir, "shop.yaml", SHOP)
    assert main(["projects/shop.yaml", "api", SHA, "--pushed-at", T]) == 0
    capsys.readouterr()
    before = snapshot(path)
    time.sleep(0.01)
    assert main(["projects/shop.yaml", "api", SHA, "--pushed-at", T]) == 0
    assert capsys.readouterr() == (f"projects/shop.yaml: api: already at {SHA}\n", "")
    assert snapshot(path) == before  # not even rewritten


def test_newer_build_and_forced_rollback(workdir, capsys):
    path = write(workdir, "shop.yaml", SHOP)
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-11-02T00:00:00Z"]) == 0
    assert capsys.readouterr().out == f"projects/shop.yaml: web: {OLD} -> {SHA} (pushed 2026-11-02T00:00:00Z)\n"
    assert main(["projects/shop.yaml", "web", OLD, "--force"]) == 0
    assert capsys.readouterr() == (f"projects/shop.yaml: web: {SHA} -> {OLD}\n", "")
    # Back to the old hash, but the newer push time stays: a stale build of 2026-11-01 is refused.
    assert hunks(SHOP, path.read_text()) == [(['      pushedAt: "2026-11-01T10:00:00Z"\n'],
                                              ['      pushedAt: "2026-11-02T00:00:00Z"\n'])]


NOW = datetime(2026, 12, 2, 7, 48, 1)


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])
def test_pushed_at_in_the_future_is_refused(workdir, capsys, monkeypatch, force):
    """Once recorded, a far-future pushedAt would refuse every later build (forward only)."""
    monkeypatch.setattr(bump, "_now", lambda: NOW, raising=False)
    path = write(workdir, "shop.yaml", SHOP)
    before = snapshot(path)
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "9999-12-31T00:00:00Z", *force]) == 2
    assert capsys.readouterr() == ("", "projects/shop.yaml: error: invalid --pushed-at '9999-12-31T00:00:00Z': "
                                       "more than 5 minutes ahead of this machine's clock (2026-12-02T07:48:01Z); "
                                       "a push cannot come from the future: check the clock that produced it\n")
    assert snapshot(path) == before


def test_pushed_at_within_the_skew_is_accepted(workdir, capsys, monkeypatch):
    monkeypatch.setattr(bump, "_now", lambda: NOW)
    assert bump.MAX_FUTURE_SKEW == timedelta(minutes=5)
    path = write(workdir, "shop.yaml", SHOP)
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-12-02T07:53:01.000000001Z"]) == 2
    assert "ahead of this machine's clock" in capsys.readouterr().err
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-12-02T07:53:01Z"]) == 0
    assert capsys.readouterr().out == f"projects/shop.yaml: web: {OLD} -> {SHA} (pushed 2026-12-02T07:53:01Z)\n"
    assert 'pushedAt: "2026-12-02T07:53:01Z"' in path.read_text()


def test_pushed_at_with_an_offset_is_an_instant_recorded_in_utc(workdir, capsys, monkeypatch):
    """{{workflow.creationTimestamp}} is in the Argo controller's time zone."""
    monkeypatch.setattr(bump, "_now", lambda: NOW)
    path = write(workdir, "shop.yaml", SHOP)
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-12-02T16:53:01.5+09:00"]) == 2  # 07:53:01.5Z
    assert "ahead of this machine's clock" in capsys.readouterr().err
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-12-02T16:53:01+09:00"]) == 0
    assert capsys.readouterr().out == f"projects/shop.yaml: web: {OLD} -> {SHA} (pushed 2026-12-02T07:53:01Z)\n"
    assert 'pushedAt: "2026-12-02T07:53:01Z"' in path.read_text()
    assert main(["projects/shop.yaml", "web", SHA2, "--pushed-at", "2026-12-02T02:53:00-05:00"]) == 3  # 07:53:00Z
    assert "refusing to roll 'web' back" in capsys.readouterr().err


def test_future_pushed_at_in_the_file_needs_force(workdir, capsys, monkeypatch):
    """What docs/ci-loop.md tells the operator: a recorded future time blocks builds until forced."""
    monkeypatch.setattr(bump, "_now", lambda: NOW)
    path = write(workdir, "shop.yaml", SHOP.replace("2026-11-01T10:00:00Z", "9999-12-31T00:00:00Z"))
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-12-02T07:00:00Z"]) == 3
    assert "refusing to roll 'web' back" in capsys.readouterr().err
    assert main(["projects/shop.yaml", "web", SHA, "--pushed-at", "2026-12-02T07:00:00Z", "--force"]) == 0
    capsys.readouterr()
    assert 'pushedAt: "2026-12-02T07:00:00Z"' in path.read_text()
    assert main(["projects/shop.yaml", "web", SHA2, "--pushed-at", "2026-12-02T07:30:00Z"]) == 0


def test_mode_is_kept_and_no_temp_file_is_left(workdir):
    path = write(workdir, "shop.yaml", SHOP)
    path.chmod(0o640)
    assert main(["projects/shop.yaml", "api", SHA]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in (workdir / "projects").iterdir()] == ["shop.yaml"]


def test_symlink_stays_a_symlink(workdir):
    target = write(workdir, "real.yaml", SEED)
    link = workdir / "projects" / "shop.yaml"
    link.symlink_to("real.yaml")
    assert main(["projects/shop.yaml", "api", SHA]) == 0
    assert link.is_symlink()
    assert f"hash: {SHA}" in target.read_text()


def outside_message(link: str, target: Path, root: Path) -> str:
    return (f"{link}: error: leads outside its repository {os.path.realpath(root)} (to "
            f"{os.path.realpath(target)}); refusing to edit it, nothing was written\n")


@pytest.fixture
def gitrepo(tmp_path, monkeypatch):
    """A checkout (a `.git` directory is what bump looks for) inside tmp_path, as the working directory."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "projects").mkdir()
    monkeypatch.chdir(repo)
    return repo


def test_symlink_out_of_the_repository_is_refused(gitrepo, capsys):
    outside = gitrepo.parent / "outside.yaml"
    outside.write_text(SEED)
    before = snapshot(outside)
    link = gitrepo / "projects" / "shop.yaml"
    link.symlink_to("../../outside.yaml")
    assert main(["projects/shop.yaml", "api", SHA]) == 1
    assert capsys.readouterr() == ("", outside_message("projects/shop.yaml", outside, gitrepo))
    assert snapshot(outside) == before
    assert link.is_symlink() and sorted(p.name for p in gitrepo.parent.iterdir()) == ["outside.yaml", "repo"]


def test_symlinked_directory_out_of_the_repository_is_refused(gitrepo, capsys):
    elsewhere = gitrepo.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "shop.yaml").write_text(SEED)
    before = snapshot(elsewhere / "shop.yaml")
    (gitrepo / "projects").rmdir()
    (gitrepo / "projects").symlink_to(elsewhere)
    assert main(["projects/shop.yaml", "api", SHA]) == 1
    assert capsys.readouterr() == ("", outside_message("projects/shop.yaml", elsewhere / "shop.yaml", gitrepo))
    assert snapshot(elsewhere / "shop.yaml") == before


def test_symlink_inside_the_repository_edits_the_target(gitrepo, capsys):
    (gitrepo / "shared").mkdir()
    target = gitrepo / "shared" / "shop.yaml"
    target.write_text(SEED)
    link = gitrepo / "projects" / "shop.yaml"
    link.symlink_to("../shared/shop.yaml")
    assert main(["projects/shop.yaml", "api", SHA]) == 0
    assert capsys.readouterr() == (f"projects/shop.yaml: api: no hash -> {SHA}\n", "")
    assert link.is_symlink() and f"hash: {SHA}" in target.read_text()


def test_without_git_the_repository_is_the_files_directory(workdir, capsys):
    outside = workdir / "real.yaml"
    outside.write_text(SEED)
    before = snapshot(outside)
    (workdir / "projects" / "shop.yaml").symlink_to("../real.yaml")
    assert main(["projects/shop.yaml", "api", SHA]) == 1
    assert capsys.readouterr() == ("", outside_message("projects/shop.yaml", outside, workdir / "projects"))
    assert snapshot(outside) == before


def test_write_failure_leaves_file_and_no_temp(workdir, capsys, monkeypatch):
    path = write(workdir, "shop.yaml", SHOP)
    before = snapshot(path)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bump.os, "replace", broken_replace)
    assert main(["projects/shop.yaml", "api", SHA]) == 1
    assert capsys.readouterr() == ("", "projects/shop.yaml: error: cannot write: No space left on device\n")
    assert snapshot(path) == before
    assert [p.name for p in (workdir / "projects").iterdir()] == ["shop.yaml"]


def test_waiter_rereads_a_file_replaced_while_it_waited(workdir):
    """The lock is on the file's inode, which every write retires: a waiter must follow the path."""
    path = write(workdir, "shop.yaml", SEED)
    holder = os.open(path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    result = {}
    thread = threading.Thread(target=lambda: result.update(rc=main(["projects/shop.yaml", "api", SHA])))
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()  # waiting for the lock
    # Meanwhile "another bump" writes the file the way bump does: a new inode.
    tmp = path.with_name("other")
    tmp.write_text(SEED.replace("hash: ~\n      port: 80\n", f"hash: {OLD}\n      port: 80\n"))
    os.replace(tmp, path)
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    thread.join(10)
    assert result == {"rc": 0}
    text = path.read_text()
    assert f"hash: {OLD}" in text and f"hash: {SHA}" in text  # neither write was lost


def test_lock_timeout(workdir, capsys):
    path = write(workdir, "shop.yaml", SEED)
    holder = os.open(path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with pytest.raises(bump.BumpError) as info:
            bump.bump_file("projects/shop.yaml", "api", SHA, lock_timeout=0.2)
    finally:
        os.close(holder)
    assert str(info.value) == "projects/shop.yaml: error: gave up after 0.2s waiting for another bump of this file"


def test_a_bug_is_reported_like_every_commands_and_without_its_text(workdir, capsys, monkeypatch):
    path = write(workdir, "shop.yaml", SHOP)
    before = snapshot(path)

    def bug(*args, **kwargs):
        raise ValueError(f"token s.{SHA}")

    monkeypatch.setattr(bump, "plan_bump", bug)
    assert main(["projects/shop.yaml", "api", SHA]) == 70
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: internal error (ValueError at ") and SHA not in err
    assert snapshot(path) == before


# ---- as a program: `python -m cmp_plugin.bump` and `cmp-render bump`


@pytest.mark.parametrize("module", [["cmp_plugin.bump"], ["cmp_plugin", "bump"]], ids=["bump", "cmp-render"])
def test_as_a_program(workdir, module):
    write(workdir, "shop.yaml", SHOP)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", *module, "projects/shop.yaml", "api", SHA, "--pushed-at", T],
                         capture_output=True, text=True, env=env)
    assert (run.returncode, run.stdout, run.stderr) == (0, f"projects/shop.yaml: api: no hash -> {SHA} (pushed {T})\n", "")
    run = subprocess.run([sys.executable, "-m", *module, "projects/shop.yaml", "api", SHA.upper()],
                         capture_output=True, text=True, env=env)
    assert (run.returncode, run.stdout) == (2, "")
    assert "Traceback" not in run.stderr and "invalid sha" in run.stderr
