#!/bin/sh
# build.sh — build, vendor, test and demo ecs-deploy.
#
#   ./build.sh          fetch dependencies if vendor/ is empty, build ./ecs-deploy, print its size
#   ./build.sh vendor   fetch BearSSL and jsmn from Debian (checked against vendor/MANIFEST),
#                       unpack them into vendor/ and build libbearssl.a (musl and host flavours)
#   ./build.sh test     install what the tests need, build, run every test; last line "N passed, N failed"
#   ./build.sh demo     start the ECS simulator and run a deployment against it
#   ./build.sh image    build the FROM-scratch image (Dockerfile.scratch) without a Docker engine,
#                       with buildah, and write it as an OCI layout
#   ./build.sh clean    remove build outputs (keeps the vendored sources)
#
# POSIX sh, one function per subcommand; read it top to bottom.
set -eu

TOP=$(cd "$(dirname "$0")" && pwd)
cd "$TOP"

VENDOR=vendor
MANIFEST=$VENDOR/MANIFEST
DL=$VENDOR/dl
BIN=./ecs-deploy
SIZE_BUDGET=262144

# Flags shared by every build of ecsdeploy.c. -ffile-prefix-map keeps build paths out.
CWARN="-std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror"
CINC="-I$VENDOR/bearssl/inc -I$VENDOR/jsmn"

say() { printf '%s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# ---- packages -------------------------------------------------------------------------
# need_pkgs PKG...: install the Debian packages that are missing, or say which to install.
need_pkgs() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		die "please install these packages with your system's package manager:$missing"
	fi
	if [ "$(id -u)" != 0 ]; then
		die "please install the Debian packages:$missing (e.g. sudo apt-get install$missing)"
	fi
	say "installing Debian packages:$missing"
	apt_updated
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null \
		|| die "apt-get install failed for:$missing"
}

APT_UPDATED=no
apt_updated() {
	[ "$APT_UPDATED" = yes ] && return 0
	apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed"
	APT_UPDATED=yes
}

