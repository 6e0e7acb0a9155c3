"""Resolve placeholders in rendered documents from Vault, argocd-vault-plugin style.

Three passes, so nothing is read from Vault while the input itself is wrong:
1. plan: find placeholders, check syntax, scope, annotations and modifiers;
2. check every path against the project's prefix and AVP_PATH_VALIDATION;
3. read each distinct (path, version, kv-version) once, then substitute.
Every problem of a run is collected and raised together as one Failure.
"""

from __future__ import annotations

import base64
import copy
import logging
from typing import Mapping

from cmp_plugin.problems import Failure, Problem, run_problem
from cmp_plugin.secrets import grammar, modifiers
from cmp_plugin.secrets.config import load_rules, load_vault_config
from cmp_plugin.secrets.documents import (ANN_KV, ANN_PATH, ANN_REMOVE, ANN_VERSION, Doc, Slot, base64_template,
                                          describe, find_placeholders, location, parse_bool, strings)
from cmp_plugin.secrets.paths import Scope, canonical, path_problems, version_problem
from cmp_plugin.secrets.values import b64decode_std, stringify, to_plain

log = logging.getLogger("cmp_plugin.secrets")

SCOPE = "secrets are resolved only in the data and stringData of Secret (v1) objects"
STRING_KINDS = ("Secret", "ConfigMap")  # every value must stay a string
_MISSING = object()


class Site:
    """A string holding placeholders, and what it needs."""

    __slots__ = ("doc", "slot", "template", "encoded", "tokens", "stages", "reads")

    def __init__(self, doc: Doc, slot: Slot, template: str, encoded: bool, tokens: list):
        self.doc = doc
        self.slot = slot
        self.template = template  # the text searched: the value, or its base64-decoded form
        self.encoded = encoded  # a base64 Secret value: re-encode the result
        self.tokens = tokens
        self.stages: list[list] = []  # checked modifier stages, per token
        self.reads: list = []  # (path, version, kv) per token; None for generic ones

    def where(self) -> str:
        return f"{self.doc.label} {location(self.slot.parts)}"


def _problem(where: str, message: str, rule: str = "") -> Problem:
    return run_problem(message.replace("\n", "\\n"), rule)._replace(path=where)


def _short(template: str) -> str:
    return template if len(template) <= 200 else template[:200] + "..."


def _ph_error(site: Site, token: grammar.Token, message: str) -> str:
    """AVP's shape: `MESSAGE for placeholder PH in string KEY: TEMPLATE`."""
    return f"{message} for placeholder {token.name or token.text} in string {site.slot.field}: {_short(site.template)}"


def resolve_documents(docs: list, *, project: str = "", prefix: str = "", env: Mapping[str, str],
                      secrets_only: bool = True, scope: Scope | None = None, files: list[str] | None = None) -> list:
    """New documents with every placeholder resolved from Vault; raises Failure.

    `secrets_only` (the default, and what the renderer uses) allows placeholders only in the
    data and stringData of Secrets; anywhere else they are errors. False resolves them wherever
    argocd-vault-plugin does (`cmp-render resolve`): any string value of any kind, and documents
    with `avp.kubernetes.io/ignore` pass through unchanged.
    Paths must lie below `prefix` (project `project`), or in `scope` when given. `files` names
    the file of each document, for messages.
    """
    out = copy.deepcopy(docs)
    problems: list[Problem] = []
    infos = {i: describe(i, doc) for i, doc in enumerate(out) if isinstance(doc, dict)}
    _unique_labels(infos)
    sites = [site for i, info in infos.items() for site in _plan(info, out[i], secrets_only, problems)]
    if not sites:
        _raise(problems, infos, files)
        return out
    scope, rules = _run_scope(scope, prefix, project, env, problems, infos, files)
    doc_reads = _check_paths(sites, infos, scope, rules, problems)
    _raise(problems, infos, files)
    results = _read_all(sites, doc_reads, env)
    _apply(sites, infos, results, doc_reads, problems)
    _raise(problems, infos, files)
    _refuse_leftovers(out, infos, secrets_only, files)
    return out


def _run_scope(scope: Scope | None, prefix: str, project: str, env: Mapping[str, str], problems: list[Problem],
               infos: dict[int, Doc], files: list[str] | None):
    """The run's Scope and Rules: the settings that decide which reads happen, checked first."""
    try:
        rules = load_rules(env)
    except Failure as exc:
        raise Failure(problems + exc.problems) from None
    scope = scope or Scope.project(prefix, project)
    if scope.refusal:
        raise Failure(_with_headers(problems, infos, files) + [run_problem(scope.refusal, "vault-prefix")])
    bad_prefixes = scope.prefix_problems()
    if bad_prefixes:
        raise Failure(problems + [run_problem(f"{m} (CMP_VAULT_PREFIX)" if project else m, "vault-prefix")
                                  for m in bad_prefixes])
    return scope, rules


