#!/bin/sh
# bench_transport.sh — 50 ECS DescribeServices calls against a loopback TLS server:
# ecs-deploy's transport (tests/tools/awscall.c, built like the product: musl, -Os,
# static) versus the AWS CLI making the same 50 calls (one `aws ecs
# describe-services` per call, as a shell script does). Measures wall time, CPU
# time (user+sys) and peak RSS with GNU time (/usr/bin/time -v; Debian package
# `time`) and counts TLS handshakes on the server side (tests/lib/faultsrv.py).
# Run by hand from the repository root: sh tests/bench/bench_transport.sh [CALLS]
# Prints a Markdown table and writes it to tests/bench/RESULTS-transport.md.
set -eu
cd "$(dirname "$0")/../.."
N=${1:-50}
command -v /usr/bin/time >/dev/null 2>&1 || { echo "install the 'time' package (GNU time)"; exit 1; }
command -v aws >/dev/null 2>&1 || { echo "install the AWS CLI (Debian package awscli)"; exit 1; }
[ -f vendor/build/musl/libbearssl.a ] || ./build.sh vendor
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ed-bench.XXXXXX")
srvpid=
cleanup() {
	[ -n "$srvpid" ] && kill "$srvpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

sh tests/lib/mkpki.sh "$tmp/pki"
musl-gcc -std=c99 -D_POSIX_C_SOURCE=200809L -Wno-unused-function -Ivendor/bearssl/inc -Ivendor/jsmn \
	-Os -static -s -ffunction-sections -fdata-sections -Wl,--gc-sections \
	-o "$tmp/awscall" tests/tools/awscall.c vendor/build/musl/libbearssl.a

mkfifo "$tmp/srv.in"
python3 tests/lib/faultsrv.py --pki "$tmp/pki" --certs server --lifetime 600 <"$tmp/srv.in" >"$tmp/ports" 2>/dev/null &
srvpid=$!
exec 9>"$tmp/srv.in"     # keeps the server's stdin open until we exit
i=0
while [ ! -s "$tmp/ports" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
plain=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plain"])' "$tmp/ports")
tls=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tls"]["server"])' "$tmp/ports")
ctl() { python3 -c 'import sys,urllib.request as u; print(u.urlopen(u.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), data=(sys.argv[3].encode() if len(sys.argv) > 3 else None))).read().decode())' "$plain" "$@"; }
srvstat() { ctl /__stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
url=https://localhost:$tls
body='{"cluster":"prod","services":["web"]}'

# measure OUT CMD...: wall and user+sys CPU of CMD and its children, to the microsecond
# (GNU time prints CPU in 10 ms steps, too coarse for our side), into OUT as "wall cpu".
measure() {
	out=$1; shift
	python3 -c '
import resource, subprocess, sys, time
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL)
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime - r0.ru_utime - r0.ru_stime
open(sys.argv[1], "w").write("%.3f %.4f\n" % (wall, cpu))
sys.exit(rc)' "$out" "$@"
}

# field NAME FILE: a value from GNU time -v output
field() { grep "$1" "$2" | sed 's/.*: //'; }

ctl /__reset '{}' >/dev/null
measure "$tmp/ours.m" /usr/bin/time -v -o "$tmp/ours.time" "$tmp/awscall" -n "$N" --endpoint-url "$url" --ca-bundle "$tmp/pki/ca.pem" \
	AmazonEC2ContainerServiceV20141113.DescribeServices "$body" >/dev/null 2>"$tmp/ours.err"
ours_hs=$(srvstat handshakes); ours_req=$(srvstat requests)

ctl /__reset '{}' >/dev/null
measure "$tmp/cli.m" /usr/bin/time -v -o "$tmp/cli.time" sh -c '
	i=0
	while [ $i -lt "$1" ]; do
		aws --endpoint-url "$2" --ca-bundle "$3" ecs describe-services --cluster prod --services web >/dev/null || exit 1
		i=$((i + 1))
	done' sh "$N" "$url" "$tmp/pki/ca.pem"
cli_hs=$(srvstat handshakes); cli_req=$(srvstat requests)

# For perspective: botocore (the library under the AWS CLI) making the same calls in one process.
ctl /__reset '{}' >/dev/null
measure "$tmp/boto.m" /usr/bin/time -v -o "$tmp/boto.time" python3 -c '
import sys, boto3
c = boto3.client("ecs", endpoint_url=sys.argv[2], verify=sys.argv[3], region_name="us-east-1")
for i in range(int(sys.argv[1])):
    c.describe_services(cluster="prod", services=["web"])' "$N" "$url" "$tmp/pki/ca.pem"
boto_hs=$(srvstat handshakes); boto_req=$(srvstat requests)
bw=$(cut -d' ' -f1 "$tmp/boto.m"); bc=$(cut -d' ' -f2 "$tmp/boto.m"); brss=$(field 'Maximum resident' "$tmp/boto.time")

ow=$(cut -d' ' -f1 "$tmp/ours.m"); cw=$(cut -d' ' -f1 "$tmp/cli.m")
oc=$(cut -d' ' -f2 "$tmp/ours.m"); cc=$(cut -d' ' -f2 "$tmp/cli.m")
orss=$(field 'Maximum resident' "$tmp/ours.time"); crss=$(field 'Maximum resident' "$tmp/cli.time")
size=$(stat -c %s "$tmp/awscall")
ratio=$(echo "$cc $oc" | awk '{ if ($2 > 0) printf "%.0f", $1 / $2; else print "inf" }')

{
	echo "# Transport benchmark: $N ECS calls over TLS on loopback"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by tests/bench/bench_transport.sh on $(nproc) cores"
	echo "($(uname -m)); server: tests/lib/faultsrv.py (Python, TLS 1.2+ with the test CA), DescribeServices."
	echo "ours: tests/tools/awscall.c (aws_call() from ecsdeploy.c, static musl, -Os, $size bytes), one process making $N calls."
	echo "AWS CLI: $(aws --version 2>&1 | cut -d' ' -f1), one \`aws ecs describe-services\` per call, as a shell script makes them."
	echo
	echo "| client | requests | wall time (s) | CPU time user+sys (s) | peak RSS (KiB) | TLS handshakes (server side) |"
	echo "|---|---:|---:|---:|---:|---:|"
	echo "| ecs-deploy transport | $ours_req | $ow | $oc | $orss | $ours_hs |"
	echo "| AWS CLI | $cli_req | $cw | $cc | $crss | $cli_hs |"
	echo "| botocore, one Python process (for perspective) | $boto_req | $bw | $bc | $brss | $boto_hs |"
	echo
	echo "CPU ratio (AWS CLI / ours): ${ratio}x. Targets: 1 handshake, under 1/50 of the CLI's CPU time."
	echo "Wall and CPU times from getrusage(RUSAGE_CHILDREN) around the run (microsecond resolution;"
	echo "GNU time's own CPU figures are in 10 ms steps); peak RSS from GNU time -v."
} | tee tests/bench/RESULTS-transport.md
