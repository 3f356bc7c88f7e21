#!/bin/sh
# test_fuzz_http.sh — build tests/fuzz/fuzz_http.c with libFuzzer and run it for a
# short, bounded time (20 s, fixed seed) from the fixture corpus. One PASS/FAIL line.
set -u
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/ed-fuzz-http.$$
mkdir -p "$out/corpus"
trap 'rm -rf "$out"' EXIT INT TERM
if ! command -v clang >/dev/null 2>&1; then
	echo "FAIL: fuzz_http: clang is not installed (build.sh test installs it)"
	exit 1
fi
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c99 \
	-D_POSIX_C_SOURCE=200809L -Wno-unused-function -Ivendor/bearssl/inc -Ivendor/jsmn \
	-o "$out/fuzz_http" tests/fuzz/fuzz_http.c vendor/build/host/libbearssl.a >"$out/build.log" 2>&1; then
	cat "$out/build.log"
	echo "FAIL: fuzz_http: does not build"
	exit 1
fi
cp tests/fuzz/corpus_http/* "$out/corpus/"
if "$out/fuzz_http" -seed=1 -max_total_time=20 -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
	-artifact_prefix="$out/" "$out/corpus" >"$out/run.log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$out/run.log" | tail -1)
	echo "PASS: fuzz_http: no crash in 20 s ($runs)"
else
	tail -30 "$out/run.log"
	echo "FAIL: fuzz_http: the fuzzer found a crash (see above)"
	exit 1
fi