def _read_all(sites: list[Site], doc_reads: dict, env: Mapping[str, str]) -> dict:
    """Each distinct (path, version, kv) read once: its data, or the VaultError it failed with."""
    from cmp_plugin.secrets.client import VaultClient, VaultError  # hvac only when needed

    client = VaultClient(load_vault_config(env))
    results: dict[tuple[str, str, str], object] = {}
    try:
        for key in dict.fromkeys([r for s in sites for r in s.reads if r] + list(doc_reads.values())):
            try:
                results[key] = client.read(*key)
            except VaultError as exc:
                results[key] = exc
    finally:
        client.close()
    log.info("vault: %d requests (%d logins, %d reads) for %d placeholders",
             client.requests, client.logins, client.reads, sum(len(s.tokens) for s in sites))
    return results


def _apply(sites: list[Site], infos: dict[int, Doc], results: dict, doc_reads: dict,
           problems: list[Problem]) -> None:
    """Substitute every site; a failure that stops every read (no login) is said once."""
    from cmp_plugin.secrets.client import VaultError

    fatal: dict[str, list[str]] = {}
    for i, key in doc_reads.items():
        err = results[key]
        if isinstance(err, VaultError) and err.fatal:
            fatal.setdefault(str(err), []).append(f"{infos[i].label} avp.kubernetes.io/path")
        elif isinstance(err, VaultError):
            problems.append(_problem(f"{infos[i].label} metadata.annotations['{ANN_PATH}']", str(err)))
    removals: list[Slot] = []
    for site in sites:
        _substitute(site, results, doc_reads, problems, fatal, removals)
    for message, wheres in fatal.items():
        more = f" and {len(wheres) - 1} more" if len(wheres) > 1 else ""
        problems.append(run_problem(f"{message}; placeholders not resolved: {wheres[0]}{more}"))
    for slot in removals:
        slot.container.pop(slot.key, None)


def _refuse_leftovers(out: list, infos: dict[int, Doc], secrets_only: bool, files: list[str] | None) -> None:
    """A Vault value that itself looks like a placeholder is never resolved again, nor left in
    the output. In AVP's mode a generic `<...>` inside a value is just text (a password may hold
    `<` and `>`); only `<path:` counts."""
    left = find_placeholders([d if secrets_only or not (isinstance(d, dict) and infos[i].ignored) else None
                              for i, d in enumerate(out)], generic=secrets_only)
    if left:
        problems = [_problem(where.replace(" (base64-decoded)", ""), "the resolved value looks like a placeholder"
                             " itself; values are not resolved again, and no placeholder may reach the output",
                             "secrets-left") for where, _ in left]
        raise Failure(_with_headers(problems, infos, files))


def _unique_labels(infos: dict[int, Doc]) -> None:
    """Two documents of the same kind and name (several files) get their number in messages."""
    seen: dict[str, int] = {}
    for doc in infos.values():
        seen[doc.label] = seen.get(doc.label, 0) + 1
    for doc in infos.values():
        if seen[doc.label] > 1:
            doc.label = f"{doc.label} (document {doc.index + 1})"


def _raise(problems: list[Problem], infos: dict[int, Doc], files: list[str] | None = None) -> None:
    if problems:
        raise Failure(_with_headers(problems, infos, files))


def _with_headers(problems: list[Problem], infos: dict[int, Doc], files: list[str] | None = None) -> list[Problem]:
    """Problems grouped by document, each group under AVP's header line (people grep for it)."""
    by_label = {d.label: d for d in infos.values()}
    labels = sorted(by_label, key=len, reverse=True)
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        label = next((lb for lb in labels if p.path == lb or p.path.startswith(lb + " ")), "")
        groups.setdefault(label, []).append(p)
    out: list[Problem] = []
    for label, group in groups.items():
        if label:
            group = [_problem(label, "Replace: could not replace all placeholders in Template:")] + group
            if files:
                group = [p._replace(file=files[by_label[label].index]) for p in group]
        out += group
    return out


# ---- pass 1: plan --------------------------------------------------------------------------

