#!/bin/sh
# test_fuzz_json.sh — a short, bounded libFuzzer run of tests/fuzz/fuzz_json.c (no crash;
# whole and split parsing agree), seeded with the JSON fixtures. Prints PASS/FAIL.
set -u
cd "$(dirname "$0")/.." || exit 1
RUNS=${FUZZ_JSON_RUNS:-200000}
if ! command -v clang >/dev/null 2>&1; then
	echo "FAIL: fuzz_json: clang is not installed (build.sh test installs it)"
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_json.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/corpus"
cp tests/json/*.json tests/td/*.json "$work/corpus/"
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Ivendor/bearssl/inc -Ivendor/jsmn -o "$work/fuzz_json" tests/fuzz/fuzz_json.c \
	vendor/build/host/libbearssl.a > "$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: fuzz_json: harness does not build"
	exit 1
fi
echo "PASS: fuzz_json harness builds with clang -fsanitize=fuzzer,address,undefined"
if timeout 300 "$work/fuzz_json" -runs="$RUNS" -max_total_time=60 -max_len=4096 -seed=1 \
	-artifact_prefix="$work/" "$work/corpus" > "$work/run.log" 2>&1; then
	echo "PASS: fuzz_json: $(grep -o 'Done [0-9]* runs' "$work/run.log" | tail -1) without a crash or a whole/split disagreement"
else
	tail -40 "$work/run.log"
	for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$a" ] && { echo "input:"; od -c "$a" | head -20; }
	done
	echo "FAIL: fuzz_json: the fuzzer found a failing input (see above)"
	exit 1
fi