# enable_deb_src: apt-get source needs a deb-src entry; derive one from the deb entries.
enable_deb_src() {
	if grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "apt-get source needs a deb-src line in /etc/apt/sources.list.d (run as root or add one)"
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
			> /etc/apt/sources.list.d/ecs-deploy-src.sources
	elif [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/ecs-deploy-src.list
	else
		die "no apt sources found to derive a deb-src entry from"
	fi
	APT_UPDATED=no
}

# ---- vendor ---------------------------------------------------------------------------
manifest_field() { # name column
	awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$MANIFEST"
}

fetch_one() { # name: download into $DL unless a verified copy is there
	name=$1
	pkg=$(manifest_field "$name" 2); kind=$(manifest_field "$name" 3)
	ver=$(manifest_field "$name" 4); file=$(manifest_field "$name" 5); sum=$(manifest_field "$name" 6)
	mkdir -p "$DL"
	if [ -f "$DL/$file" ] && printf '%s  %s\n' "$sum" "$DL/$file" | sha256sum -c - >/dev/null 2>&1; then
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "vendor/ is empty and apt-get is missing: copy a populated vendor/ tree here (see README, air-gapped builds)"
	[ "$(id -u)" = 0 ] || die "fetching $pkg needs root for apt-get; or copy a populated vendor/ tree here"
	if [ "$kind" = source ]; then
		enable_deb_src
		apt_updated
		(cd "$DL" && apt-get source --download-only -qq "$pkg=$ver" >/dev/null 2>&1) \
			|| die "apt-get source $pkg=$ver failed"
	else
		apt_updated
		(cd "$DL" && apt-get download -qq "$pkg=$ver" >/dev/null 2>&1) \
			|| die "apt-get download $pkg=$ver failed"
	fi
	printf '%s  %s\n' "$sum" "$DL/$file" | sha256sum -c - >/dev/null 2>&1 \
		|| die "checksum mismatch for $DL/$file (expected $sum): refusing to use it"
	say "fetched $file (sha256 ok)"
}

build_bearssl() { # flavour cc: build vendor/build/<flavour>/libbearssl.a
	flavour=$1; cc=$2; extra=${3:-}
	out=$VENDOR/build/$flavour
	[ -f "$out/libbearssl.a" ] && return 0
	mkdir -p "$out/obj"
	say "building libbearssl.a ($flavour, $cc)"
	find "$VENDOR/bearssl/src" -name '*.c' | sort | while read -r f; do
		o=$out/obj/$(printf '%s' "$f" | sed 's|^.*/src/||; s|/|_|g; s|\.c$|.o|')
		printf '%s %s\n' "$f" "$o"
	done | xargs -P "$(nproc 2>/dev/null || echo 2)" -n 2 sh -c \
		"$cc -Os -fPIC -ffile-prefix-map=\$PWD=. $extra -I$VENDOR/bearssl/inc -I$VENDOR/bearssl/src -c \"\$0\" -o \"\$1\"" \
		|| die "compiling BearSSL ($flavour) failed"
	ar rcsD "$out/libbearssl.a" "$out"/obj/*.o
	rm -rf "$out/obj"
}

cmd_vendor() {
	[ -f "$MANIFEST" ] || die "missing $MANIFEST"
	fetch_one bearssl
	fetch_one jsmn
	if [ ! -f "$VENDOR/bearssl/inc/bearssl.h" ]; then
		rm -rf "$VENDOR/bearssl" "$VENDOR/tmp"; mkdir -p "$VENDOR/tmp"
		xz -dc "$DL/$(manifest_field bearssl 5)" | tar -xf - -C "$VENDOR/tmp"
		mv "$VENDOR"/tmp/bearssl-* "$VENDOR/bearssl"
		rm -rf "$VENDOR/tmp"
	fi
	if [ ! -f "$VENDOR/jsmn/jsmn.h" ]; then
		rm -rf "$VENDOR/jsmn" "$VENDOR/tmp"; mkdir -p "$VENDOR/tmp" "$VENDOR/jsmn"
		deb=$(manifest_field jsmn 5)
		(cd "$VENDOR/tmp" && ar x "../dl/$deb" && tar -xf data.tar.* ./usr/include/jsmn.h)
		mv "$VENDOR/tmp/usr/include/jsmn.h" "$VENDOR/jsmn/jsmn.h"
		rm -rf "$VENDOR/tmp"
	fi
	command -v musl-gcc >/dev/null 2>&1 || need_pkgs musl-tools
	build_bearssl musl musl-gcc
	build_bearssl host cc
	say "vendor/ ready: BearSSL $(manifest_field bearssl 4), jsmn $(manifest_field jsmn 4)"
}

# ---- build ----------------------------------------------------------------------------
cmd_build() {
	[ -f "$VENDOR/build/musl/libbearssl.a" ] && [ -f "$VENDOR/jsmn/jsmn.h" ] || cmd_vendor
	command -v musl-gcc >/dev/null 2>&1 || need_pkgs musl-tools
	muslver=$(dpkg-query -W -f '${Version}' musl-dev 2>/dev/null | sed 's/-.*//' || true)
	bsver=$(manifest_field bearssl 4 | sed 's/+.*//')
	jsver=$(manifest_field jsmn 4 | sed 's/-.*//')
	# shellcheck disable=SC2086
	musl-gcc $CWARN $CINC -Os -static -s -ffunction-sections -fdata-sections \
		-fno-asynchronous-unwind-tables -fno-ident -ffile-prefix-map="$TOP"=. \
		-DED_LIBC="\"musl ${muslver:-?}\"" -DED_BEARSSL="\"$bsver\"" -DED_JSMN="\"$jsver\"" \
		-Wl,--gc-sections -Wl,--build-id=none -Wl,-z,noseparate-code \
		-o "$BIN" ecsdeploy.c "$VENDOR/build/musl/libbearssl.a" \
		|| die "compiling ecsdeploy.c failed"
	# No unwinder ever runs in this C program: musl's objects still carry unwind tables, so
	# drop them (about 9 KiB). -z noseparate-code above saves the padding between segments.
	objcopy -R .eh_frame -R .comment "$BIN" \
		|| die "objcopy failed"
	say "built $BIN: $(stat -c %s "$BIN") bytes (budget $SIZE_BUDGET)"
}

# ---- test -----------------------------------------------------------------------------
# Every test prints "PASS: name" or "FAIL: name: why" lines; we count them here.
PASSED=0
FAILED=0
LOGDIR=${TMPDIR:-/tmp}/ecs-deploy-test.$$

count_log() { # name log rc [seconds]
	p=$(grep -c '^PASS: ' "$2" || true)
	f=$(grep -c '^FAIL: ' "$2" || true)
	if [ "$3" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $1: exited with status $3 without naming a failed test" >> "$2"
		f=1
	fi
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
	printf '%-40s %4d passed, %d failed%s\n' "$1" "$p" "$f" "${4:+ ($4 s)}"
	grep '^FAIL: ' "$2" | sed 's/^/    /' || true
}

run_test() { # name command...
	name=$1; shift
	log=$LOGDIR/$(printf '%s' "$name" | tr '/ ' '__').log
	rc=0; t0=$(date +%s)
	"$@" > "$log" 2>&1 || rc=$?
	count_log "$name" "$log" "$rc" "$(( $(date +%s) - t0 ))"
}

# check NAME CONDITION-COMMAND...: one PASS/FAIL line for a shell-level check.
check() {
	name=$1; shift
	if "$@" >/dev/null 2>&1; then echo "PASS: $name"; else echo "FAIL: $name"; fi
}

is_static() {
	! readelf -lW "$BIN" | grep -q 'INTERP' && readelf -dW "$BIN" | grep -q 'no dynamic section'
}
exports_only_main() {
	o=$LOGDIR/ecsdeploy.o
	musl-gcc $CWARN $CINC -c -o "$o" ecsdeploy.c -DED_LIBC='"musl"' -DED_BEARSSL='"0.6"' -DED_JSMN='"1.1.0"'
	[ "$(nm -g --defined-only "$o" | awk '{print $3}')" = main ]
}
# A probe that is clean C but warns under -Wall (unused variable) and -Wextra (unused
# parameter) must fail to compile with the flags every build of ecsdeploy.c uses.
warnings_are_fatal() {
	printf 'int ed_probe_a(int a);\nint ed_probe_a(int a) { return 0; }\n' > "$LOGDIR/probe_a.c"
	printf 'int ed_probe_b(void);\nint ed_probe_b(void) { int x; return 0; }\n' > "$LOGDIR/probe_b.c"
	# shellcheck disable=SC2086
	! musl-gcc $CWARN -c -o /dev/null "$LOGDIR/probe_a.c" && ! musl-gcc $CWARN -c -o /dev/null "$LOGDIR/probe_b.c"
}
within_budget() { [ "$(stat -c %s "$BIN")" -le "$SIZE_BUDGET" ]; }
is_x86_64_exec() { file -b "$BIN" | grep -q 'ELF 64-bit.*x86-64.*statically linked'; }

binary_checks() {
	check "binary is static (no interpreter, no dynamic section)" is_static
	check "binary is a static x86-64 ELF according to file(1)" is_x86_64_exec
	check "ecsdeploy.c exports only main" exports_only_main
	check "binary size $(stat -c %s "$BIN") <= $SIZE_BUDGET bytes" within_budget
	check "the build's flags make -Wall and -Wextra warnings fatal" warnings_are_fatal
}

# Unit tests: each tests/t_*.c includes ../ecsdeploy.c; built for glibc with ASan+UBSan.
build_unit() { # t_file.c -> path of executable
	exe=$LOGDIR/$(basename "$1" .c)
	# shellcheck disable=SC2086
	# Tests use a subset of the program, so unused statics are expected there.
	cc $CWARN -Wno-unused-function $CINC -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -o "$exe" "$1" "$VENDOR/build/host/libbearssl.a" -lm \
		> "$exe.build.log" 2>&1 || { cat "$exe.build.log"; return 1; }
	echo "$exe"
}

run_unit() {
	for t in tests/t_*.c; do
		[ -f "$t" ] || continue
		name=unit/$(basename "$t" .c)
		if exe=$(build_unit "$t"); then
			run_test "$name" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
				ECSDEPLOY_BIN="$TOP/ecs-deploy" "$exe"
		else
			log=$LOGDIR/build-$(basename "$t" .c).log
			printf '%s\nFAIL: %s: does not compile\n' "$exe" "$name" > "$log"
			count_log "$name" "$log" 1
		fi
	done
}

run_scripts() {
	for t in tests/test_*.py tests/*/test_*.py tests/test_*.sh tests/*/test_*.sh; do
		[ -f "$t" ] || continue
		case "$t" in
		*.py) run_test "${t#tests/}" env ECSDEPLOY_BIN="$TOP/ecs-deploy" python3 "$t" ;;
		*.sh) run_test "${t#tests/}" env ECSDEPLOY_BIN="$TOP/ecs-deploy" sh "$t" ;;
		esac
	done
}

