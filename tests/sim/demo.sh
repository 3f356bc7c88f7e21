#!/bin/sh
# demo.sh BIN — what `./build.sh demo` runs: start the ECS simulator with the friendly demo
# scenario (cluster "demo", service "web" running registry.example.com/acme/web:1.0 on two
# tasks), then deploy with the real binary BIN over TLS:
#   1. web:2.0, which rolls out and succeeds (exit 0);
#   2. web:bad, whose image cannot be pulled, with --enable-rollback: the new tasks fail to start,
#      ECS's circuit breaker (configured with rollback on this service) rolls the service back to
#      the revision that ran before, and ecs-deploy reports exactly that with the stopped tasks'
#      reasons and exits 15, instead of issuing a second rollback (§5.6). On a service without a
#      circuit breaker the same run rolls back itself, waits, and exits 18:
#   3. web:bad on service "api", which has no circuit breaker: the new tasks never start, the
#      wait times out, ecs-deploy rolls back to the previous revision, waits for that rollout
#      and exits 18.
# Everything stays on loopback; the simulator is stopped on exit.
set -eu
BIN=${1:-./ecs-deploy}
HERE=$(cd "$(dirname "$0")" && pwd)
SPEED=${DEMO_SPEED:-20}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecs-deploy-demo.XXXXXX")
SIM_PID=
cleanup() {
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The demo scenario plus a service "api" like "web" but without a circuit breaker, so that the
# third run shows ecs-deploy's own rollback.
python3 - "$HERE/scenarios/demo.json" "$WORK/demo.json" <<'PY'
import copy, json, sys
s = json.load(open(sys.argv[1]))
api = copy.deepcopy(s["services"][0])
api["serviceName"] = "api"
api["deploymentConfiguration"].pop("deploymentCircuitBreaker", None)
s["services"].append(api)
json.dump(s, open(sys.argv[2], "w"))
PY
python3 "$HERE/ecssim.py" --scenario "$WORK/demo.json" --speed "$SPEED" \
	> "$WORK/urls" 2> "$WORK/sim.log" &
SIM_PID=$!
i=0
while [ ! -s "$WORK/urls" ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || { echo "demo: the simulator did not start:"; cat "$WORK/sim.log"; exit 1; }
	sleep 0.1
done
url() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$WORK/urls" "$1"; }
# The test certificate names localhost.
ECS=$(url ecs | sed 's/127\.0\.0\.1/localhost/')
CA=$(url ca)

echo "== ECS simulator at $ECS (simulated time runs ${SPEED}x)"
echo "== credentials: the simulator's demo key, passed through the environment"
export AWS_ACCESS_KEY_ID=AKIDSIMULATOR0000001
export AWS_SECRET_ACCESS_KEY=simulator/secret/key/0000000000000000001
export AWS_REGION=us-east-1

run() {
	echo
	echo "\$ ecs-deploy $*"
	rc=0
	"$BIN" "$@" --endpoint-url "$ECS" --ca-bundle "$CA" || rc=$?
	echo "(exit code $rc)"
	return 0
}

echo
echo "== 1. a deployment that succeeds"
run -c demo -n web -i registry.example.com/acme/web:2.0 -t 120
echo
echo "== 2. a deployment whose image cannot be pulled, with --enable-rollback (ECS's circuit breaker rolls it back)"
run -c demo -n web -i registry.example.com/acme/web:bad -t 60 --enable-rollback
echo
echo "== 3. the same image on a service without a circuit breaker: ecs-deploy rolls back itself"
run -c demo -n api -i registry.example.com/acme/web:bad -t 15 --enable-rollback
