"""Template helpers: partials inlined at load time, the json_text filter, the one webhook port."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from cmp_plugin import model, render
from cmp_plugin.pipeline import load_project, render_documents

from ._support import EXAMPLES, docs_of, settings_for


def _include_environment():
    """The render's environment with every `{% inline %}` an ordinary Jinja include instead."""
    import jinja2

    env = render.environment()

    class IncludeLoader(jinja2.FileSystemLoader):
        def get_source(self, environment, template):
            source, filename, uptodate = super().get_source(environment, template)
            return re.sub(r'\{% inline ("[^"]+") %\}', r"{% include \1 %}", source), filename, uptodate

    plain = env.overlay(loader=IncludeLoader(render.TEMPLATES), bytecode_cache=None)
    plain.cache = {}
    return plain


@pytest.mark.parametrize("example", ["shop", "blog", "catalog"])
def test_inlined_partials_render_as_includes_would(example):
    settings = settings_for({"CMP_REGISTRY_HOST_ALIASES": "10.0.0.5=registry.lan", "CMP_PUSH_LATEST": "true"})
    project = load_project(str(EXAMPLES / f"{example}.yaml"), settings=settings)
    env = _include_environment()
    context = {"project": project, "settings": settings, "isolation": render.isolation.build(project, settings)}
    included = "".join(env.get_template(name).render(context) for name in render.TEMPLATE_NAMES)
    assert render.render_text(project, settings) == included


def test_a_changed_partial_changes_the_source_the_bytecode_cache_checks(tmp_path):
    (tmp_path / "_p.j2").write_text("a: {{ v }}\n")
    (tmp_path / "t.j2").write_text('---\n{% inline "_p.j2" %}\nb: 1\n')
    loader = render.partials_loader(str(tmp_path))
    first = loader.get_source(None, "t.j2")[0]
    assert first == "---\na: {{ v }}\nb: 1\n"
    (tmp_path / "_p.j2").write_text("a: {{ v ~ 'x' }}\n")
    assert loader.get_source(None, "t.j2")[0] != first


def test_every_object_carries_the_labels_of_the_one_partial():
    settings = settings_for({})
    docs = render_documents(load_project(str(EXAMPLES / "shop.yaml"), settings=settings), settings)
    assert docs and all(d["metadata"]["labels"] == {"app.kubernetes.io/part-of": "shop",
                                                    "app.kubernetes.io/managed-by": "cmp-plugin"} for d in docs)


def test_json_text_is_compact_in_written_order_and_ascii():
    assert render.json_text({"state": "x", "context": "c"}) == '{"state":"x","context":"c"}'
    assert render.json_text({"b": ["é", 1]}) == '{"b":["\\u00e9",1]}'


@pytest.mark.parametrize("value", ["a'b", 'a"b', "a\nb: c", "# x", "$(GITHUB_TOKEN)", "é\U0001f680", "}}{{"])
def test_a_request_body_is_one_scalar_whatever_it_holds(value):
    body = {"project": value, "n": 1}
    text = render.environment().from_string("- {{ body | json_text | k8s_literal }}\n- end\n").render(body=body)
    loaded = yaml.safe_load(text)
    assert loaded[1] == "end" and json.loads(loaded[0].replace("$$", "$")) == body


def test_the_webhook_port_is_one_number_everywhere():
    settings = settings_for({})
    docs = docs_of(render.render_text(load_project(str(EXAMPLES / "shop.yaml"), settings=settings), settings))
    source = next(d for d in docs if d["kind"] == "EventSource")["spec"]
    ports = [p["port"] for p in source["service"]["ports"]] + [p["targetPort"] for p in source["service"]["ports"]]
    ports += [int(e["webhook"]["port"]) for e in source["github"].values()]
    ports += [s["port"] for d in docs if d["kind"] == "IngressRoute" and d["metadata"]["name"].endswith("-webhook-route")
              for r in d["spec"]["routes"] for s in r["services"]]
    ports += [p["port"] for d in docs if d["metadata"]["name"] == "allow-webhooks"
              for rule in d["spec"]["ingress"] for p in rule["ports"]]
    assert len(ports) > 5 and set(ports) == {model.WEBHOOK_PORT}
