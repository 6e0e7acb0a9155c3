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

# --- helm: the official binary, pinned by version and checksum; only the generic image has it.
# Checksums: https://github.com/helm/helm/releases/tag/v4.2.3 (the Helm engine of helm-python-sdk,
# which the tests render with).
FROM python:3.12.12-slim-trixie AS helm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TARGETARCH=amd64
ARG HELM_VERSION=v4.2.3
ARG HELM_SHA256_AMD64=e9b88b4ee95b18c706839c28d3a0220e5bc470e9cd9262410c90793c45ff8b7c
ARG HELM_SHA256_ARM64=21abd9354d39b2cd79a8d76be6912cd137a983cbf997193503fb8a6a6e2f2785
ADD https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz /tmp/helm.tar.gz
RUN case "${TARGETARCH}" in \
        amd64) sum="${HELM_SHA256_AMD64}" ;; \
        arm64) sum="${HELM_SHA256_ARM64}" ;; \
        *) echo "no pinned helm checksum for ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && echo "${sum}  /tmp/helm.tar.gz" | sha256sum --check --strict - \
    && tar -xzf /tmp/helm.tar.gz -C /tmp "linux-${TARGETARCH}/helm" \
    && install -m 0755 "/tmp/linux-${TARGETARCH}/helm" /usr/local/bin/helm \
    && /usr/local/bin/helm version --short

# --- runtime: Python and the virtualenv; no pip, no compilers, no sources
FROM python:3.12.12-slim-trixie AS runtime

LABEL org.opencontainers.image.licenses="Apache-2.0"

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

# --- generic (docker build --target generic): plugin cmp-generic-v1, for Helm charts and plain
# manifests (docs/generic.md), with helm
FROM runtime AS generic

LABEL org.opencontainers.image.title="cmp-plugin-generic" \
      org.opencontainers.image.description="Argo CD config-management plugin: Helm charts and manifests with Vault placeholders resolved"

COPY --from=helm /usr/local/bin/helm /usr/local/bin/helm
COPY manifests/generic/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml

USER 999
WORKDIR /tmp
ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]

# --- final (the default target): plugin cmp-plugin-v1, for project files; no helm
FROM runtime

LABEL org.opencontainers.image.title="cmp-plugin" \
      org.opencontainers.image.description="Argo CD config-management plugin: projects/<name>.yaml to Kubernetes manifests"

COPY plugin.yaml /home/argocd/cmp-server/config/plugin.yaml

USER 999
WORKDIR /tmp
ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]
