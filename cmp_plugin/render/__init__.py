"""Stage 3, render: the project model through the Jinja2 templates into Kubernetes objects.

The one safety rule: every `{{ }}` emits exactly one YAML scalar (or JSON flow node), quoted
and escaped, whatever it holds. A project value can therefore never add a key, a list item
or a document, whatever a template author writes around it. Compound strings are built
inside the expression: `{{ registry ~ "/" ~ name }}`, never `{{ registry }}/{{ name }}`.

Partials (`_*.yaml.j2`) are written into a template where it says `{% inline "path" %}`, when the
template is loaded: a block every object repeats (its labels) costs nothing per object, where an
include or a macro call would build a context for each. Their `{{ }}` are escaped like any other.
"""

from __future__ import annotations

import gc
import json
import re
from functools import lru_cache
import os

from cmp_plugin import fastyaml
from cmp_plugin.model import isolation
from cmp_plugin.model import Project
from cmp_plugin.problems import Failure, run_problem
from cmp_plugin.settings import Settings

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
# Rendered in this order; the emit stage sorts objects anyway, this only groups problems.
TEMPLATE_NAMES = (
    "project/ci-rbac.yaml.j2", "project/secrets.yaml.j2",
    "project/network-policies.yaml.j2", "project/quota.yaml.j2",
    "ci/eventbus.yaml.j2", "ci/eventsource.yaml.j2", "ci/sensor.yaml.j2",
    "ci/workflow-template.yaml.j2", "ci/webhook-route.yaml.j2",
    "app/secret.yaml.j2", "app/deployment.yaml.j2", "app/service.yaml.j2", "app/ingressroute.yaml.j2",
    "app/autoscale.yaml.j2", "app/volume.yaml.j2", "app/job.yaml.j2",
    "db/secret.yaml.j2", "db/init.yaml.j2", "db/service.yaml.j2", "db/statefulset.yaml.j2", "db/backup.yaml.j2",
)

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
_REGEX_META = re.compile(r"([\\.^$|?*+()\[\]{}-])")
# with the newline after it, which an include's tag would take too (trim_blocks)
_INLINE = re.compile(r'\{% inline "([A-Za-z0-9_./-]+)" %\}\n?')


# Escaped after json.dumps: anything outside printable ASCII (YAML's \\u takes a code point, so
# characters beyond U+FFFF need \\U, not JSON's surrogate pairs), "'" which ends single quotes,
# and "#" which starts a comment in plain scalars.
_ESCAPE = re.compile(r"[^\x20-\x7e]|['#]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


_QUOTED: dict[str, str] = {}  # str -> yaml_scalar(str): a render quotes the same names many times


class UnsafeValue(ValueError):
    pass


def yaml_scalar(value) -> str:
    """Jinja finalize: one whole YAML scalar for any value (JSON is a subset of YAML 1.2 flow)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if type(value) is str:
        text = _QUOTED.get(value)
        if text is None:
            # no character of the result can end any YAML quoting context or start a comment
            text = _ESCAPE.sub(_escape, json.dumps(value, ensure_ascii=False))
            if len(_QUOTED) < 10_000:
                _QUOTED[value] = text
        return text
    if isinstance(value, str):
        return _ESCAPE.sub(_escape, json.dumps(value, ensure_ascii=False))
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return _ESCAPE.sub(_escape, json.dumps(value, ensure_ascii=False, sort_keys=True))
    raise UnsafeValue(f"template emitted a {type(value).__name__}; only str, int, bool, list and dict are allowed")


def host_rule(domain: str, path: str | None = None) -> str:
    """A Traefik match rule for a validated host (and path): backticks can never be injected."""
    if not isinstance(domain, str) or not _HOST.fullmatch(domain):
        raise UnsafeValue(f"not a hostname: {domain!r}")
    rule = f"Host(`{domain}`)"
    if path is not None:
        if not _PATH.fullmatch(path):
            raise UnsafeValue(f"not a URL path: {path!r}")
        rule += f" && Path(`{path}`)"
    return rule


def regex_literal(text: str) -> str:
    """Anchored regular expression (Go RE2 syntax) that matches exactly text."""
    return "^" + _REGEX_META.sub(r"\\\1", text) + "$"


def k8s_literal(text: str) -> str:
    """text for a container's command, args or env value, with Kubernetes' `$(VAR)` expansion
    disarmed: `$$` is Kubernetes' escape for a literal `$`. Used for project values in
    platform-owned containers, whose env holds credentials the project must not read."""
    return text.replace("$", "$$")


def json_text(value) -> str:
    """Compact JSON text of value (an HTTP request body), keys in the order written, non-ASCII
    escaped; `{{ }}` then quotes the text as one YAML string, like any other."""
    return json.dumps(value, separators=(",", ":"))


def argo_expression(text: str) -> str:
    """`{{...}}` text for Argo Workflows, which shares Jinja's delimiters."""
    return "{{" + text + "}}"


def _bytecode_cache():
    """Compiled templates cached on disk: compiling them costs more than the rest of a run.

    Jinja keys entries by template source checksum and writes them atomically, in a directory
    it checks is ours (mode 0700) under the temp dir; without one, templates compile each run.
    """
    import jinja2

    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


def partials_loader(root: str = TEMPLATES):
    """The templates, each with its partials written in (see the module's docstring). The bytecode
    cache's checksum is of this text, so a changed partial recompiles the templates using it."""
    import jinja2

    class PartialsLoader(jinja2.FileSystemLoader):
        def get_source(self, environment, template):
            source, filename, uptodate = super().get_source(environment, template)
            inlined = _INLINE.sub(lambda m: self.get_source(environment, m.group(1))[0], source)
            return inlined, filename, uptodate

    return PartialsLoader(root)


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
        loader=partials_loader(),
        undefined=jinja2.StrictUndefined,
        finalize=yaml_scalar,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(host_rule=host_rule, regex_literal=regex_literal, k8s_literal=k8s_literal, json_text=json_text)
    env.globals.update(argo=argo_expression)
    # Modules and the template engine live as long as the process: the cyclic collector need not
    # scan them again each time a render's allocations trigger it (docs.python.org/3/library/gc.html#gc.freeze).
    gc.freeze()
    return env


def render_text(project: Project, settings: Settings) -> str:
    env = environment()
    context = {"project": project, "settings": settings, "isolation": isolation.build(project, settings)}
    return "".join(env.get_template(name).render(context) for name in TEMPLATE_NAMES)


def render(project: Project, settings: Settings) -> list[dict]:
    """Kubernetes objects of the project, in template order; placeholders still unresolved."""
    try:
        text = render_text(project, settings)
    except UnsafeValue as exc:
        raise Failure(run_problem(f"render: {exc}", "render")) from None
    try:
        return fastyaml.load_all(text)
    except fastyaml.Unsupported:  # text the fast reader does not know: PyYAML reads it, or says why not
        return load_with_pyyaml(text)


def load_with_pyyaml(text: str) -> list[dict]:
    """The documents of the templates' output as PyYAML's safe loader reads them."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError as exc:  # a template bug, never project input: say where
        raise Failure(run_problem(f"render: templates produced invalid YAML: {exc}", "render")) from None
