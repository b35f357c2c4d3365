#!/usr/bin/env bash
# Installs the `helm` CLI from source with `go install` (Go module proxy only; no binary
# downloads), into a cache that survives between runs. Prints the path of the binary.
#   scripts/helm/install-helm.sh            -> ~/.cache/assay/bin/helm (skipped when present)
# Environment: ASSAY_HELM_VERSION (default v3.22.0), ASSAY_HELM_BIN_DIR (default
# ~/.cache/assay/bin). GOMODCACHE / GOCACHE / GOPROXY are honoured as usual.
set -euo pipefail
version="${ASSAY_HELM_VERSION:-v3.22.0}"
bindir="${ASSAY_HELM_BIN_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/assay/bin}"
helm="$bindir/helm"

stamp="$bindir/helm.version"   # "<helm version> <kubernetes version it defaults to>"

have_version() {
  [ -x "$helm" ] && [ -f "$stamp" ] || return 1
  local v
  v="$("$helm" version --template '{{.Version}}' 2>/dev/null || true)"
  [ "$v" = "$version" ] && [ "$(cut -d' ' -f1 "$stamp")" = "$version" ]
}

if have_version; then
  echo "$helm"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$d/go" ] && PATH="$d:$PATH" && break
  done
fi
command -v go >/dev/null 2>&1 || { echo "install-helm: go is not installed (need Go >= 1.24)" >&2; exit 1; }

mkdir -p "$bindir"
echo "install-helm: go install helm.sh/helm/v3/cmd/helm@$version -> $bindir (takes a few minutes the first time)" >&2
start=$(date +%s)
# Stamp the versions the way helm's Makefile does: the helm version (`helm version`) and the
# Kubernetes version that `helm template` / `helm lint` assume without a cluster (client-go's
# minor + 1.x; a plain `go install` would leave helm's built-in default of v1.20).
gomod="$(go mod download -json "helm.sh/helm/v3@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
clientgo="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -1)"
[ -n "$clientgo" ] || { echo "install-helm: cannot find the client-go version of helm $version" >&2; exit 1; }
kminor="$clientgo"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$kminor"
done
GOBIN="$bindir" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" \
  go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version" >&2
echo "$version v1.$kminor" > "$stamp"
echo "install-helm: built in $(( $(date +%s) - start )) s (Kubernetes default v1.$kminor)" >&2
have_version || { echo "install-helm: $helm does not report version $version" >&2; exit 1; }
echo "$helm"
