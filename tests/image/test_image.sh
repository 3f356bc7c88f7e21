#!/bin/sh
# test_image.sh — the FROM-scratch image, built and run without a Docker engine.
#
# Run from the repository root (./build.sh test does). It:
#   1. builds Dockerfile.scratch with `./build.sh image` (buildah, private vfs storage,
#      mmdebstrap stand-in for debian:bookworm, cached in /var/tmp) into an OCI layout;
#   2. runs the image with podman, network off: --version, no arguments, exit 7;
#   3. checks the OCI layout: one layer holding one file (the binary), no shell,
#      Entrypoint, numeric non-root User, OCI labels, compressed size < 200 KiB;
#   4. checks the build context .dockerignore lets through;
#   5. builds action.Dockerfile from what a fresh clone gives (no vendor/dl: the build
#      stage fetches and verifies the pinned sources itself) and checks the two builds
#      produced the same binary bytes; compares with the host's ./build.sh output too;
#   6. deployments against the ECS simulator (in a network namespace of the test's own):
#      the image deploys web:2.0; the action image, started the way GitHub's runner starts
#      it with the arguments action.yml gives, deploys web:3.0 and writes the action's
#      outputs to the mounted $GITHUB_OUTPUT and a summary to $GITHUB_STEP_SUMMARY.
# Prints PASS:/FAIL: lines and the time each step took. Needs root (apt, runc).
set -u

TOP=$(pwd)
[ -f "$TOP/Dockerfile.scratch" ] || { echo "FAIL: image: run from the repository root"; exit 1; }
BIN=${ECSDEPLOY_BIN:-$TOP/ecs-deploy}
VERSION=$(sed -n 's/^#define ED_VERSION "\(.*\)"$/\1/p' ecsdeploy.c)
MAX_LAYER=204800

T=$(mktemp -d "${TMPDIR:-/tmp}/ecs-deploy-image-test.XXXXXX")
WORK=$T/work
export ED_IMAGE_WORK="$WORK"
export CONTAINERS_STORAGE_CONF="$WORK/storage.conf" CONTAINERS_CONF="$WORK/containers.conf"
cleanup() {
	[ -f "$CONTAINERS_STORAGE_CONF" ] && buildah rm --all >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+: $2}"; }
# ok NAME COMMAND...: PASS when the command succeeds.
ok() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
now() { date +%s; }
took() { echo "time: $1 $(( $(now) - $2 )) s"; }
json() { # FILE PYTHON-EXPRESSION-ON-d: print the value (lists/dicts as JSON)
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if isinstance(v,(str,int)) else json.dumps(v))' "$1" "$2"
}
T_ALL=$(now)

# ---- 1. build ------------------------------------------------------------------------
t=$(now)
if ! sh ./build.sh image > "$T/build.log" 2>&1; then
	sed 's/^/    /' "$T/build.log" | tail -n 30
	fail "./build.sh image builds Dockerfile.scratch" "see the lines above"
	exit 1
fi
sed 's/^/    /' "$T/build.log" | grep -v '^    debconf:'
pass "./build.sh image builds Dockerfile.scratch into an OCI layout"
took "build (stand-in base + image)" "$t"
IMG=localhost/ecs-deploy:$VERSION
OCI=$WORK/oci

# ---- 2. run --------------------------------------------------------------------------
t=$(now)
run() { # expected-rc name stdout-contains args...: podman run --network none
	want=$1 name=$2 has=$3; shift 3
	podman run --rm --network none --read-only --cap-drop ALL "$IMG" "$@" \
		> "$T/out" 2> "$T/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$name" "exit $rc, want $want; stderr: $(head -c 300 "$T/err")"
	elif ! grep -qF -- "$has" "$T/out"; then
		fail "$name" "stdout lacks '$has': $(head -c 300 "$T/out")"
	else
		pass "$name"
	fi
}
run 0 "image: --version exits 0 and prints the version" "ecs-deploy $VERSION (built with musl" --version
run 3 "image: no arguments prints the usage, exit 3" "##### ecs-deploy #####"
run 7 "image: -n svc -i x exits 7 with the CLUSTER message" \
	"CLUSTER is required. You can pass the value using -c or --cluster" -n svc -i x
