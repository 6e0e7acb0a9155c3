#!/bin/sh
# Per-project Vault/OpenBao policy and Kubernetes-auth role for the cmp-plugin sidecar.
#
#   VAULT=bao ./setup-project.sh shop
#
# Creates policy cmp-shop (read kv/data/shop and kv/data/shop/*, from project-policy.hcl.tmpl)
# and role cmp-shop, which the sidecar (ServiceAccount argocd/argocd-repo-server, token audience
# "vault") logs in as while it renders project shop (AVP_K8S_ROLE=cmp-{project}).
# Environment: VAULT_ADDR and an admin token; PREFIX (default kv/data/{project}, like
# CMP_VAULT_PREFIX), MOUNT (kubernetes), SA_NAME (argocd-repo-server), SA_NAMESPACE (argocd).
#
# With OPERATOR=1 (the external-secrets and vault-secrets-operator modes, CMP_SECRETS_MODE) it
# also creates role cmp-{project}-secrets (CMP_SECRETS_VAULT_ROLE) for the ServiceAccount
# {project}-secrets in namespace {project}, which the operator logs in as: the same read-only
# policy, so the operator reads exactly what the sidecar could.
set -eu
VAULT=${VAULT:-vault}
MOUNT=${MOUNT:-kubernetes}
SA_NAME=${SA_NAME:-argocd-repo-server}
SA_NAMESPACE=${SA_NAMESPACE:-argocd}
project=${1:?usage: setup-project.sh PROJECT}
case "$project" in
  *[!a-z0-9-]* | [!a-z]* | *-) echo "setup-project.sh: bad project name: $project" >&2; exit 2 ;;
esac
template=${PREFIX:-kv/data/\{project\}}
prefix=$(printf '%s' "$template" | sed "s/{project}/$project/g")
here=$(dirname "$0")

sed -e "s#{prefix}#$prefix#g" -e "s#{project}#$project#g" "$here/project-policy.hcl.tmpl" \
  | "$VAULT" policy write "cmp-$project" -

# role NAME SERVICE_ACCOUNT NAMESPACE TTL MAX_TTL: a Kubernetes auth role with the project's policy
role() {
  "$VAULT" write "auth/$MOUNT/role/$1" \
    bound_service_account_names="$2" \
    bound_service_account_namespaces="$3" \
    audience=vault \
    token_policies="cmp-$project" \
    token_ttl="$4" \
    token_max_ttl="$5"
}

role "cmp-$project" "$SA_NAME" "$SA_NAMESPACE" 5m 10m
if [ "${OPERATOR:-}" = 1 ]; then
  role "cmp-$project-secrets" "$project-secrets" "$project" 10m 1h
fi