def _plan(doc: Doc, node: dict, secrets_only: bool, problems: list[Problem]) -> list[Site]:
    _annotation_problems(doc, problems)
    if doc.ignored and not secrets_only:
        return []  # AVP: emitted unchanged
    if doc.ignored:
        for slot in strings(node):
            if grammar.scan(slot.value, False):
                problems.append(_problem(f"{doc.label} {location(slot.parts)}",
                                         f"{doc.label} has avp.kubernetes.io/ignore, so its placeholders would"
                                         " reach the output unresolved; remove the placeholder or the annotation",
                                         "secrets-ignored"))
        return []
    sites = []
    for slot in strings(node):
        site = _site(doc, slot, secrets_only, problems)
        if site and _check_modifiers(site, problems):
            sites.append(site)
    return sites


def _annotation_problems(doc: Doc, problems: list[Problem]) -> None:
    ann = doc.annotations
    for name in (ANN_REMOVE, "avp.kubernetes.io/ignore"):
        if name in ann and parse_bool(ann[name]) is None:
            problems.append(_problem(f"{doc.label} metadata.annotations['{name}']",
                                     f"{name}: expected true or false, got {ann[name]!r}", "avp-annotation"))
    if doc.ignored:
        return
    if ANN_KV in ann and ann[ANN_KV] not in ("1", "2"):
        problems.append(_problem(f"{doc.label} metadata.annotations['{ANN_KV}']",
                                 f"Unsupported kvVersion specified: {ann[ANN_KV]!r}", "avp-annotation"))
    if parse_bool(ann.get(ANN_REMOVE, "")) and doc.kind not in STRING_KINDS:
        problems.append(_problem(doc.label, f"{ANN_REMOVE} annotation can only be used on Secret or ConfigMap"
                                            " resources", "avp-annotation"))


def _site(doc: Doc, slot: Slot, secrets_only: bool, problems: list[Problem]) -> Site | None:
    """The Site of one string, if it holds placeholders that may be resolved there."""
    template, encoded = slot.value, False
    if doc.kind == "Secret" and not slot.is_key:
        decoded = base64_template(slot.value, doc.generic)
        if decoded is not None:
            template, encoded = decoded, True
    # Map keys are never resolved (nor by AVP); in AVP's mode only `<path:` in one is an error.
    tokens = grammar.scan(template, doc.generic and (secrets_only or not slot.is_key))
    if not tokens:
        return None
    where = f"{doc.label} {location(slot.parts)}"
    if slot.is_key:
        problems.append(_problem(where, f"placeholder {tokens[0].text} is in a map key; only values are"
                                        " resolved", "secrets-scope"))
        return None
    if secrets_only and not (doc.secret and len(slot.parts) == 2 and slot.parts[0] in ("data", "stringData")):
        if doc.secret:
            what = "a Secret's " + location(slot.parts[:1])
        elif doc.kind == "Secret":
            what = "a Secret that is not apiVersion v1"
        else:
            what = f"a {doc.kind or 'document without kind'}"
        problems.append(_problem(where, f"placeholder {tokens[0].text} is not allowed in {what}: {SCOPE}",
                                 "secrets-scope"))
        return None
    return Site(doc, slot, template, encoded, tokens)


def _check_modifiers(site: Site, problems: list[Problem]) -> bool:
    """Fill the site's checked modifier stages; False if a token is malformed or a stage is wrong."""
    ok = True
    where = site.where()
    for token in site.tokens:
        if token.kind == "malformed":
            problems.append(_problem(where, f"malformed placeholder {token.text}: {token.error}", "placeholder"))
            ok = False
            continue
        stages = []
        for text in token.stages:
            try:
                stages.append(modifiers.check(text))
            except modifiers.ModifierError as exc:
                message = f"{exc.name}: {exc}" if exc.name else str(exc)
                problems.append(_problem(where, _ph_error(site, token, message), "modifier"))
                ok = False
        site.stages.append(stages)
    return ok


# ---- pass 2: paths -------------------------------------------------------------------------