cmd_test() {
	need_pkgs musl-tools file binutils xz-utils openssl ca-certificates gcc libc6-dev clang libclang-rt-dev tinyproxy
	command -v aws >/dev/null 2>&1 || need_pkgs awscli
	cmd_build
	mkdir -p "$LOGDIR"
	binary_checks > "$LOGDIR/binary.log" 2>&1 || true
	count_log binary "$LOGDIR/binary.log" 0
	run_unit
	run_scripts
	say "logs: $LOGDIR"
	say "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
}

# ---- demo -----------------------------------------------------------------------------
cmd_demo() {
	cmd_build
	[ -f tests/sim/demo.sh ] || die "the simulator demo is not in this tree yet"
	sh tests/sim/demo.sh "$TOP/ecs-deploy"
}

# ---- image ----------------------------------------------------------------------------
# Builds Dockerfile.scratch with buildah in a private vfs storage (no Docker engine, no
# daemon), on a stand-in for debian:bookworm made with mmdebstrap (Docker Hub is not
# reachable from our machines), and writes the result as an OCI layout. With Docker,
# `docker build -f Dockerfile.scratch .` does the same.
#   ED_IMAGE_CACHE  where the stand-in base tarball is kept (default /var/tmp/ecs-deploy-image)
#   ED_IMAGE_WORK   storage, configuration and $ED_IMAGE_WORK/oci (default $ED_IMAGE_CACHE/work;
#                   emptied first: every build starts from nothing but the cached base)
# Tests use the same storage by setting CONTAINERS_STORAGE_CONF/CONTAINERS_CONF to the files
# it writes there.
cmd_image() {
	need_pkgs buildah podman skopeo runc mmdebstrap
	cache=${ED_IMAGE_CACHE:-/var/tmp/ecs-deploy-image}
	work=${ED_IMAGE_WORK:-$cache/work}
	version=$(sed -n 's/^#define ED_VERSION "\(.*\)"$/\1/p' ecsdeploy.c)
	tag=localhost/ecs-deploy:$version
	t0=$(date +%s)
	rm -rf "$work"; mkdir -p "$cache" "$work/oci"
	printf '[storage]\ndriver = "vfs"\nrunroot = "%s/run"\ngraphroot = "%s/graph"\n' \
		"$work" "$work" > "$work/storage.conf"
	# crun fails on this kernel's cgroups; the default ulimits are refused.
	printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\n' \
		> "$work/containers.conf"
	CONTAINERS_STORAGE_CONF=$work/storage.conf; CONTAINERS_CONF=$work/containers.conf
	export CONTAINERS_STORAGE_CONF CONTAINERS_CONF

	# The stand-in: Debian's minbase with the deb822 sources file the real image has.
	# Cached under a key made of everything that shapes it (never the date).
	mirror=http://deb.debian.org/debian
	cat > "$work/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	# shellcheck disable=SC2016 # $1 is for mmdebstrap to expand
	hook1='rm -f "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*'
	hook2="copy-in $work/debian.sources /etc/apt/sources.list.d"
	key=$( (mmdebstrap --version; echo minbase bookworm "$hook1" copy-in; cat "$work/debian.sources") \
		| sha256sum | cut -c1-16)
	base=$cache/debian-bookworm-minbase-$key.tar; part=$cache/partial-$key.tar
	if [ ! -f "$base" ]; then
		say "making the debian:bookworm stand-in with mmdebstrap (once; cached as $base)"
		mmdebstrap --quiet --variant=minbase \
			--customize-hook="$hook1" --customize-hook="$hook2" \
			bookworm "$part" "$work/debian.sources" || die "mmdebstrap failed"
		mv "$part" "$base"
	fi
	podman import --quiet "$base" docker.io/library/debian:bookworm >/dev/null || die "podman import failed"
	t1=$(date +%s)

	# The build stage fetches from Debian's archive with apt, hence the host network; apt's
	# lists and downloads are kept in the cache between builds (apt still checks them).
	mkdir -p "$cache/apt/lists" "$cache/apt/archives"
	src=$(git remote get-url origin 2>/dev/null || true)    # the label names the real repository
	case "$src" in https://*) ;; *) src=$(sed -n 's/^ARG SOURCE=//p' Dockerfile.scratch) ;; esac
	buildah bud --quiet --pull=never --layers=false --timestamp 0 --network host \
		-v "$cache/apt/lists:/var/lib/apt/lists" -v "$cache/apt/archives:/var/cache/apt/archives" \
		--build-arg VERSION="$version" --build-arg SOURCE="${src%.git}" -f Dockerfile.scratch -t "$tag" . >/dev/null \
		|| die "buildah bud -f Dockerfile.scratch failed"
	buildah push --quiet "$tag" "oci:$work/oci:$version" || die "buildah push to an OCI layout failed"
	t2=$(date +%s)
	layer=$(skopeo inspect --raw "oci:$work/oci:$version" \
		| sed -n 's/.*"layers":\[{[^}]*"size":\([0-9]*\).*/\1/p')
	say "built $tag: compressed layer ${layer:-?} bytes; OCI layout $work/oci (tag $version)"
	say "image: base $((t1 - t0)) s, build $((t2 - t1)) s"
}

cmd_clean() {
	rm -f "$BIN"
	rm -rf "$VENDOR/build"
}

case "${1:-build}" in
build) cmd_build ;;
vendor) cmd_vendor ;;
test) cmd_test ;;
demo) cmd_demo ;;
image) cmd_image ;;
clean) cmd_clean ;;
*) die "unknown subcommand '$1' (build, vendor, test, demo, image, clean)" ;;
esac