podman run --rm --network none --entrypoint /bin/sh "$IMG" -c true > "$T/out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'bin/sh' "$T/out"; then
	pass "image: there is no /bin/sh to run (exit $rc)"
else
	fail "image: there is no /bin/sh to run" "exit $rc: $(head -c 200 "$T/out")"
fi
# docker-compose.yml's service settings and local.env.dist, as a real engine parses them.
podman run --rm --network none --env-file local.env.dist -v "$TOP:/work:ro" --workdir /work \
	--read-only --cap-drop ALL --security-opt no-new-privileges "$IMG" --version > "$T/out" 2>&1
rc=$?
ok "image: runs with --env-file local.env.dist and the compose service's settings (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -q 'ecs-deploy $VERSION' '$T/out'"
took "runs" "$t"

# ---- 3. the OCI layout ---------------------------------------------------------------
t=$(now)
skopeo inspect --raw "oci:$OCI:$VERSION" > "$T/manifest.json" 2>"$T/err" \
	&& skopeo inspect --config "oci:$OCI:$VERSION" > "$T/config.json" 2>>"$T/err"
ok "skopeo reads the manifest and config from the OCI layout" test -s "$T/config.json"
nlayers=$(json "$T/manifest.json" 'len(d["layers"])')
ok "image has exactly one layer (found $nlayers)" test "$nlayers" = 1
digest=$(json "$T/manifest.json" 'd["layers"][0]["digest"].split(":")[1]')
size=$(json "$T/manifest.json" 'd["layers"][0]["size"]')
layer=$OCI/blobs/sha256/$digest
echo "compressed layer: $size bytes ($(( (size + 1023) / 1024 )) KiB); binary $(stat -c %s "$BIN") bytes"
ok "compressed layer size $size bytes < $MAX_LAYER (200 KiB)" test "$size" -lt "$MAX_LAYER"
ok "the layer blob matches its digest" sh -c "sha256sum '$layer' | grep -q '^$digest '"
tar -tvzf "$layer" > "$T/layer.txt" 2>&1
sed 's/^/    layer: /' "$T/layer.txt"
ok "the layer holds exactly one entry" test "$(wc -l < "$T/layer.txt")" = 1
ok "that entry is the regular file ecs-deploy, mode rwxr-xr-x, owner 0/0" \
	grep -Eq '^-rwxr-xr-x 0/0 +[0-9]+ [0-9-]+ [0-9:]+ (\./)?ecs-deploy$' "$T/layer.txt"
ok "no shell in the image (bin/sh absent from the layer)" sh -c "! grep -q 'bin/sh' '$T/layer.txt'"
entry=$(json "$T/config.json" 'd["config"].get("Entrypoint")')
ok "Entrypoint is [\"/ecs-deploy\"] (found $entry)" test "$entry" = '["/ecs-deploy"]'
user=$(json "$T/config.json" 'd["config"].get("User", "")')
ok "User '$user' is numeric uid:gid and not root" \
	sh -c "echo '$user' | grep -Eq '^[0-9]+:[0-9]+$' && [ '${user%%:*}' != 0 ]"
for l in source version licenses title description; do
	v=$(json "$T/config.json" "d['config'].get('Labels', {}).get('org.opencontainers.image.$l', '')")
	ok "label org.opencontainers.image.$l is set ('$v')" test -n "$v"
done
v=$(json "$T/config.json" "d['config'].get('Labels', {}).get('org.opencontainers.image.version', '')")
ok "label version $v is the binary's version $VERSION" test "$v" = "$VERSION"
ok "Dockerfile.scratch's default VERSION is ED_VERSION ($VERSION)" \
	grep -qx "ARG VERSION=$VERSION" Dockerfile.scratch
