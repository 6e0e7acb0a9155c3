"""The one path formatter, in each of the spellings messages use."""

from __future__ import annotations

import pytest

from cmp_plugin.problems import format_path

CASES = [
    # parts, project files, quoted (secrets), dotted (check)
    ((), "", "", ""),
    (("applications", 1, "port"), "applications[1].port", "applications[1].port", "applications.1.port"),
    ((0, "name"), "[0].name", "[0].name", "0.name"),
    (("env", "A.B"), "env.A.B", "env['A.B']", "env.A.B"),
    (("data", "tls.crt"), "data.tls.crt", "data['tls.crt']", "data.tls.crt"),
    (("metadata", "annotations", "avp.kubernetes.io/path"), "metadata.annotations.avp.kubernetes.io/path",
     "metadata.annotations['avp.kubernetes.io/path']", "metadata.annotations.avp.kubernetes.io/path"),
    (("a b",), "a b", "['a b']", "a b"),
    (("x", "it's"), "x.it's", "x[\"it's\"]", "x.it's"),
    (("_ok-1", 2, 3), "_ok-1[2][3]", "_ok-1[2][3]", "_ok-1.2.3"),
    (("spec", "templates", 0, "container", "args", 1), "spec.templates[0].container.args[1]",
     "spec.templates[0].container.args[1]", "spec.templates.0.container.args.1"),
]


@pytest.mark.parametrize("parts,plain,quoted,dotted", CASES)
def test_every_spelling(parts, plain, quoted, dotted):
    assert format_path(parts) == plain
    assert format_path(parts, quote=True) == quoted
    assert format_path(parts, dotted=True) == dotted


def test_the_stages_use_it():
    from cmp_plugin.load import Loaded
    from cmp_plugin.secrets.documents import location

    assert location(("stringData", "a.b", 0)) == "stringData['a.b'][0]"
    loaded = Loaded("p.yaml")
    assert loaded.problem(("applications", 0, "env", "A.B"), "m", "r").path == "applications[0].env.A.B"
