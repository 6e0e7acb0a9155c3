"""kubernetes-validate's `validate()` with each kind's validator built once.

The library re-reads its schema files (a multi-megabyte _definitions.json included) and builds a
new registry and validator on every call; the render and conformance tests validate thousands of
objects. This module makes the same choices as kubernetes_validate.utils.validate (schema
directory, file name, registry, Draft 2020-12) and raises the same exceptions."""

from __future__ import annotations

import functools
import re

import jsonschema
import kubernetes_validate.utils as kv
from referencing import Registry, Resource

ValidationError = kv.ValidationError
SchemaNotFoundError = kv.SchemaNotFoundError


@functools.cache
def latest_version() -> str:
    return kv.latest_version()


@functools.cache
def _schema_version(desired: str) -> str:
    if kv.major_minor(desired) > latest_version():
        raise kv.VersionNotSupportedError(version=kv.major_minor(desired))
    return [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(desired)][-1]


@functools.cache
def _definitions(schema_dir: str, desired: str) -> Resource:
    return Resource.from_contents(kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", desired))


@functools.cache
def _validator(schema_dir: str, kind: str, api_version: str, desired: str):
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{api_version}.json", desired)
    except FileNotFoundError:
        return None
    registry = _definitions(schema_dir, desired) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate(data: dict, desired_version: str, strict: bool = False) -> str:
    """kubernetes_validate.validate(data, desired_version, strict)."""
    desired = desired_version[1:] if desired_version.startswith("v") else desired_version
    version = _schema_version(desired)
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", data["apiVersion"])
    schema_dir = f"v{version}-local" + ("-strict" if strict else "")
    validator = _validator(schema_dir, data["kind"], api_version, desired)
    if validator is None:
        raise SchemaNotFoundError(version=kv.major_minor(desired), kind=data["kind"], api_version=data["apiVersion"])
    try:
        validator.validate(data)
    except jsonschema.ValidationError as exc:
        raise ValidationError(exc, version=kv.major_minor(version)) from None
    return kv.major_minor(version)