created=$(json "$T/config.json" 'd.get("created", "")')
ok "created timestamp is fixed at the epoch ($created)" test "$created" = "1970-01-01T00:00:00Z"
mkdir -p "$T/img" && tar -xzf "$layer" -C "$T/img"
ok "the image's binary is a static x86-64 ELF" sh -c "file -b '$T/img/ecs-deploy' | grep -q 'ELF 64-bit.*x86-64.*statically linked'"
took "OCI checks" "$t"

# ---- 4. build context ----------------------------------------------------------------
# Lists what .dockerignore lets into a build, with the same builder and context.
t=$(now)
printf 'FROM debian:bookworm\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sort\n' > "$T/probe.Containerfile"
buildah bud --pull=never --layers=false --network none -f "$T/probe.Containerfile" . 2>/dev/null \
	| grep '^\./' > "$T/ctx.txt"
sed 's/^/    context: /' "$T/ctx.txt"
ok "the build context has build.sh, ecsdeploy.c and vendor/MANIFEST" \
	sh -c "grep -qx ./build.sh '$T/ctx.txt' && grep -qx ./ecsdeploy.c '$T/ctx.txt' && grep -qx ./vendor/MANIFEST '$T/ctx.txt'"
ok "the build context has nothing else but vendor/dl/ downloads" \
	sh -c "! grep -Ev '^\./(build\.sh|ecsdeploy\.c|vendor/MANIFEST|vendor/dl/[^/]+)$' '$T/ctx.txt'"
