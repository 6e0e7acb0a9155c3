#!/bin/sh
# One-time Vault/OpenBao setup for the cmp-plugin sidecar: the Kubernetes auth method.
#
#   VAULT=bao ./setup-auth.sh https://kubernetes.example.com:6443 /path/to/cluster-ca.crt
#
# Vault reviews the sidecar's projected token (audience "vault") with the TokenReview API, using
# the token itself as reviewer (manifests/rbac.yaml grants system:auth-delegator for that).
# Run with VAULT_ADDR and a token allowed to manage auth methods (e.g. VAULT_TOKEN) in the env.
set -eu
VAULT=${VAULT:-vault}
MOUNT=${MOUNT:-kubernetes}
host=${1:?usage: setup-auth.sh KUBERNETES_API_URL [CA_CERT_FILE]}
ca=${2:-}

if ! "$VAULT" auth list -format=json | grep -q "\"$MOUNT/\""; then
  "$VAULT" auth enable -path="$MOUNT" kubernetes
fi
if [ -n "$ca" ]; then
  "$VAULT" write "auth/$MOUNT/config" kubernetes_host="$host" kubernetes_ca_cert=@"$ca"
else
  "$VAULT" write "auth/$MOUNT/config" kubernetes_host="$host"
fi
