# cmp-plugin: Argo CD config-management-plugin sidecar (CMP v2). See docs/argocd.md.
# The image holds the Python renderer and plugin.yaml; argocd-cmp-server itself comes from the
# repo-server's `var-files` volume (/var/run/argocd/argocd-cmp-server), put there by Argo CD's
# copyutil init container.

# --- builder: a self-contained virtualenv with the package and its pinned dependencies
FROM python:3.12.12-slim-trixie AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY docker/constraints.txt docker/constraints.txt
COPY pyproject.toml README.md ./
COPY cmp_plugin cmp_plugin

# The build backend is pinned as well: setuptools from docker/constraints.txt, and the package built
# with it (no build isolation, which would fetch whatever setuptools is newest). Neither it nor pip
# stays in the image.
RUN python -m venv /opt/cmp-plugin \
    && /opt/cmp-plugin/bin/pip install --no-cache-dir --constraint docker/constraints.txt setuptools \
    && /opt/cmp-plugin/bin/pip install --no-cache-dir --no-build-isolation --constraint docker/constraints.txt . \
    && /opt/cmp-plugin/bin/pip uninstall --yes setuptools pip \
    && python -m compileall -q --invalidation-mode unchecked-hash /opt/cmp-plugin/lib \
    && /opt/cmp-plugin/bin/cmp-render --help > /dev/null

# --- final: Python, the virtualenv and plugin.yaml; no pip, no compilers, no sources
FROM python:3.12.12-slim-trixie

LABEL org.opencontainers.image.title="cmp-plugin" \
      org.opencontainers.image.description="Argo CD config-management plugin: projects/<name>.yaml to Kubernetes manifests" \
      org.opencontainers.image.licenses="Apache-2.0"

# uid/gid 999 is the Argo CD user: the repo-server (uid 999) must be able to use our socket.
RUN groupadd --gid 999 argocd \
    && useradd --uid 999 --gid 999 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin argocd

# The root filesystem is read-only in the pod: everything writable lives under /tmp (an emptyDir).
ENV PATH=/opt/cmp-plugin/bin:$PATH \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

COPY --from=builder /opt/cmp-plugin /opt/cmp-plugin
COPY plugin.yaml /home/argocd/cmp-server/config/plugin.yaml

USER 999
WORKDIR /tmp
ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]
