"""Round trips: only the hash (and pushedAt) line changes, everything else stays byte for byte."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bump_samples import OLD, SEED, SHA, SHOP, hunks
from cmp_plugin import bump
from cmp_plugin.bump import edit

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])
T = "2026-11-27T03:04:05Z"


@pytest.fixture(params=LOADERS, ids=lambda c: c.__name__, autouse=True)
def loader(request, monkeypatch):
    """Every edit runs with the C parser and the pure-Python one: their marks must agree."""
    monkeypatch.setattr(edit, "_Loader", request.param)
    return request.param


def _no_hash(text: str, line: str) -> str:
    assert text.count(line) == 1
    return text.replace(line, "")


# (id, text, app, pushed_at, expected hunks)
CASES = [
    ("seed-4-spaces-null", SEED, "frontend", None,
     [(["          hash: ~\n"], [f"          hash: {SHA}\n"])]),
    ("null-with-comment", SHOP, "api", None,
     [(["      hash: ~               # set by CI\n"], [f"      hash: {SHA}               # set by CI\n"])]),
    ("double-quoted-with-pushed-at", SHOP, "web", "2026-11-02T00:00:00Z",
     [([f'      hash: "{OLD}"\n', '      pushedAt: "2026-11-01T10:00:00Z"\n'],
       [f'      hash: "{SHA}"\n', '      pushedAt: "2026-11-02T00:00:00Z"\n'])]),
    ("flow-mapping-single-quoted-empty", SHOP, "worker", None,
     [(["    git: {type: github, owner: myorg, repo: shop-worker, branch: main, hash: ''}\n"],
       [f"    git: {{type: github, owner: myorg, repo: shop-worker, branch: main, hash: '{SHA}'}}\n"])]),
    ("flow-mapping-with-pushed-at", SHOP, "worker", T,
     [(["    git: {type: github, owner: myorg, repo: shop-worker, branch: main, hash: ''}\n"],
       [f"    git: {{type: github, owner: myorg, repo: shop-worker, branch: main, hash: '{SHA}', "
        f'pushedAt: "{T}"}}\n'])]),
    ("empty-value", SHOP.replace("      hash: ~               # set by CI\n", "      hash:\n"), "api", None,
     [(["      hash:\n"], [f"      hash: {SHA}\n"])]),
    ("empty-value-with-comment", SHOP.replace("hash: ~               #", "hash:   #"), "api", None,
     [(["      hash:   # set by CI\n"], [f"      hash: {SHA}   # set by CI\n"])]),
    ("empty-double-quotes", SHOP.replace("hash: ~  ", 'hash: ""'), "api", None,
     [(['      hash: ""             # set by CI\n'], [f'      hash: "{SHA}"             # set by CI\n'])]),
    ("single-quoted-old-sha", SEED.replace("hash: ~\n      port: 80\n", f"hash: '{OLD}'\n      port: 80\n"),
     "frontend", None,
     [([f"          hash: '{OLD}'\n"], [f"          hash: '{SHA}'\n"])]),
    ("plain-old-sha-with-comment", SEED.replace("hash: ~\n      port: 8080", f"hash: {OLD}  # v1.2\n      port: 8080"),
     "api", None,
     [([f"          hash: {OLD}  # v1.2\n"], [f"          hash: {SHA}  # v1.2\n"])]),
    ("quoted-key", SEED.replace("          hash: ~\n      port: 80\n", '          "hash":   ~\n      port: 80\n'),
     "frontend", None,
     [(['          "hash":   ~\n'], [f'          "hash":   {SHA}\n'])]),
    ("non-ascii-comment", SHOP.replace("# set by CI", "# ☃ noch nicht gebaut, ça va"), "api", None,
     [(["      hash: ~               # ☃ noch nicht gebaut, ça va\n"],
       [f"      hash: {SHA}               # ☃ noch nicht gebaut, ça va\n"])]),
    ("hash-missing-2-spaces", _no_hash(SHOP, "      hash: ~               # set by CI\n"), "api", None,
     [([], [f"      hash: {SHA}\n"])]),
    ("hash-missing-with-pushed-at", _no_hash(SHOP, "      hash: ~               # set by CI\n"), "api", T,
     [([], [f"      hash: {SHA}\n", f'      pushedAt: "{T}"\n'])]),
    ("null-hash-gets-pushed-at", SHOP, "api", T,
     [(["      hash: ~               # set by CI\n"],
       [f"      hash: {SHA}               # set by CI\n", f'      pushedAt: "{T}"\n'])]),
    ("flow-mapping-without-hash",
     SHOP.replace("branch: main, hash: ''}", "branch: main}  # no hash yet"), "worker", None,
     [(["    git: {type: github, owner: myorg, repo: shop-worker, branch: main}  # no hash yet\n"],
       [f"    git: {{type: github, owner: myorg, repo: shop-worker, branch: main, hash: {SHA}}}  # no hash yet\n"])]),
]


@pytest.mark.parametrize("text,app,pushed_at,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_line_edit(text, app, pushed_at, expected):
    out = bump.plan_bump(text, "projects/shop.yaml", app, SHA, pushed_at)
    assert out.changed
    assert hunks(text, out.text) == expected


def test_hash_missing_four_spaces_goes_after_last_one_line_key():
    text = SEED.replace("          hash: ~\n      port: 80\n", "      port: 80\n")
    out = bump.plan_bump(text, "projects/shop.yaml", "frontend", SHA)
    assert hunks(text, out.text) == [([], [f"          hash: {SHA}\n"])]
    assert out.text.index(f"hash: {SHA}") > out.text.index("repo: my-frontend")


def test_hash_missing_after_nested_value_uses_last_one_line_key():
    text = ("applications:\n- name: a\n  port: 1\n  git:\n    owner: o\n    repo: r\n    branch: >-\n"
            "      main\n")
    out = bump.plan_bump(text, "projects/shop.yaml", "a", SHA)
    assert hunks(text, out.text) == [([], [f"    hash: {SHA}\n"])]
    assert yaml.safe_load(out.text)["applications"][0]["git"] == {"owner": "o", "repo": "r", "branch": "main",
                                                                  "hash": SHA}


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("final", [True, False], ids=["final-newline", "no-final-newline"])
def test_line_ends_and_final_newline(newline, final):
    text = SHOP.replace("\n", newline)
    if not final:
        text = text.rstrip("\r\n")
    out = bump.plan_bump(text, "projects/shop.yaml", "api", SHA, T)
    assert hunks(text, out.text) == [([f"      hash: ~               # set by CI{newline}"],
                                      [f"      hash: {SHA}               # set by CI{newline}",
                                       f'      pushedAt: "{T}"{newline}'])]
    assert out.text.endswith(newline) == final
    assert out.text.count("\n") == text.count("\n") + 1
    if newline == "\r\n":
        assert out.text.count("\r\n") == out.text.count("\n")


def test_hash_on_last_line_without_final_newline():
    text = "applications:\n  - name: solo\n    port: 1\n    git:\n      owner: o\n      repo: r\n      branch: main\n      hash: ~"
    out = bump.plan_bump(text, "projects/solo.yaml", "solo", SHA)
    assert out.text == text[:-1] + SHA


def test_missing_hash_inserted_at_end_of_file_without_final_newline():
    text = "applications:\r\n  - name: solo\r\n    port: 1\r\n    git:\r\n      owner: o\r\n      repo: r\r\n      branch: main"
    out = bump.plan_bump(text, "projects/solo.yaml", "solo", SHA, T)
    assert out.text == text + f"\r\n      hash: {SHA}\r\n      pushedAt: \"{T}\""


def test_byte_order_mark_is_kept():
    text = "\ufeff" + SEED
    out = bump.plan_bump(text, "projects/shop.yaml", "api", SHA)
    assert out.text.startswith("\ufeffapplications:")
    assert hunks(text, out.text) == [(["          hash: ~\n"], [f"          hash: {SHA}\n"])]


def test_only_the_named_app_changes():
    text = SHOP
    for app in ("api", "worker"):
        text = bump.plan_bump(text, "projects/shop.yaml", app, SHA).text
    data, before = yaml.safe_load(text), yaml.safe_load(SHOP)
    for i, app in enumerate(data["applications"]):
        expected = SHA if app["name"] in ("api", "worker") else before["applications"][i]["git"]["hash"]
        assert app["git"]["hash"] == expected
    assert data["databases"] == before["databases"]


def test_all_digit_sha_is_quoted_when_plain_would_read_as_a_number():
    digits = "1234567890" * 4
    out = bump.plan_bump(SEED, "projects/shop.yaml", "api", digits)
    assert f'hash: "{digits}"' in out.text
    assert yaml.safe_load(out.text)["applications"][0]["git"]["hash"] == digits


def test_plain_pushed_at_stays_plain():
    text = SHOP.replace('pushedAt: "2026-11-01T10:00:00Z"', "pushedAt: 2026-11-01T10:00:00Z")
    out = bump.plan_bump(text, "projects/shop.yaml", "web", SHA, T)
    assert hunks(text, out.text)[0][1] == [f'      hash: "{SHA}"\n', f"      pushedAt: {T}\n"]


# ---- property: any indentation, quoting, comment, line end and position gives a one-line diff

STYLES = ["~", "null", "", "''", '""', OLD, f"'{OLD}'", f'"{OLD}"']


@settings(max_examples=150, deadline=None)
@given(indent=st.integers(1, 6), dash_inside=st.booleans(), style=st.sampled_from(STYLES),
       comment=st.sampled_from(["", "  # set by CI", " #x", "   "]), crlf=st.booleans(), final=st.booleans(),
       napps=st.integers(1, 4), data=st.data())
def test_any_layout_changes_one_line(indent, dash_inside, style, comment, crlf, final, napps, data):
    target = data.draw(st.integers(0, napps - 1))
    pad = " " * indent
    item = pad if dash_inside else ""
    lines = ["# header", "applications:"]
    for i in range(napps):
        key = item + " " * 2  # keys after "- "
        lines += [f"{item}- name: app{i}", f"{key}git:", f"{key}{pad}owner: o  # who",
                  f"{key}{pad}repo: 'r{i}'", "", f"{key}{pad}hash:{' ' if style else ''}{style}{comment}",
                  f"{key}port: {80 + i}"]
    nl = "\r\n" if crlf else "\n"
    text = nl.join(lines) + (nl if final else "")
    out = bump.plan_bump(text, "projects/p.yaml", f"app{target}", SHA)
    (old, new), = hunks(text, out.text)
    assert len(old) == len(new) == 1
    quote = style[0] if style[:1] in ("'", '"') else ""
    if style:
        assert new[0] == old[0].replace(f"hash: {style}", f"hash: {quote}{SHA}{quote}", 1)
    else:
        assert new[0] == old[0].replace("hash:", f"hash: {SHA}", 1)
    assert yaml.safe_load(out.text)["applications"][target]["git"]["hash"] == SHA


def test_result_is_parsed_again_and_a_wrong_splice_is_refused(monkeypatch):
    """The safety net: were an edit ever to change more than the values, nothing is written."""
    real = edit._render
    monkeypatch.setattr(edit, "_render", lambda *a: real(*a) + "\n      extra: 1")
    with pytest.raises(bump.BumpError) as info:
        bump.plan_bump(SHOP, "projects/shop.yaml", "api", SHA)
    assert str(info.value) == ("projects/shop.yaml: error: internal error: the edit would change more than the "
                               "hash; nothing was written (please report this file)")
    monkeypatch.setattr(edit, "_render", lambda *a: "'" + real(*a))  # unbalanced quote: invalid YAML
    with pytest.raises(bump.BumpError, match="internal error"):
        bump.plan_bump(SHOP, "projects/shop.yaml", "api", SHA)
