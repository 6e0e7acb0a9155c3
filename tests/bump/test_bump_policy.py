"""The forward-only policy, row by row of the table "Forward only" in docs/ci-loop.md."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from cmp_plugin.bump import plan_bump
from cmp_plugin.bump.policy import (EXIT_ERROR, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, BumpError, Current, Decision,
                                    Request, check_arguments, decide)

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci-loop.md"

A, B = "a" * 40, "b" * 40  # A is the sha asked for, B another one
EARLIER, R, LATER = "2026-11-27T03:04:04Z", "2026-11-27T03:04:05Z", "2026-11-27T03:04:06Z"
NOW = datetime(2026, 11, 27, 3, 10, 0)
EDGE = "2026-11-27T03:15:00Z"  # now + 5 minutes exactly: still accepted
FUTURE = "2026-11-27T03:15:00.000000001Z"  # one nanosecond later: refused

NOOP, RECORD = Decision(False, False), Decision(False, True)  # "already at"
HASH, BOTH = Decision(True, False), Decision(True, True)  # bumped, without or with pushedAt


def refused(code: int, words: str) -> tuple[int, str]:
    return code, words


# The table's rows, named by its first two cells as written in the docs; then what the file
# records (hash, pushedAt), what is given (sha, --pushed-at, --force) and the decision.
TABLE = [
    ("`hash` = SHA", "nothing, or `N` ≤ `R`", (A, R), (A, None, False), NOOP),
    ("`hash` = SHA", "nothing, or `N` ≤ `R`", (A, R), (A, R, False), NOOP),
    ("`hash` = SHA", "nothing, or `N` ≤ `R`", (A, R), (A, EARLIER, False), NOOP),
    ("`hash` = SHA", "`N` > `R` (or no `R`)", (A, R), (A, LATER, False), RECORD),
    ("`hash` = SHA", "`N` > `R` (or no `R`)", (A, None), (A, R, False), RECORD),
    ("no `pushedAt`", "`N` or nothing", (B, None), (A, R, False), BOTH),
    ("no `pushedAt`", "`N` or nothing", (B, None), (A, None, False), HASH),
    ("no `pushedAt`", "`N` or nothing", (None, None), (A, None, False), HASH),
    ("`R`", "`N` > `R`", (B, R), (A, LATER, False), BOTH),
    ("`R`", "`N` > `R`", (None, R), (A, LATER, False), BOTH),
    ("`R`", "`N` < `R`", (B, R), (A, EARLIER, False), refused(EXIT_REFUSED, "refusing to roll 'api' back")),
    ("`R`", "`N` < `R`", (None, R), (A, EARLIER, False), refused(EXIT_REFUSED, "it is at no hash")),
    ("`R`", "`N` = `R`, other sha", (B, R), (A, R, False), refused(EXIT_REFUSED, "which is newer is unknown")),
    ("`R`", "nothing", (B, R), (A, None, False), refused(EXIT_ERROR, "give --pushed-at")),
    ("anything", "`N` > now + 5 minutes", (B, R), (A, FUTURE, False), refused(EXIT_USAGE, "from the future")),
    ("anything", "`N` > now + 5 minutes", (B, R), (A, FUTURE, True), refused(EXIT_USAGE, "from the future")),
    ("anything", "`N` > now + 5 minutes", (A, R), (A, FUTURE, False), refused(EXIT_USAGE, "from the future")),
    ("anything", "`N` > now + 5 minutes", (None, None), (A, FUTURE, True), refused(EXIT_USAGE, "from the future")),
]

# The text around the table: --force, the recorded value it cannot read, the clock's edge.
AROUND = [
    ("force-keeps-the-recorded-time", (B, R), (A, None, True), HASH),
    ("force-records-an-older-time", (B, R), (A, EARLIER, True), BOTH),
    ("force-same-time-other-sha", (B, R), (A, R, True), HASH),
    ("force-same-sha-older-time", (A, R), (A, EARLIER, True), RECORD),
    ("force-same-sha-same-time", (A, R), (A, R, True), NOOP),
    ("force-repairs-a-recorded-future-time", (B, "9999-12-31T00:00:00Z"), (A, R, True), BOTH),
    ("recorded-future-time-blocks", (B, "9999-12-31T00:00:00Z"), (A, R, False), refused(EXIT_REFUSED, "refusing")),
    ("recorded-time-unreadable", (B, "yesterday"), (A, R, False), refused(EXIT_ERROR, "is not an RFC 3339 UTC")),
    ("recorded-time-unreadable-forced", (B, "yesterday"), (A, R, True), BOTH),
    ("same-sha-unreadable-time", (A, "yesterday"), (A, None, False), refused(EXIT_ERROR, "fix it by hand")),
    ("up-to-five-minutes-ahead", (B, R), (A, EDGE, False), BOTH),
    ("no-clock-no-future-check", (B, R), (A, FUTURE, False, None), BOTH),
]


def run(recorded: tuple, given: tuple) -> Decision:
    sha, pushed_at, force, *clock = given
    return decide(Current(*recorded), Request("api", sha, pushed_at, force, clock[0] if clock else NOW))


def check(decision: Decision, expected) -> None:
    if isinstance(expected, Decision):
        assert decision == expected
    else:
        code, words = expected
        assert (decision.code, decision.set_hash, decision.set_pushed) == (code, False, False)
        assert decision.refused and words in decision.refusal


@pytest.mark.parametrize("records,give,recorded,given,expected", TABLE,
                         ids=[f"{r[0]} | {r[1]} | {r[2][0] and r[2][0][0]},{r[2][1]}" for r in TABLE])
def test_table(records, give, recorded, given, expected):
    check(run(recorded, given), expected)


@pytest.mark.parametrize("recorded,given,expected", [r[1:] for r in AROUND], ids=[r[0] for r in AROUND])
def test_around_the_table(recorded, given, expected):
    check(run(recorded, given), expected)


def doc_table() -> list[list[str]]:
    """The rows of the table under "Forward only" in docs/ci-loop.md, as cells."""
    text = DOC.read_text()
    lines = text[text.index("- **Forward only.**"):].splitlines()[1:]
    rows = []
    for line in lines:
        line = line.strip()
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    assert rows[0] == ["file records", "you give", "result"] and set(rows[1][0]) <= set("-")
    return rows[2:]


def test_every_row_of_the_docs_is_tested_and_says_what_the_code_does():
    rows = doc_table()
    assert len(rows) == 8
    assert {(r[0], r[1]) for r in rows} == {(t[0], t[1]) for t in TABLE}
    result = {(r[0], r[1]): r[2] for r in rows}
    for records, give, _, _, expected in TABLE:
        words = result[(records, give)]
        code = re.search(r"exit (\d)", words)
        if isinstance(expected, Decision):
            assert (int(code.group(1)) if code else EXIT_OK) == expected.code == EXIT_OK
            assert words.startswith("bumped") == expected.set_hash
            if words.startswith('"already at"'):
                assert expected == (NOOP if "file untouched" in words else RECORD)
            if "`pushedAt: N`" in words:
                assert expected.set_pushed
        else:
            assert words.lstrip("*").startswith("refused") and int(code.group(1)) == expected[0]


def test_the_command_line_refuses_the_future_in_the_same_words():
    """check_arguments refuses it before any file is opened; decide says the same."""
    with pytest.raises(BumpError) as info:
        check_arguments("projects/shop.yaml", A, FUTURE, NOW)
    assert info.value.code == EXIT_USAGE
    assert [p.message for p in info.value.problems] == [run((B, R), (A, FUTURE, False)).refusal]
    check_arguments("projects/shop.yaml", A, EDGE, NOW)


def test_a_plan_with_a_clock_refuses_the_future_as_the_command_line_does():
    text = f"applications:\n  - name: api\n    git: {{owner: o, repo: r, branch: main, hash: {B}}}\n    port: 80\n"
    with pytest.raises(BumpError) as info:
        plan_bump(text, "projects/shop.yaml", "api", A, FUTURE, clock=NOW)
    assert info.value.code == EXIT_USAGE
    assert str(info.value) == f"projects/shop.yaml: error: {run((B, R), (A, FUTURE, False)).refusal}"
    assert plan_bump(text, "projects/shop.yaml", "api", A, EDGE, clock=NOW).changed
