#!/usr/bin/env bash
# Fetches Xen 4.17, its toolstack and one dom0 kernel as .debs into a persistent cache
# (downloading only what the cache lacks) and extracts them into a scratch root.
# Never installs anything: the hypervisor and kernel packages would touch the boot loader.
#
# Usage: fetch.sh CACHE_DIR OUT_ROOT KERNEL      KERNEL: linux61 | linux612
# Prints the dom0 kernel's version (uname -r) on the last line of stdout.
set -euo pipefail
trap 'echo "${0##*/}: FAIL at line $LINENO: $BASH_COMMAND" >&2' ERR
cache=$1 out=$2 kernel=$3
mkdir -p "$cache" "$out"

log() { echo "fetch: $*" >&2; }
die() { echo "fetch: FAIL: $*" >&2; exit 1; }

xen_pkgs=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
          libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
          libxenhypfs1 libxenmisc4.17 libxenstore4 libxentoolcore1 libxentoollog1 libyajl2)

# apt_download APT_OPTS_ARRAY_NAME PKG...: downloads into $cache whatever is not there yet,
# echoes the cached file names (the candidate version's, as apt resolves it now).
apt_download() {
  local -n opts=$1; shift
  local uris name
  uris=$(apt-get "${opts[@]}" download --print-uris "$@") \
    || die "apt-get cannot resolve $* (apt lists missing? run apt-get update)"
  while read -r _ name _; do
    [ -n "$name" ] || continue
    if [ ! -s "$cache/$name" ]; then
      log "downloading $name"
      local pkg=${name%%_*}
      (cd "$cache" && apt-get "${opts[@]}" download -q "$pkg" >&2) || die "download of $pkg failed"
      [ -s "$cache/$name" ] || die "apt-get download did not produce $name"
    fi
    echo "$name"
  done <<<"$uris"
}

# The system's own suite names: the codename from os-release.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in os-release}")

# A scratch apt configuration that sees only <codename>-backports. Its .sources is derived
# from the system's sources at run time (same URIs and keyring, suite replaced), so no mirror
# name lives in the repository. Its lists stay in the cache so re-runs only revalidate them.
backports_opts() {
  local dir=$cache/apt-backports
  mkdir -p "$dir/sources" "$dir/lists/partial" "$dir/cache/archives/partial"
  local src=$dir/sources/backports.sources
  : >"$src"
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: keep stanzas whose Suites name the plain codename; emit them for -backports.
    awk -v cn="$codename" '
      function flush() { if (keep && uris != "") { print "Types: deb"; print "URIs: " uris;
                           print "Suites: " cn "-backports"; print "Components: main";
                           if (signed != "") print "Signed-By: " signed; print "" }
                         keep = 0; uris = ""; signed = "" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "uris:" { uris = $2 }
      tolower($1) == "signed-by:" { signed = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == cn) keep = 1 }
      END { flush() }' "$f" >>"$src"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # one-line format: "deb [opts] URI SUITE COMPONENTS..."
    awk -v cn="$codename" '$1 == "deb" { u = 2; if ($2 ~ /^\[/) { while ($u !~ /\]$/) u++; u++ }
                             if ($(u + 1) == cn) { $(u + 1) = cn "-backports"; print } }' "$f" \
      >"$dir/sources/backports.list.tmp"
    if [ -s "$dir/sources/backports.list.tmp" ]; then
      cat "$dir/sources/backports.list.tmp" >>"$dir/sources/backports.list"
    fi
    rm -f "$dir/sources/backports.list.tmp"
  done
  [ -s "$src" ] || [ -s "$dir/sources/backports.list" ] \
    || die "found no '$codename' entry in /etc/apt/sources* to derive $codename-backports from"
  BP_OPTS=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$dir/sources"
           -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
           -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o APT::Sandbox::User=root)
}

SYS_OPTS=(-q -o APT::Sandbox::User=root)
case "$kernel" in
  linux61)
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
           | awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64$/ {print $2; exit}')
    [ -n "$kpkg" ] || die "apt-cache depends linux-image-amd64 names no linux-image-6.1.0-NN-amd64"
    KOPTS=("${SYS_OPTS[@]}")
    ;;
  linux612)
    backports_opts
    log "refreshing $codename-backports lists (scratch apt config)"
    apt-get "${BP_OPTS[@]}" -q update >&2 || die "apt-get update of $codename-backports failed"
    kpkg=$(apt-cache "${BP_OPTS[@]}" pkgnames linux-image-6.12 \
           | grep -E "^linux-image-6\.12\.[0-9]+\+deb12-amd64$" | sort -V | tail -1)
    [ -n "$kpkg" ] || die "no linux-image-6.12.*+deb12-amd64 in $codename-backports"
    KOPTS=("${BP_OPTS[@]}")
    ;;
  *) die "unknown kernel '$kernel' (linux61 | linux612)" ;;
esac
log "dom0 kernel package: $kpkg"

debs=$(apt_download SYS_OPTS "${xen_pkgs[@]}")
debs+=$'\n'$(apt_download KOPTS "$kpkg")
while read -r d; do
  [ -n "$d" ] || continue
  dpkg-deb -x "$cache/$d" "$out" || die "dpkg-deb -x $d failed"
done <<<"$debs"

kver=${kpkg#linux-image-}
[ -f "$out/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $kpkg"
ls "$out"/boot/xen-4.17-amd64.gz >/dev/null 2>&1 || die "no boot/xen-4.17-amd64.gz extracted"
echo "$kver"
