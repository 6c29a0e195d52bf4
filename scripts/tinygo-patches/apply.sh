#!/usr/bin/env bash
# apply.sh — applies the checkout kit's patches to a writable copy of TinyGo
# v0.42.0's module source (github.com/tinygo-org/tinygo@v0.42.0).
#
# Usage: scripts/tinygo-patches/apply.sh TINYGODIR
#
# This is the only way TinyGo's source is changed: scripts/install-tools.sh
# copies the module out of the module cache, runs this on the copy and builds
# the compiler there. The patches are the NN-name.patch files next to this
# script, applied in name order; each starts with a comment saying what it
# changes and why (`head -20 scripts/tinygo-patches/*.patch`).
#
# Every patch is checked before it is applied:
#   - a reverse dry-run that succeeds means the patch is already in the tree:
#     it is skipped, so running this twice changes nothing;
#   - otherwise a forward dry-run must succeed (no fuzz: every context line
#     must match exactly), or this stops naming the patch, so a TinyGo upgrade
#     is never patched silently wrong;
#   - then the patch is applied.
#
# To change a patch or add one: copy the module (cp -r "$(go env
# GOMODCACHE)/github.com/tinygo-org/tinygo@v0.42.0" a; chmod -R u+w a), apply
# the patches before it (this script on a copy, or on a with the later ones
# moved away), cp -r a b, edit b, then `git diff --no-index a b` with the a/ and
# b/ prefixes kept as the tree's root (run it in the parent: the paths become
# a/a/... and b/b/...; strip the extra level so they read a/<path> and b/<path>),
# and put a header comment on top. scripts/install-tools.sh keys the TinyGo
# install on these files' contents, so the compiler is rebuilt on its next run.
set -euo pipefail

die() { printf 'tinygo-patches: error: %s\n' "$*" >&2; exit 1; }

[ "$#" -eq 1 ] || die "usage: $0 TINYGODIR"
tree=$1
[ -f "$tree/go.mod" ] && [ -d "$tree/src/runtime" ] || die "$tree is not a TinyGo source tree"
command -v patch >/dev/null 2>&1 || die "GNU patch is not installed (Debian package patch)"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# run_patch FILE ARGS... runs GNU patch on the tree with the flags every call
# shares: strip one level (a/, b/), no fuzz, never ask and never guess that a
# patch is reversed (--force; --batch would), no .orig/.rej files.
run_patch() {
	local file=$1
	shift
	patch -d "$tree" -p1 --fuzz=0 --force --no-backup-if-mismatch -r - -i "$file" "$@"
}

shopt -s nullglob
patches=("$here"/[0-9][0-9]-*.patch)
[ "${#patches[@]}" -gt 0 ] || die "no patches in $here"
for p in "${patches[@]}"; do
	name=$(basename "$p")
	if run_patch "$p" --dry-run --reverse --silent >/dev/null 2>&1; then
		printf 'tinygo-patches: %s was already applied\n' "$name"
		continue
	fi
	if ! out=$(run_patch "$p" --dry-run 2>&1); then
		printf '%s\n' "$out" >&2
		die "$name does not apply to $tree (TinyGo source changed?)"
	fi
	run_patch "$p" --silent || die "applying $name failed after its dry-run passed"
	printf 'tinygo-patches: applied %s\n' "$name"
done

# 01-no-espflasher removes the only import of the flasher TinyGo v0.42.0 has;
# a newer TinyGo importing it elsewhere would fail to build much later, and
# less clearly, than here.
if users=$(grep -rl --include='*.go' '"tinygo.org/x/espflasher' "$tree"); then
	die "tinygo.org/x/espflasher is still imported by: $(printf '%s ' $users)"
fi
