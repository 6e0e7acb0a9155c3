"""Realistic project files for the bump tests (imported by the test modules)."""

from __future__ import annotations

import difflib

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
SHA2 = "89e6c98d92887913cadf06b2adb97f26cde4849b"
OLD = "0123456789abcdef0123456789abcdef01234567"

# Two-space indentation, comments and blank lines everywhere, every quoting style, a flow mapping.
SHOP = """\
# Project "shop": the storefront and its API.
# Bumped by CI: see docs/ci-loop.md.

applications:
  # The public API.
  - name: api
    git:
      type: github
      owner: myorg
      repo: "shop-api"      # renamed in 2025
      branch: 'main'
      hash: ~               # set by CI

    port: 8080
    domains: [api.shop.example.com]

  - name: web
    git:
      type: github
      owner: myorg
      repo: shop-web
      branch: main
      hash: "0123456789abcdef0123456789abcdef01234567"
      pushedAt: "2026-11-01T10:00:00Z"
    port: 80
    domains:
      - shop.example.com
      - www.shop.example.com

  - name: worker
    git: {type: github, owner: myorg, repo: shop-worker, branch: main, hash: ''}
    port: 9000

databases:
  - name: pg
    type: postgres
    version: "16"
    port: 5432
    size: 5Gi   # grow with care
"""

# Four-space indentation with the dash inside it, as in the seed's values-example.yaml.
SEED = """\
applications:
    - name: api
      git:
          type: github
          owner: myorg
          repo: my-api
          branch: main
          hash: ~
      port: 8080
      domains:
          - api.example.com

    - name: frontend
      git:
          type: github
          owner: myorg
          repo: my-frontend
          branch: main
          hash: ~
      port: 80
      domains:
          - www.example.com
          - example.com

databases:
    - name: mysql
      type: mysql
      version: "8.0"
      port: 3306
      size: 5Gi
"""


def many_apps(n: int) -> str:
    """A file with n applications app0..app{n-1}, each `hash: ~`."""
    out = ["# generated for the concurrency test\n", "applications:\n"]
    for i in range(n):
        out.append(f"  - name: app{i}   # number {i}\n    git:\n      owner: myorg\n      repo: app{i}\n"
                   f"      branch: main\n      hash: ~\n    port: {8000 + i}\n\n")
    return "".join(out)


def hunks(old: str, new: str) -> list[tuple[list[str], list[str]]]:
    """The changed lines, as (old lines, new lines) per hunk; everything else is byte-identical."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [(a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]
