#!/usr/bin/env bash
# Assemble the final container filesystem of the augur image into a folder: the binary as
# /augur, exactly the shared libraries `ldd` reports for it (and for the DuckDB native library
# when --duckdb is given), the CA bundle, the configuration under /etc/augur, a numeric
# non-root user, /tmp and a writable data directory. Nothing else: no shell, no package
# manager, no coreutils.
#
# The Dockerfile runs this in its builder stage and copies the folder into `FROM scratch`;
# tests run it into a temporary folder and start the binary under `chroot` to prove the
# library list is complete (tests/unit/deploy/rootfs_test.ts).
#
# Usage:
#   deploy/docker/rootfs.sh --binary dist/augur --out /rootfs [--config config]
#                           [--duckdb DIR_WITH_libduckdb.so] [--ca FILE] [--uid 65532]
#
# Layout produced (DIR = --out):
#   /augur                         the executable (ENTRYPOINT)
#   /lib*/, /usr/lib*/ ...         the shared libraries, at the paths ldd resolved them to
#   /usr/lib/augur/libduckdb.so    with --duckdb (LD_LIBRARY_PATH=/usr/lib/augur)
#   /etc/augur/*.toml              the configuration (AUGUR_CONFIG_DIR=/etc/augur)
#   /etc/ssl/certs/ca-certificates.crt
#   /etc/passwd, /etc/group        user and group augur = UID/GID 65532
#   /etc/nsswitch.conf             hosts: files dns (+ libnss_files/libnss_dns when present)
#   /tmp (1777)                    native addons are extracted here at run time
#   /var/lib/augur/data            working directory; the engine's DuckDB file lives here
set -euo pipefail

binary=""
out=""
config="config"
duckdb=""
ca="/etc/ssl/certs/ca-certificates.crt"
uid="65532"

die() { echo "rootfs.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --config) config="${2:-}"; shift 2 ;;
    --duckdb) duckdb="${2:-}"; shift 2 ;;
    --ca) ca="${2:-}"; shift 2 ;;
    --uid) uid="${2:-}"; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown option \"$1\" (expected --binary, --out, --config, --duckdb, --ca, --uid)" ;;
  esac
done

[ -n "$binary" ] || die "--binary FILE is required (the compiled augur, or a deno binary in tests)"
[ -n "$out" ] || die "--out DIR is required"
[ -f "$binary" ] || die "--binary: expected an executable file, received \"$binary\""
[ -d "$config" ] || die "--config: expected a directory of *.toml files, received \"$config\""
[ -f "$ca" ] || die "--ca: expected the CA bundle file, received \"$ca\" (install ca-certificates)"
case "$uid" in '' | *[!0-9]*) die "--uid: expected a number, received \"$uid\"" ;; esac
[ "$uid" != 0 ] || die "--uid: expected a non-root uid, received 0"
command -v ldd >/dev/null || die "ldd not found (install libc-bin)"

mkdir -p "$out"
out="$(cd "$out" && pwd)"

# copy_path SRC: copy SRC (following symlinks) to the same absolute path under $out.
copy_path() {
  local src="$1"
  mkdir -p "$out$(dirname "$src")"
  cp -L "$src" "$out$src"
}

# copy_libs FILE: every shared library ldd resolves for FILE, plus the program interpreter.
copy_libs() {
  local file="$1" line lib
  while read -r line; do # `read` without IFS= trims the leading tab of ldd lines
    lib=""
    case "$line" in
      *"=> not found"*) die "ldd: $(echo "$line" | awk '{print $1}') not found for $file" ;;
      *"=> /"*) lib="$(echo "$line" | sed -E 's/.*=> (\/[^ ]+).*/\1/')" ;;
      /*) lib="$(echo "$line" | awk '{print $1}')" ;; # the interpreter, e.g. /lib64/ld-linux-x86-64.so.2
    esac
    if [ -n "$lib" ]; then
      case "$lib" in
        */node_modules/*) ;; # libduckdb.so itself: copied to /usr/lib/augur below
        *) copy_path "$lib" ;;
      esac
    fi
  done < <(ldd "$file")
}

install -m 0755 "$binary" "$out/augur"
copy_libs "$binary"

if [ -n "$duckdb" ]; then
  [ -f "$duckdb/libduckdb.so" ] || die "--duckdb: expected a directory containing libduckdb.so, received \"$duckdb\""
  mkdir -p "$out/usr/lib/augur"
  install -m 0644 "$duckdb/libduckdb.so" "$out/usr/lib/augur/libduckdb.so"
  copy_libs "$duckdb/libduckdb.so"
  [ ! -f "$duckdb/duckdb.node" ] || copy_libs "$duckdb/duckdb.node"
fi

# Name resolution: glibc 2.34+ has files/dns built in; copy the NSS stubs when present.
for nss in libnss_files.so.2 libnss_dns.so.2; do
  for dir in /lib/x86_64-linux-gnu /lib/aarch64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /lib64 /usr/lib64; do
    if [ -f "$dir/$nss" ]; then copy_path "$dir/$nss"; break; fi
  done
done

mkdir -p "$out/etc/augur" "$out/etc/ssl/certs" "$out/tmp" "$out/var/lib/augur/data"
install -m 0644 "$ca" "$out/etc/ssl/certs/ca-certificates.crt"
found=0
for toml in "$config"/*.toml; do
  [ -f "$toml" ] || continue
  install -m 0644 "$toml" "$out/etc/augur/$(basename "$toml")"
  found=1
done
[ "$found" = 1 ] || die "--config: no *.toml file in \"$config\""

printf 'root:x:0:0:root:/:/nonexistent\naugur:x:%s:%s:augur:/var/lib/augur:/nonexistent\n' "$uid" "$uid" >"$out/etc/passwd"
printf 'root:x:0:\naugur:x:%s:\n' "$uid" >"$out/etc/group"
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"
chmod 1777 "$out/tmp"
if [ "$(id -u)" = 0 ]; then chown -R "$uid:$uid" "$out/var/lib/augur"; fi

echo "rootfs.sh: assembled $out ($(find "$out" -type f | wc -l) files)"
