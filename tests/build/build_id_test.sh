#!/usr/bin/env bash
# The build identity (WELMEC 7.2 software identification): cmake/build_id.cmake, run at every
# build, names the revision a binary was built from, and the built binary carries it.
#   tests/build/build_id_test.sh ASSAY_BINARY BUILD_DIR SOURCE_DIR
set -euo pipefail
assay=$1 build=$2 src=$3
script=$src/cmake/build_id.cmake
work=$(mktemp -d "${TMPDIR:-/tmp}/assay-build-id.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# The identity the script writes into OUT for the repository REPO (env as given).
identity() {  # REPO OUT
  cmake -DSOURCE_DIR="$1" -DOUTPUT="$2" -P "$script" >/dev/null
  sed -n 's/^const char kBuildId\[\] = "\(.*\)";$/\1/p' "$2"
}
expect() {  # WHAT GOT WANT
  [[ "$2" == "$3" ]] || fail "$1: build identity '$2', expected '$3'"
  echo "ok: $1: $2"
}
# The override this build may have been made with (checked against the binary at the end);
# the scratch-repository cases below run without it.
build_override=${ASSAY_BUILD_ID:-}
unset ASSAY_BUILD_ID
# Repositories are found only inside $work ($work/plain must have none even when TMPDIR lies
# inside a checkout).
export GIT_CEILING_DIRECTORIES=$work

# A repository with one commit.
repo=$work/repo out=$work/build_id.cpp
mkdir -p "$repo"
git -C "$repo" init -q
git -C "$repo" -c user.name=t -c user.email=t@t commit -q --allow-empty -m one
echo a >"$repo/tracked" && git -C "$repo" add tracked
git -C "$repo" -c user.name=t -c user.email=t@t commit -q -m two
rev=$(git -C "$repo" rev-parse --short=12 HEAD)
expect "clean tree" "$(identity "$repo" "$out")" "$rev"

# Unchanged identity: the file is not rewritten (nothing recompiles).
touch -d '2001-01-01 00:00:00' "$out"
identity "$repo" "$out" >/dev/null
[[ $(stat -c %Y "$out") == $(date -d '2001-01-01 00:00:00' +%s) ]] ||
  fail "an unchanged identity rewrote $out"
echo "ok: unchanged identity leaves the file alone"

# Untracked files do not make a tree dirty; a changed tracked file does.
echo x >"$repo/untracked"
expect "untracked file" "$(identity "$repo" "$out")" "$rev"
echo b >"$repo/tracked"
expect "modified tracked file" "$(identity "$repo" "$out")" "$rev-dirty"
git -C "$repo" add tracked
expect "staged change" "$(identity "$repo" "$out")" "$rev-dirty"

# A new commit: the next build names it (what configure-time identities got wrong).
git -C "$repo" -c user.name=t -c user.email=t@t commit -q -m three
rev3=$(git -C "$repo" rev-parse --short=12 HEAD)
[[ $rev3 != "$rev" ]] || fail "test set-up: the commit did not change HEAD"
expect "after a commit" "$(identity "$repo" "$out")" "$rev3"

# No git metadata: "unknown", or what ASSAY_BUILD_ID names (the container image's build).
plain=$work/plain && mkdir -p "$plain"
expect "no repository" "$(identity "$plain" "$out")" "unknown"
expect "ASSAY_BUILD_ID" "$(ASSAY_BUILD_ID=v0.1.0+abc123 identity "$plain" "$out")" "v0.1.0+abc123"
expect "ASSAY_BUILD_ID over git" "$(ASSAY_BUILD_ID=release-7 identity "$repo" "$out")" "release-7"
# An identity that would break the C string, a record or a metric label is refused.
for bad in 'a"b' 'a b' "$(printf 'x%.0s' {1..65})"; do
  if err=$(ASSAY_BUILD_ID="$bad" cmake -DSOURCE_DIR="$plain" -DOUTPUT="$work/bad.cpp" \
    -P "$script" 2>&1); then
    fail "ASSAY_BUILD_ID='$bad' was accepted"
  fi
  grep -q "must be 1-64 characters" <<<"$(tr -s ' \n' '  ' <<<"$err")" || fail "ASSAY_BUILD_ID='$bad': unclear error: $err"
  [[ ! -e $work/bad.cpp ]] || fail "ASSAY_BUILD_ID='$bad' wrote a file"
done
echo "ok: malformed ASSAY_BUILD_ID refused"

# The built binary carries the identity its build generated, and it names this source tree's
# revision (a binary built before the last commit fails here: rebuild).
generated=$(sed -n 's/^const char kBuildId\[\] = "\(.*\)";$/\1/p' \
  "$build/engine/generated/engine/build_id.cpp")
[[ -n $generated ]] || fail "no generated build identity under $build"
binary=$("$assay" version | sed -n 's/^assay [^ ]* (build \(.*\))$/\1/p')
expect "assay version" "$binary" "$generated"
# ... and the checksum of the binary that runs (WELMEC 7.2: identification and checksum).
expect "binary sha256" "$("$assay" version | sed -n 's/^binary sha256 //p')" \
  "$(sha256sum "$assay" | cut -d' ' -f1)"
if [[ -n $build_override ]]; then
  expect "binary against ASSAY_BUILD_ID" "$binary" "$build_override"
elif git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
  tree=$(git -C "$src" rev-parse --short=12 HEAD)
  [[ -z $(git -C "$src" --no-optional-locks status --porcelain --untracked-files=no) ]] ||
    tree=$tree-dirty
  [[ $binary == "$tree" ]] ||
    fail "the binary says build '$binary' but the source tree is '$tree': it was built from" \
      "another revision (rebuild before testing)"
  echo "ok: binary against the source tree: $binary"
fi
