"""Forward only: a build pushed earlier than the recorded one never replaces it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bump_samples import SHA as A
from bump_samples import SHA2 as B
from bump_samples import hunks
from cmp_plugin import bump
from cmp_plugin.bump import EXIT_ERROR, EXIT_REFUSED, BumpError, plan_bump

T0, T1, T2 = "2026-11-27T03:04:04Z", "2026-11-27T03:04:05Z", "2026-11-27T03:04:06Z"
ABSENT = object()


def project(hash_value=ABSENT, pushed=ABSENT) -> str:
    lines = ["applications:", "  - name: api", "    git:", "      owner: o", "      repo: r", "      branch: main"]
    if hash_value is not ABSENT:
        lines.append(f"      hash: {'~' if hash_value is None else hash_value}")
    if pushed is not ABSENT:
        lines.append(f"      pushedAt: {'~' if pushed is None else repr(pushed)}")
    return "\n".join(lines + ["    port: 8080", ""])


def state(text: str) -> tuple:
    git = yaml.safe_load(text)["applications"][0]["git"]
    return git.get("hash"), git.get("pushedAt")


# (id, recorded hash, recorded pushedAt, sha, --pushed-at, --force, expected)
# expected: ("bumped", hash, pushedAt) | ("noop",) | ("refused", exit code, part of the message)
CASES = [
    ("newer", A, T1, B, T2, False, ("bumped", B, T2)),
    ("older", A, T1, B, T0, False, ("refused", EXIT_REFUSED, "refusing to roll 'api' back")),
    ("same-time-other-sha", A, T1, B, T1, False, ("refused", EXIT_REFUSED, "both were pushed at")),
    ("no-pushed-at-given", A, T1, B, None, False, ("refused", EXIT_ERROR, "give --pushed-at")),
    ("force-without-pushed-at-keeps-record", A, T1, B, None, True, ("bumped", B, T1)),
    ("force-rollback-records-older", A, T1, B, T0, True, ("bumped", B, T0)),
    ("force-same-time", A, T1, B, T1, True, ("bumped", B, T1)),
    ("same-sha-same-time", A, T1, A, T1, False, ("noop",)),
    ("same-sha-no-time", A, T1, A, None, False, ("noop",)),
    ("same-sha-older-time", A, T1, A, T0, False, ("noop",)),
    ("same-sha-newer-time-records-it", A, T1, A, T2, False, ("bumped", A, T2)),
    ("same-sha-first-time", A, ABSENT, A, T1, False, ("bumped", A, T1)),
    ("nothing-recorded", None, ABSENT, A, None, False, ("bumped", A, ABSENT)),
    ("nothing-recorded-with-time", None, ABSENT, A, T1, False, ("bumped", A, T1)),
    ("hash-without-record", A, ABSENT, B, T0, False, ("bumped", B, T0)),
    ("null-record", A, None, B, None, False, ("bumped", B, None)),
    ("record-without-hash", None, T1, A, T0, False, ("refused", EXIT_REFUSED, "refusing to roll 'api' back")),
    ("fraction-older", A, "2026-11-27T03:04:05.5Z", B, T1, False, ("refused", EXIT_REFUSED, "refusing")),
    ("fraction-newer", A, "2026-11-27T03:04:05.5Z", B, "2026-11-27T03:04:05.500000001Z", False,
     ("bumped", B, "2026-11-27T03:04:05.500000001Z")),
    ("fraction-equal", A, "2026-11-27T03:04:05.5Z", B, "2026-11-27T03:04:05.500Z", False,
     ("refused", EXIT_REFUSED, "both were pushed at")),
    ("across-new-year", A, "2026-12-31T23:59:59Z", B, "2027-01-01T00:00:00Z", False,
     ("bumped", B, "2027-01-01T00:00:00Z")),
    ("offset-older-instant", A, T1, B, "2026-11-27T12:04:04+09:00", False,
     ("refused", EXIT_REFUSED, "was pushed earlier, at 2026-11-27T03:04:04Z")),
    ("offset-newer-instant", A, T1, B, "2026-11-27T12:04:06+09:00", False, ("bumped", B, T2)),
    ("offset-same-instant", A, T1, B, "2026-11-26T22:04:05-05:00", False, ("refused", EXIT_REFUSED, "both were pushed at")),
    ("negative-offset-across-midnight", A, "2026-11-27T23:59:59Z", B, "2026-11-27T19:00:00-05:00", False,
     ("bumped", B, "2026-11-28T00:00:00Z")),
    ("same-sha-same-instant-in-another-zone", A, T1, A, "2026-11-27T04:04:05+01:00", False, ("noop",)),
    ("garbage-record", A, "yesterday", B, T1, False, ("refused", EXIT_ERROR, "is not an RFC 3339 UTC timestamp")),
    ("garbage-record-forced", A, "yesterday", B, T1, True, ("bumped", B, T1)),
]


@pytest.mark.parametrize("rec_hash,rec_pushed,sha,pushed_at,force,expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_forward_only(rec_hash, rec_pushed, sha, pushed_at, force, expected):
    text = project(rec_hash, rec_pushed)
    if expected[0] == "refused":
        with pytest.raises(BumpError) as info:
            plan_bump(text, "projects/shop.yaml", "api", sha, pushed_at, force)
        assert info.value.code == expected[1]
        assert expected[2] in str(info.value)
        return
    out = plan_bump(text, "projects/shop.yaml", "api", sha, pushed_at, force)
    if expected[0] == "noop":
        assert not out.changed and out.text == text
        assert out.message == f"projects/shop.yaml: api: already at {sha}"
        return
    assert out.changed
    want_pushed = expected[2] if expected[2] is not ABSENT else None
    assert state(out.text) == (expected[1], want_pushed)
    changed = sum(max(len(a), len(b)) for a, b in hunks(text, out.text))
    assert changed == (expected[1] != rec_hash) + (want_pushed != (None if rec_pushed is ABSENT else rec_pushed))


def test_out_of_order_builds_end_at_the_newest_push():
    """Five pushes, their builds finishing in the worst order: newest first, then the rest."""
    pushes = [(f"{i:040x}", f"2026-11-27T03:0{i}:00Z") for i in range(1, 6)]
    text = project(None)
    finished = [pushes[4], pushes[0], pushes[3], pushes[1], pushes[2]]
    results = []
    for sha, when in finished:
        try:
            out = plan_bump(text, "projects/shop.yaml", "api", sha, when)
            text = out.text
            results.append("bumped")
        except BumpError as exc:
            assert exc.code == EXIT_REFUSED
            results.append("refused")
    assert results == ["bumped", "refused", "refused", "refused", "refused"]
    assert state(text) == pushes[4]


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.integers(0, 10**6), min_size=1, max_size=8, unique=True), data=st.data())
def test_any_finishing_order_never_goes_back(times, data):
    base = datetime(2026, 11, 27)
    pushes = [(f"{i + 1:040x}", (base + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ"))
              for i, t in enumerate(times)]
    order = data.draw(st.permutations(pushes))
    text = project(None)
    deployed = []
    for sha, when in order:
        try:
            text = plan_bump(text, "projects/shop.yaml", "api", sha, when).text
        except BumpError as exc:
            assert exc.code == EXIT_REFUSED
        deployed.append(state(text)[1])
    assert deployed == sorted(deployed)  # the recorded push time never decreases
    assert state(text) == max(pushes, key=lambda p: p[1])


@pytest.mark.parametrize("value,ok", [
    ("2026-11-27T03:04:05Z", True), ("2026-11-27T03:04:05.123456789Z", True),
    ("2026-11-27T03:04:05.1234567890Z", False), ("2026-11-27T03:04:05+00:00", False),
    ("2026-11-27 03:04:05Z", False), ("2026-11-27t03:04:05z", False), ("2026-02-30T03:04:05Z", False),
    ("2026-11-27T24:00:00Z", False), ("2026-11-27T03:04:60Z", False), ("2026-11-27T03:04:05Z\n", False),
    ("", False),
])
def test_timestamp_grammar(value, ok):
    """What the file records: the schema's UTC form."""
    assert (bump.timestamp_key(value) is not None) == ok


