#!/bin/sh
# test_fuzz_http.sh — build tests/fuzz/fuzz_http.c (the HTTP response parser) and
# tests/fuzz/fuzz_der.c (the certificate walkers of the TLS layer) with libFuzzer and run
# each for a short, bounded time (20 s and 10 s, fixed seed) from their corpora.
# One PASS/FAIL line each.
set -u
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/ed-fuzz-http.$$
mkdir -p "$out/corpus" "$out/corpus_der"
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

if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c99 \
	-D_POSIX_C_SOURCE=200809L -Wno-unused-function -Ivendor/bearssl/inc -Ivendor/jsmn \
	-o "$out/fuzz_der" tests/fuzz/fuzz_der.c vendor/build/host/libbearssl.a >"$out/build_der.log" 2>&1; then
	cat "$out/build_der.log"
	echo "FAIL: fuzz_der: does not build"
	exit 1
fi
cp tests/fuzz/corpus_der/* "$out/corpus_der/"
if "$out/fuzz_der" -seed=1 -max_total_time=10 -max_len=2048 -timeout=5 -rss_limit_mb=1024 \
	-artifact_prefix="$out/" "$out/corpus_der" >"$out/run_der.log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$out/run_der.log" | tail -1)
	echo "PASS: fuzz_der: no crash in 10 s ($runs)"
else
	tail -30 "$out/run_der.log"
	echo "FAIL: fuzz_der: the fuzzer found a crash (see above)"
	exit 1
fi