if [ -d vendor/dl ] && ls vendor/dl/* >/dev/null 2>&1; then
	ok "vendor/dl/ (the verified downloads) reaches the build" grep -q '^\./vendor/dl/' "$T/ctx.txt"
fi
took "context probe" "$t"

# ---- 5. second build, the action's image, from a fresh clone's files ------------------
t=$(now)
CTX=$T/clean
mkdir -p "$CTX/vendor"
cp build.sh ecsdeploy.c action.Dockerfile .dockerignore "$CTX/" && cp vendor/MANIFEST "$CTX/vendor/"
CACHE=${ED_IMAGE_CACHE:-/var/tmp/ecs-deploy-image}   # apt's lists and downloads, as ./build.sh image
if buildah bud --quiet --pull=never --layers=false --timestamp 0 --network host \
	-v "$CACHE/apt/lists:/var/lib/apt/lists" -v "$CACHE/apt/archives:/var/cache/apt/archives" \
	-f "$CTX/action.Dockerfile" -t localhost/ecs-deploy-action:test "$CTX" > "$T/action.log" 2>&1 \
	&& buildah push --quiet localhost/ecs-deploy-action:test "oci:$T/action-oci:test" >> "$T/action.log" 2>&1; then
	pass "action.Dockerfile builds from a fresh clone's files (pinned sources fetched and verified in the build)"
	skopeo inspect --raw "oci:$T/action-oci:test" > "$T/amanifest.json"
	skopeo inspect --config "oci:$T/action-oci:test" > "$T/aconfig.json"
	ad=$(json "$T/amanifest.json" 'd["layers"][0]["digest"].split(":")[1]')
	mkdir -p "$T/act" && tar -xzf "$T/action-oci/blobs/sha256/$ad" -C "$T/act"
	a=$(sha256sum < "$T/act/ecs-deploy" | cut -c1-64)
	b=$(sha256sum < "$T/img/ecs-deploy" | cut -c1-64)
	echo "binary sha256: image $b, action image $a"
	ok "reproducible: two independent image builds give the same binary bytes" test "$a" = "$b"
	au=$(json "$T/aconfig.json" 'd["config"].get("User", "")')
	ok "the action image runs as root, as GitHub requires of Docker actions (User '$au')" \
		sh -c "[ -z '$au' ] || [ '$au' = 0 ] || [ '$au' = 0:0 ] || [ '$au' = root ]"
	# The way GitHub's runner starts a Docker action: workspace and file-command mounts,
	# workdir, GITHUB_* environment, and every runs.args entry as one argument (empty
	# entries included: the tool skips them).
	mkdir -p "$T/ws" "$T/fc" "$T/home" "$T/wf" && : > "$T/fc/set_output_1"
	podman run --rm --network none --workdir /github/workspace \
		-v "$T/ws:/github/workspace" -v "$T/fc:/github/file_commands" \
		-v "$T/home:/github/home" -v "$T/wf:/github/workflow" -e HOME=/github/home \
		-e GITHUB_ACTIONS=true -e GITHUB_OUTPUT=/github/file_commands/set_output_1 \
		-e INPUT_SERVICE-NAME=svc localhost/ecs-deploy-action:test \
		"" "--service-name=svc" "" "--image=nginx" "--enable-rollback=false" "" > "$T/out" 2>&1
	rc=$?
	ok "action image, started like the runner does, gives exit 7 for a missing cluster (got $rc)" \
		sh -c "[ $rc = 7 ] && grep -q 'CLUSTER is required' '$T/out'"
	ACTION_IMG=localhost/ecs-deploy-action:test   # section 6 deploys with it too
else
	sed 's/^/    /' "$T/action.log" | tail -n 30
	fail "action.Dockerfile builds from a fresh clone's files" "see the lines above"
fi
took "action image build" "$t"

# The host's ./build.sh output is the same bytes when the host compiles with the same
# Debian packages the build stage installed (the current bookworm ones).
same_toolchain() {
	for p in gcc-12 musl-dev binutils; do
		i=$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null)
		c=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p')
		[ -n "$i" ] && [ "$i" = "$c" ] || { echo "$p $i, archive $c"; return 1; }
	done
}
if why=$(same_toolchain); then
	ok "reproducible: the image's binary is byte-identical to the host's ./build.sh output" \
		cmp -s "$BIN" "$T/img/ecs-deploy"
else
	echo "SKIP: comparison with the host's binary: host toolchain differs from the archive's ($why)"
fi

# ---- 6. deployments against the ECS simulator ----------------------------------------
# From the image, against the ECS simulator (tests/sim, scenario demo.json: cluster "demo",
# service "web"). The simulator runs in a network namespace this test creates (only its
# loopback exists) and the containers join that namespace, so nothing can leave the machine.
deploy_against_simulator() {
	unshare --net sh -c 'ip link set lo up && exec python3 tests/sim/ecssim.py --scenario tests/sim/scenarios/demo.json --speed 60' \
		> "$T/sim.urls" 2> "$T/sim.log" &
	sim=$!
	i=0
	while [ ! -s "$T/sim.urls" ] && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
	if [ ! -s "$T/sim.urls" ]; then
		kill "$sim" 2>/dev/null
		fail "image deploys against the ECS simulator" "simulator did not start: $(tail -n 5 "$T/sim.log")"
		return
	fi
	ecs=$(json "$T/sim.urls" 'd["ecs"].replace("127.0.0.1", "localhost")')   # the test certificate names localhost
	ca=$(json "$T/sim.urls" 'd["ca"]')
	podman run --rm --network "ns:/proc/$sim/ns/net" -v "$ca:/ca.pem:ro" \
		-e AWS_ACCESS_KEY_ID=AKIDSIMULATOR0000001 \
		-e AWS_SECRET_ACCESS_KEY=simulator/secret/key/0000000000000000001 -e AWS_REGION=us-east-1 \
		"$IMG" -c demo -n web -i registry.example.com/acme/web:2.0 -t 120 \
		--endpoint-url "$ecs" --ca-bundle /ca.pem > "$T/out" 2>&1
	rc=$?
	ok "image deploys web:2.0 to the ECS simulator (exit $rc)" \
		sh -c "[ $rc = 0 ] && grep -q 'Service deployment successful.' '$T/out'"
	[ "$rc" = 0 ] || sed 's/^/    /' "$T/out" | tail -n 20
	if [ -n "${ACTION_IMG:-}" ]; then
		action_deploy "$sim" "$ecs" "$ca"
	else
		fail "action image deploys against the ECS simulator" "the action image was not built (section 5)"
	fi
	kill "$sim" 2>/dev/null
}
# The action image as GitHub's runner starts it (workspace and file-command mounts, GITHUB_*
# environment, one argument per runs.args entry, computed from action.yml by the expression
# simulator of test_action.py), deploying web:3.0; then the file-command files are checked.
action_deploy() { # sim-pid ecs-url ca-file
	rm -rf "$T/ws" "$T/fc" && mkdir -p "$T/ws" "$T/fc"
	: > "$T/fc/set_output_2" && : > "$T/fc/step_summary_2"
	cp "$3" "$T/ws/ca.pem"
	simpid=$1
	python3 -c '
import sys
sys.path.insert(0, "tests/image")
import yaml
import test_action
action = yaml.safe_load(open("action.yml"))
for a in test_action.action_args(action, {"cluster": "demo", "service-name": "web", "region": "us-east-1",
                                          "image": "registry.example.com/acme/web:3.0", "timeout": "120",
                                          "endpoint-url": sys.argv[1], "ca-bundle": "ca.pem"}):
    print(a)
import shutil
shutil.rmtree(test_action.TMP, ignore_errors=True)   # made on import, unused here
' "$2" > "$T/args"
	set --
	while IFS= read -r a; do set -- "$@" "$a"; done < "$T/args"
	podman run --rm --network "ns:/proc/$simpid/ns/net" --workdir /github/workspace \
		-v "$T/ws:/github/workspace" -v "$T/fc:/github/file_commands" \
		-e GITHUB_ACTIONS=true -e GITHUB_OUTPUT=/github/file_commands/set_output_2 \
		-e GITHUB_STEP_SUMMARY=/github/file_commands/step_summary_2 \
		-e AWS_ACCESS_KEY_ID=AKIDSIMULATOR0000001 \
		-e AWS_SECRET_ACCESS_KEY=simulator/secret/key/0000000000000000001 \
		"$ACTION_IMG" "$@" > "$T/out" 2>&1
	rc=$?
	ok "action image, started like the runner does with action.yml's $# arguments, deploys web:3.0 (exit $rc)" \
		sh -c "[ $rc = 0 ] && grep -q 'Service deployment successful.' '$T/out'"
	[ "$rc" = 0 ] || sed 's/^/    /' "$T/out" | tail -n 20
	sed 's/^/    GITHUB_OUTPUT: /' "$T/fc/set_output_2"
	ok "action image: GITHUB_OUTPUT has task-definition-arn=...:task-definition/web:3" \
		grep -qx 'task-definition-arn=arn:aws:ecs:us-east-1:123456789012:task-definition/web:3' "$T/fc/set_output_2"
	ok "action image: GITHUB_OUTPUT has deployment-id=ecs-svc/..." grep -Eqx 'deployment-id=ecs-svc/[0-9]+' "$T/fc/set_output_2"
	ok "action image: GITHUB_OUTPUT has status=deployed" grep -qx 'status=deployed' "$T/fc/set_output_2"
	ok "action image: GITHUB_STEP_SUMMARY has the summary naming web:3" \
		sh -c "grep -q 'deployed' '$T/fc/step_summary_2' && grep -q 'task-definition/web:3' '$T/fc/step_summary_2'"
}
t=$(now)
deploy_against_simulator
took "simulator deployment" "$t"

took "image test total" "$T_ALL"