def _check_paths(sites: list[Site], infos: dict[int, Doc], scope: Scope, rules,
                 problems: list[Problem]) -> dict[int, tuple[str, str, str]]:
    """Fill each site's reads; return the annotation read of each document that needs one."""
    doc_reads: dict[int, tuple[str, str, str]] = {}
    checked_docs: set[int] = set()
    for site in sites:
        doc = site.doc
        kv = doc.annotations.get(ANN_KV) or rules.kv_version
        for token in site.tokens:
            if token.kind == "generic":
                site.reads.append(None)
                if doc.index in checked_docs:
                    continue
                checked_docs.add(doc.index)
                where = f"{doc.label} metadata.annotations['{ANN_PATH}']"
                path = doc.annotations.get(ANN_PATH, "")
                version = doc.annotations.get(ANN_VERSION, "").strip() if kv == "2" else ""
                if not path:
                    problems.append(_problem(where, f"generic placeholder {token.text} needs a Vault path in the"
                                                    f" {ANN_PATH} annotation", "placeholder"))
                    continue
                bad = path_problems(path, scope, rules.path_validation)
                if version and version_problem(version):
                    bad.append(("avp-annotation", f"{ANN_VERSION}: {version_problem(version)}"))
                for rule, msg in bad:
                    problems.append(_problem(where, msg, rule))
                if not bad:
                    doc_reads[doc.index] = (canonical(path), version, kv)
                continue
            where = site.where()
            bad = path_problems(token.path, scope, rules.path_validation)
            if kv == "2" and token.version and version_problem(token.version):  # AVP ignores it on KV v1
                bad.append(("placeholder", f"{version_problem(token.version)} in {token.text}"))
            for rule, msg in bad:
                problems.append(_problem(where, msg, rule))
            site.reads.append((canonical(token.path), token.version if kv == "2" else "", kv))
    return doc_reads


# ---- pass 3: substitute --------------------------------------------------------------------

def _substitute(site: Site, results: dict, doc_reads: dict, problems: list[Problem],
                fatal: dict[str, list[str]], removals: list[Slot]) -> None:
    doc, slot, text = site.doc, site.slot, site.template
    where = site.where()
    pieces: list[str] = []
    typed = _MISSING
    errors: list[str] = []
    missing = False
    pos = 0
    for token, stages, read in zip(site.tokens, site.stages, site.reads):
        pieces.append(text[pos:token.start])
        pos = token.end
        pieces.append(token.text)
        data = _data_for(site, token, read, results, doc_reads, fatal, errors)
        if data is None:
            continue
        value = data.get(token.key)
        if value is None:
            missing = True
            errors.append(_ph_error(site, token, "replaceString: missing Vault value"))
            continue
        try:
            for stage in stages:
                value = modifiers.apply(stage, value)
        except modifiers.ModifierError as exc:
            errors.append(_ph_error(site, token, f"{exc.name}: {exc}"))
            continue
        if isinstance(value, str):
            pieces[-1] = value
        elif doc.kind in STRING_KINDS:
            pieces[-1] = stringify(value)  # in place; AVP would drop the surrounding text or crash
        else:
            typed = value  # AVP: a typed result replaces the whole field, the last one wins
    pieces.append(text[pos:])
    if missing and parse_bool(doc.annotations.get(ANN_REMOVE, "")) is True and isinstance(slot.container, dict):
        errors = [e for e in errors if not e.startswith("replaceString: missing Vault value")]
        if not errors:
            removals.append(slot)
            return
    if errors:
        problems.extend(_problem(where, e) for e in errors)
        return
    _store(site, "".join(pieces) if typed is _MISSING else to_plain(typed), problems)


def _data_for(site: Site, token, read, results: dict, doc_reads: dict, fatal: dict[str, list[str]],
              errors: list[str]) -> dict | None:
    """The secret a token reads, or None when its read failed (the failure is recorded once)."""
    from cmp_plugin.secrets.client import VaultError

    if read is None:  # generic: the document's annotation path, reported once for the document
        data = results.get(doc_reads.get(site.doc.index))
        return None if isinstance(data, VaultError) else data
    data = results[read]
    if not isinstance(data, VaultError):
        return data
    if data.fatal:
        fatal.setdefault(str(data), []).append(f"{site.where()} {token.name}")
    else:
        errors.append(f"{data} (placeholder {token.name})")
    return None


def _store(site: Site, result, problems: list[Problem]) -> None:
    doc, slot = site.doc, site.slot
    if site.encoded:
        result = base64.b64encode(stringify(result).encode()).decode()
    elif doc.kind == "Secret" and slot.parts[0] == "data" and isinstance(result, str) and not _is_base64(result):
        problems.append(_problem(site.where(), f"the value resolved for {location(slot.parts)} is not valid base64;"
                                               " Secret data must be base64-encoded: add `| base64encode` or use"
                                               " stringData", "secret-data-base64"))
        return
    slot.container[slot.key] = result


def _is_base64(text: str) -> bool:
    try:
        b64decode_std(text)
        return True
    except ValueError:
        return False
