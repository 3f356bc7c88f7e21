#!/bin/sh
# test_fuzz_cred.sh — a short, bounded libFuzzer run of tests/fuzz/fuzz_cred.c (the XML
# field reader, INI reader, splitter and ISO 8601 reader of the credential layer), seeded
# with small STS answers and shared files. Prints PASS/FAIL.
set -u
cd "$(dirname "$0")/.." || exit 1
RUNS=${FUZZ_CRED_RUNS:-300000}
if ! command -v clang >/dev/null 2>&1; then
	echo "FAIL: fuzz_cred: clang is not installed (build.sh test installs it)"
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_cred.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/corpus"
printf '<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA&amp;&#x41;</AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>' > "$work/corpus/sts"
printf '<ErrorResponse><Error><Code>AccessDenied</Code><Message><![CDATA[x]]></Message></Error></ErrorResponse>' > "$work/corpus/err"
printf '[default]\nregion = eu-west-1\n[x]\n  aws_access_key_id: A\ns3 =\n  region = no\n' > "$work/corpus/ini"
printf '"/opt/my helper" --x '"'"'a b'"'"' c\\ d' > "$work/corpus/cmd"
printf '2030-01-01T00:00:00.123+02:00' > "$work/corpus/time"
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Ivendor/bearssl/inc -Ivendor/jsmn -o "$work/fuzz_cred" tests/fuzz/fuzz_cred.c \
	vendor/build/host/libbearssl.a > "$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: fuzz_cred: harness does not build"
	exit 1
fi
echo "PASS: fuzz_cred harness builds with clang -fsanitize=fuzzer,address,undefined"
if timeout 300 "$work/fuzz_cred" -runs="$RUNS" -max_total_time=45 -max_len=2048 -seed=1 \
	-artifact_prefix="$work/" "$work/corpus" > "$work/run.log" 2>&1; then
	echo "PASS: fuzz_cred: $(grep -o 'Done [0-9]* runs' "$work/run.log" | tail -1) without a crash or a bound broken"
else
	tail -40 "$work/run.log"
	for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$a" ] && { echo "input:"; od -c "$a" | head -20; }
	done
	echo "FAIL: fuzz_cred: the fuzzer found a failing input (see above)"
	exit 1
fi