@pytest.mark.parametrize("value,utc", [
    ("2026-11-27T03:04:05Z", "2026-11-27T03:04:05Z"), ("2026-11-27t03:04:05.120z", "2026-11-27T03:04:05.120Z"),
    ("2026-11-27T12:04:05+09:00", "2026-11-27T03:04:05Z"), ("2026-11-27T03:04:05-00:00", "2026-11-27T03:04:05Z"),
    ("2026-01-01T05:30:00.123456789+05:30", "2026-01-01T00:00:00.123456789Z"),
    ("2026-12-31T20:00:00-04:00", "2027-01-01T00:00:00Z"), ("2024-02-29T23:00:00-01:00", "2024-03-01T00:00:00Z"),
    ("2026-11-27T03:04:05+24:00", None), ("2026-11-27T03:04:05+09:60", None), ("2026-11-27T03:04:05+0900", None),
    ("2026-11-27T03:04:05+09", None), ("2026-11-27T03:04:05", None), ("2026-11-27 03:04:05Z", None),
    ("2026-02-29T00:00:00+01:00", None), ("0001-01-01T00:30:00+01:00", None), ("9999-12-31T23:30:00-01:00", None),
    ("2026-11-27T03:04:05.1234567890Z", None), ("2026-11-27T03:04:05+09:00\n", None), ("", None),
])
def test_pushed_at_grammar_and_utc(value, utc):
    """What --pushed-at takes: any RFC 3339 time, as the instant in UTC."""
    assert bump.utc_timestamp(value) == utc


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.integers(0, 10**6), min_size=1, max_size=6, unique=True),
       offsets=st.lists(st.integers(-23 * 60 - 59, 23 * 60 + 59), min_size=6, max_size=6), data=st.data())
def test_any_finishing_order_in_any_time_zones_never_goes_back(times, offsets, data):
    base = datetime(2026, 11, 27)

    def local(t, minutes):  # the instant base + t seconds, written with a UTC offset of `minutes`
        sign = "+" if minutes >= 0 else "-"
        when = base + timedelta(seconds=t, minutes=minutes)
        return f"{when:%Y-%m-%dT%H:%M:%S}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    pushes = [(f"{i + 1:040x}", local(t, offsets[i]), (base + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ"))
              for i, t in enumerate(times)]
    text = project(None)
    for sha, when, _ in data.draw(st.permutations(pushes)):
        try:
            text = plan_bump(text, "projects/shop.yaml", "api", sha, when).text
        except BumpError as exc:
            assert exc.code == EXIT_REFUSED
    newest = max(pushes, key=lambda p: p[2])
    assert state(text) == (newest[0], newest[2])
