#!/usr/bin/env bash
# Builds the local control plane from the Go module proxy into the cache (outside the repository):
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, etcd from
# go.etcd.io/etcd/server/v3, kwok from sigs.k8s.io/kwok, plus KWOK's stage configs. Skips what is already built.
# Prints the binary directory on stdout. Safe to run concurrently (a lock serialises builders).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

command -v go >/dev/null || { log "Go is needed once to build the control plane (see README)"; exit 1; }
mkdir -p "$BIN_DIR" "$UPM_CACHE_DIR/build"
exec 9>"$BIN_DIR/.lock"
flock 9
if [ -f "$BIN_DIR/.complete" ]; then echo "$BIN_DIR"; exit 0; fi

report="$BIN_DIR/build-report.tsv"
: >"$report"
timed() { # timed NAME CMD...: run and record wall seconds for the benchmark
  local name=$1; shift; local t0; t0=$(date +%s%N)
  "$@"
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%s\t%d.%d\n' "$name" $((ms / 1000)) $((ms % 1000 / 100)) >>"$report"
}

build_kubernetes() {
  local dir="$UPM_CACHE_DIR/build/kubernetes-v$K8S_VERSION"
  mkdir -p "$dir" && cd "$dir"
  if [ ! -f go.mod ]; then
    # Upstream's go.mod points each staging module at ./staging; replace each with its published v0.N.P.
    local upstream minor
    upstream=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    minor=${K8S_VERSION#*.}
    {
      echo "module upm.local/kubernetes-binaries"
      grep -E '^go [0-9]' "$upstream"
      grep -E '^godebug ' "$upstream" || true
      echo "tool ("
      for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do echo "	k8s.io/kubernetes/cmd/$c"; done
      echo ")"
      echo "require k8s.io/kubernetes v$K8S_VERSION"
      echo "replace ("
      grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$upstream" |
        awk -v v="v0.$minor" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } >go.mod.tmp
    mv go.mod.tmp go.mod
  fi
  go mod tidy
  local pkg=k8s.io/component-base/version cgv=k8s.io/client-go/pkg/version ld="-s -w" kv
  local major=${K8S_VERSION%%.*} minor=${K8S_VERSION#*.}; minor=${minor%%.*}
  for kv in "gitVersion=v$K8S_VERSION" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=clean" \
            "gitCommit=0000000000000000000000000000000000000000" "buildDate=1970-01-01T00:00:00Z"; do
    ld="$ld -X $pkg.$kv -X $cgv.$kv"
  done
  go build -trimpath -tags=selinux,notest -ldflags "$ld" -o "$BIN_DIR/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

# build_module NAME MODULE VERSION GO PACKAGE OUTPUT: build one main package of a published module through a
# throwaway wrapper module (etcd's server module has relative replaces, so `go install` refuses it).
build_module() {
  local name=$1 module=$2 version=$3 golang=$4 pkg=$5 out=$6
  local dir="$UPM_CACHE_DIR/build/$name-v$version"
  mkdir -p "$dir" && cd "$dir"
  printf 'module upm.local/%s-binary\ngo %s\ntool %s\nrequire %s v%s\n' "$name" "$golang" "$pkg" "$module" "$version" >go.mod
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$out" "$pkg"
}

build_etcd() {
  build_module etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" 1.24.0 go.etcd.io/etcd/server/v3 "$BIN_DIR/etcd"
}

build_kwok() {
  build_module kwok sigs.k8s.io/kwok "$KWOK_VERSION" 1.26.0 sigs.k8s.io/kwok/cmd/kwok "$BIN_DIR/kwok"
  # KWOK 0.8 has no built-in stages: ship its own stage manifests (node, pod incl. pod-delete, volume).
  local src
  src=$(go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$BIN_DIR/stages" && mkdir -p "$BIN_DIR/stages"
  cp -r "$src/kustomize/stage/." "$BIN_DIR/stages/"
  chmod -R u+w "$BIN_DIR/stages"
}

# The body is a function so that bash has parsed all of it before it runs (an edit mid-build cannot bite).
main() {
  log "building control plane binaries into $BIN_DIR (cold: about 7 minutes on 2 cores)"
  t0=$(date +%s)
  timed etcd build_etcd
  timed kwok build_kwok
  timed kubernetes build_kubernetes
  printf 'total\t%s\n' "$(( $(date +%s) - t0 ))" >>"$report"
  touch "$BIN_DIR/.complete"
  log "built in $(( $(date +%s) - t0 )) s"
  echo "$BIN_DIR"
}
main "$@"
