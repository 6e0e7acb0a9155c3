"""`helm template` through helm-python-sdk (Helm's Go SDK, the same engine as the pinned helm
binary of the sidecar image, v4.2.3), for the tests: no helm binary is installed here.

* `SdkHelm` is a HelmRunner (cmp_plugin.generic.helm): the in-process tests render with it.
* `main(argv)` is a `helm` command for the conformance harness's sidecar PATH: it accepts
  exactly the argv shapes HelmBinary.argv() builds (`template RELEASE CHART [--namespace NS]
  [--values F]... [--set* EXPR]... [switches] [--kube-version V] [--api-versions V]`) and fails
  on anything else, so the plugin's real argv is what gets rendered.

Values are composed as Helm's `values.Options.MergeValues` does: the -f files in order (maps
merged deeply, the later file winning), then --set-json, --set, --set-string, --set-file,
--set-literal, each parsed by Helm's own strvals parser (through the SDK) and merged in. The
output is what `helm template` prints: `---` and `# Source: PATH` before each manifest (templates
in path order; CRDs first with --include-crds; hooks unless --no-hooks; test hooks unless
--skip-tests). --kube-version and --api-versions have no SDK equivalent: refused here.
"""

from __future__ import annotations

import sys

import yaml

from cmp_plugin.generic.helm import SET_FLAGS, SWITCHES, HelmRequest, HelmRunner
from cmp_plugin.problems import Failure, run_problem


def _merge(base: dict, overlay: dict) -> dict:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _hooks(text: str) -> set[str]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return set()
    annotations = ((doc or {}).get("metadata") or {}).get("annotations") or {} if isinstance(doc, dict) else {}
    return {h.strip() for h in str(annotations.get("helm.sh/hook", "")).split(",") if h.strip()}


class SdkHelm(HelmRunner):
    def __init__(self):
        self.calls: list[HelmRequest] = []

    def values(self, request: HelmRequest) -> dict:
        import helm_python as helm

        values: dict = {}
        for path in request.value_files:
            with open(path, encoding="utf-8") as fh:
                loaded = yaml.safe_load(fh) or {}
            if not isinstance(loaded, dict):
                raise Failure(run_problem(f"helm template failed: {path}: values must be a map", "helm"))
            _merge(values, loaded)
        parsers = {"--set-json": helm.parse_set_json, "--set": helm.parse_set_string,
                   "--set-string": helm.parse_set_string_values, "--set-file": helm.parse_set_file,
                   "--set-literal": helm.parse_set_literal}
        for flag in SET_FLAGS:
            for used, expr in request.sets:
                if used == flag:
                    try:
                        _merge(values, parsers[flag](expr))
                    except helm.HelmError as exc:
                        raise Failure(run_problem(f"helm template failed: {flag} {exc}", "helm")) from None
        return values

    def template(self, request: HelmRequest, timeout: float) -> str:
        import helm_python as helm

        self.calls.append(request)
        if request.options:
            raise Failure(run_problem("helm-python-sdk cannot render with --kube-version/--api-versions", "helm"))
        values = self.values(request)
        try:
            with helm.Chart.load(request.chart) as chart:
                rendered = chart.render(values, name=request.release, namespace=request.namespace or "default")
                crds = chart.crds if "--include-crds" in request.switches else []
        except helm.HelmError as exc:
            raise Failure(run_problem(f"helm template failed: {exc}", "helm")) from None
        out = [f"---\n# Source: {crd['filename']}\n{crd['data']}" for crd in crds]
        for path in sorted(rendered):
            text = rendered[path]
            if path.endswith("NOTES.txt") or not text.strip():
                continue
            hooks = _hooks(text)
            if hooks and ("--no-hooks" in request.switches or ("--skip-tests" in request.switches and
                                                                  hooks & {"test", "test-success"})):
                continue
            out.append(f"---\n# Source: {path}\n{text}")
        return "".join(out)


def parse_argv(argv: list[str]) -> HelmRequest:
    """HelmBinary.argv()'s shape, back into a HelmRequest; ValueError for anything else."""
    if len(argv) < 3 or argv[0] != "template":
        raise ValueError(f"unexpected helm arguments: {argv}")
    release, chart, rest = argv[1], argv[2], argv[3:]
    namespace, files, sets, switches, options = "", [], [], [], []
    i = 0
    while i < len(rest):
        flag = rest[i]
        if flag in SWITCHES:
            switches.append(flag)
            i += 1
            continue
        if i + 1 >= len(rest) or flag not in ("--namespace", "--values", "--kube-version", "--api-versions") + SET_FLAGS:
            raise ValueError(f"unexpected helm argument: {flag}")
        value = rest[i + 1]
        i += 2
        if flag == "--namespace":
            namespace = value
        elif flag == "--values":
            files.append(value)
        elif flag in SET_FLAGS:
            sets.append((flag, value))
        else:
            options.append((flag, value))
    return HelmRequest(chart, release, namespace, files, sets, switches, options)


def main(argv: list[str]) -> int:
    try:
        request = parse_argv(argv)
        sys.stdout.write(SdkHelm().template(request, timeout=60))
    except ValueError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except Failure as failure:
        sys.stderr.write("".join(f"Error: {p.message}\n" for p in failure.problems))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
