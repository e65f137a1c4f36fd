#!/usr/bin/env bash
# Build deploy/Dockerfile without a Docker engine or an image registry, and run the built image with chroot.
# For machines like this project's: Debian bookworm, root, Debian's package mirror and PyPI reachable, no docker.io,
# containers cannot start (crun/runc: "setrlimit RLIMIT_NOFILE: Operation not permitted"). deploy/CONTAINER.md tells
# what this does and what it cannot do; on a normal Docker host use `docker build -f deploy/Dockerfile .` instead.
#
#   sudo deploy/build-image.sh all     base + build + start + check + stop (the whole round, idempotent)
#   sudo deploy/build-image.sh base    debootstrap a bookworm root filesystem -> localhost/genlib-base:bookworm
#   sudo deploy/build-image.sh build   buildah bud --isolation chroot of deploy/Dockerfile -> localhost/genlib-app
#   sudo deploy/build-image.sh start   the image's CMD, as its USER, chrooted into its filesystem, in a network
#                                      namespace that has only loopback (proof of "no network at run time")
#   sudo deploy/build-image.sh check   image size, no pickle files, the HEALTHCHECK, then headless Chromium (the
#                                      repository's .venv Playwright) clicks through every page; screenshots in $WORK/shots
#   sudo deploy/build-image.sh stop    stop the server, unmount, remove the network namespace and working container
#   sudo deploy/build-image.sh clean   stop, then delete $WORK (rootfs, image store, logs)
#
# Everything lives in $WORK (default /work/build-container), outside the repository; the image store is
# $WORK/storage (overlay driver, set by $WORK/storage.conf: use `CONTAINERS_STORAGE_CONF=$WORK/storage.conf podman
# images` to see it). Needs Debian's podman buildah debootstrap jq iproute2 (installed when missing).
#
# Settings (environment):
#   WORK=/work/build-container   MIRROR=http://deb.debian.org/debian   IMAGE=localhost/genlib-app
#   CONTEXT=<repository root>    the build context; deploy/Dockerfile.dockerignore applies to it
#   BUILD_CA=/etc/ssl/certs/ca-certificates.crt  the host's CA bundle, bind-mounted over the base's during RUN steps
#                                (PyPI is reached through a TLS-intercepting proxy here); the image keeps Debian's
#   PIP_INDEX_OPTIONS=...        the Dockerfile's build arg (default here: empty, PyPI alone; a host that reaches
#                                download.pytorch.org leaves it unset in `docker build` to get torch's CPU wheels)
#   REBUILD_BASE=1               debootstrap again even if the base image exists
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/work/build-container}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm                                  # its python3 is 3.11, as python:3.11-slim's
BASE_IMAGE=localhost/genlib-base:bookworm
IMAGE=${IMAGE:-localhost/genlib-app}
CONTEXT=${CONTEXT:-$REPO}
BUILD_CA=${BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
NETNS=genlib-img                                # network namespace of the running image (loopback only)
CTR=genlib-app-run                              # buildah working container whose mount is the running filesystem
PORT=8501                                       # the image's own port: free inside its own network namespace
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mounts, network namespaces)"

setup() {
    case "$WORK" in "$REPO"|"$REPO"/*) die "WORK must be outside the repository";; esac
    mkdir -p "$WORK"
    local t missing=()
    for t in podman buildah debootstrap jq ip; do command -v "$t" >/dev/null || missing+=("$t"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing podman buildah debootstrap jq iproute2 (missing: ${missing[*]})"
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman buildah debootstrap jq iproute2
    fi
    cat > "$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
}

# A stand-in for python:3.11-slim from Debian's packages: python3 3.11 + pip, `python` on PATH, pip allowed to
# install system-wide (as in the official image: the image holds one application), LANG=C.UTF-8, no apt caches/docs.
base() {
    setup
    if podman image exists "$BASE_IMAGE" && [ "${REBUILD_BASE:-0}" != 1 ]; then
        log "$BASE_IMAGE exists (REBUILD_BASE=1 to make it again)"; return
    fi
    local root=$WORK/rootfs
    rm -rf "$root"
    log "debootstrap --variant=minbase $SUITE $root $MIRROR"
    debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
        "$SUITE" "$root" "$MIRROR"
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED           # PEP 668 marker: the image's pip installs system-wide
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/man/* \
        "$root"/usr/share/info/* "$root"/usr/share/locale/*
    find "$root"/usr/share/doc -type f ! -name copyright -delete
    : > "$root"/etc/resolv.conf; rm -f "$root"/etc/hostname      # the build and run environments provide these
    printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
        > "$root"/etc/dpkg/dpkg.cfg.d/slim
    podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
    log "importing $root as $BASE_IMAGE"
    tar -C "$root" --numeric-owner -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE_IMAGE"
    rm -rf "$root"                                               # the image store has it now
}

build() {
    setup
    podman image exists "$BASE_IMAGE" || base
    local opts="" vol=()
    # PyPI's torch 2.14.1 is the default Linux wheel (CUDA libraries, about 4 GB installed): download.pytorch.org,
    # the Dockerfile's default extra index, cannot be reached here (its name does not resolve), so it is not given
    [ -n "${PIP_INDEX_OPTIONS+set}" ] && opts=$PIP_INDEX_OPTIONS
    # PyPI is reached through a TLS-intercepting proxy whose CA is in this host's trust store, not in Debian's: the
    # host's bundle is bind-mounted over the base's for the RUN steps only (the image keeps Debian's own file)
    [ -f "$BUILD_CA" ] && vol+=(--volume "$BUILD_CA:/etc/ssl/certs/ca-certificates.crt:ro")
    log "buildah bud (BASE=$BASE_IMAGE, PIP_INDEX_OPTIONS=$opts) -> $IMAGE"
    # --format docker keeps HEALTHCHECK (the OCI image format has no such field); --layers caches the pip layer;
    # --force-rm: no working container left behind by a failed step
    time buildah bud --isolation chroot --format docker --layers --force-rm \
        -f "$REPO/deploy/Dockerfile" --ignorefile "$REPO/deploy/Dockerfile.dockerignore" \
        --build-arg BASE="$BASE_IMAGE" --build-arg PIP_INDEX_OPTIONS="$opts" "${vol[@]}" \
        -t "$IMAGE" "$CONTEXT"
    buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$IMAGE"
}

# the image's config: env, user, workdir, cmd, healthcheck (JSON)
config() { podman image inspect "$IMAGE" --format '{{json .Config}}'; }
# its HEALTHCHECK test ("CMD-SHELL ..." or "CMD a b" in Docker's form) as a shell command
healthcheck_cmd() { podman image inspect "$IMAGE" --format '{{json .HealthCheck}}' | python3 -c '
import json, shlex, sys
h = json.load(sys.stdin) or {}; t = h.get("Test") or []
print(t[1] if t[:1] == ["CMD-SHELL"] else " ".join(map(shlex.quote, t[1:])) if t[:1] == ["CMD"] else "")'; }

start() {
    setup
    stop_server
    podman image exists "$IMAGE" || die "no image $IMAGE: run build first"
    buildah rm "$CTR" >/dev/null 2>&1 || true
    buildah from --name "$CTR" "$IMAGE" >/dev/null
    local mnt; mnt=$(buildah mount "$CTR")
    echo "$mnt" > "$WORK/mnt"
    mount -t proc proc "$mnt/proc"
    mount --bind /dev "$mnt/dev"
    ip netns add "$NETNS"
    ip netns exec "$NETNS" ip link set lo up
    # the image's ENV, USER, WORKDIR and CMD as a container engine would apply them
    local cfg user uid gid home workdir envs=() cmd=()
    cfg=$(config)
    user=$(jq -r '.User // "0"' <<<"$cfg")
    uid=$(awk -F: -v u="${user%%:*}" '$1==u || $3==u {print $3; exit}' "$mnt/etc/passwd")
    gid=$(awk -F: -v u="${user%%:*}" '$1==u || $3==u {print $4; exit}' "$mnt/etc/passwd")
    home=$(awk -F: -v u="${user%%:*}" '$1==u || $3==u {print $6; exit}' "$mnt/etc/passwd")
    workdir=$(jq -r '.WorkingDir // "/"' <<<"$cfg")
    mapfile -t envs < <(jq -r '.Env[]' <<<"$cfg")
    mapfile -t cmd < <(jq -r '(.Entrypoint // []) + (.Cmd // []) | .[]' <<<"$cfg")
    log "starting as uid $uid:$gid in $workdir (network namespace $NETNS): ${cmd[*]}"
    ip netns exec "$NETNS" env -i HOME="$home" HOSTNAME=genlib "${envs[@]}" \
        chroot --userspec="$uid:$gid" "$mnt" /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "${cmd[@]}" \
        > "$WORK/server.log" 2>&1 &
    echo $! > "$WORK/server.pid"
    local hc; hc=$(healthcheck_cmd)
    for _ in $(seq 120); do
        if ip netns exec "$NETNS" env -i "${envs[@]}" chroot --userspec="$uid:$gid" "$mnt" /bin/sh -c "$hc" 2>/dev/null; then
            log "HEALTHCHECK passes: $hc"; return
        fi
        kill -0 "$(cat "$WORK/server.pid")" 2>/dev/null || { cat "$WORK/server.log"; die "the server exited"; }
        sleep 1
    done
    cat "$WORK/server.log"; die "HEALTHCHECK still failing after 120 s"
}

check() {
    setup
    podman image exists "$IMAGE" || die "no image $IMAGE"
    local mnt; mnt=$(cat "$WORK/mnt" 2>/dev/null) || die "not started: run start first"
    log "image size"
    podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "genlib" || true
    log "largest installed packages in the image"
    (cd "$mnt"/usr/local/lib/python3*/dist-packages && du -sh -- * | sort -h | tail -6)
    log "weights: safetensors only, no pickle files under /app"
    ls "$mnt/app/checkpoints"
    local pickles; pickles=$(find "$mnt/app" \( -name '*.pt' -o -name '*.pth' -o -name '*.pkl' -o -name '*.pickle' -o -name '*.ckpt' \) -print)
    [ -z "$pickles" ] || die "pickle-format files in the image: $pickles"
    ! grep -rn --include='*.py' -E 'torch\.load\(|pickle\.load' "$mnt/app" || die "pickle loading in the app"
    log "network namespace $NETNS (the server's only network):"
    ip netns exec "$NETNS" ip -br addr
    [ -x "$REPO/.venv/bin/python" ] || die "no $REPO/.venv with Playwright: the browser check cannot run"
    mkdir -p "$WORK/shots"
    log "Chromium (in $NETNS) clicks through every page"
    ip netns exec "$NETNS" "$REPO/.venv/bin/python" - "http://127.0.0.1:$PORT" "$WORK/shots" <<'EOF'
import sys, time
from playwright.sync_api import sync_playwright
url, shots = sys.argv[1], sys.argv[2]
PAGES = [("Home", "/"), ("Autoencoder", "/autoencoder"), ("Variational autoencoder", "/vae"),
         ("Energy-based model", "/ebm"), ("Restricted Boltzmann machine", "/rbm"), ("Langevin & SGLD lab", "/langevin")]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"

def settle(page):
    """the page's title drawn and the script state 'notRunning' twice 0.5 s apart"""
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=90_000)
    for _ in range(240):
        page.wait_for_selector(IDLE, timeout=90_000)
        time.sleep(0.5)
        if page.locator(IDLE).count():
            return
    raise TimeoutError("never idle")

failed = []
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    for title, path in PAGES:
        t0 = time.time()
        if path != "/":
            page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True).click()
            page.wait_for_url(url + path, timeout=30_000)
        settle(page)
        h1 = page.locator("[data-testid='stMain'] h1").first.inner_text()
        n_exc = page.locator("[data-testid='stException']").count()
        name = path.strip("/") or "home"
        page.screenshot(path=f"{shots}/{name}.png")
        print(f"{title:30s} {page.url:40s} h1={h1!r} exceptions={n_exc} {time.time() - t0:.1f}s", flush=True)
        if n_exc:
            failed.append((title, page.locator("[data-testid='stException']").first.inner_text()[:800]))
    b.close()
for title, text in failed:
    print(f"EXCEPTION on {title}:\n{text}")
sys.exit(1 if failed else 0)
EOF
    log "server log"
    tail -20 "$WORK/server.log"
}

stop_server() {
    if [ -f "$WORK/server.pid" ]; then
        local pid; pid=$(cat "$WORK/server.pid")
        # the recorded pid is `ip netns exec`, which execs env, then chroot, then sh, then streamlit: the same pid
        kill "$pid" 2>/dev/null && { for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done; }
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$WORK/server.pid"
    fi
    local mnt; mnt=$(cat "$WORK/mnt" 2>/dev/null || true)
    if [ -n "$mnt" ]; then
        mountpoint -q "$mnt/proc" && umount "$mnt/proc"
        mountpoint -q "$mnt/dev" && umount "$mnt/dev"
        rm -f "$WORK/mnt"
    fi
    ip netns list | grep -qw "$NETNS" && ip netns del "$NETNS"
    buildah rm "$CTR" >/dev/null 2>&1 || true
}

stop() { setup; stop_server; }

clean() {
    stop
    buildah rm --all >/dev/null 2>&1 || true
    podman rmi --all -f >/dev/null 2>&1 || true
    mountpoint -q "$WORK/storage/overlay" && umount "$WORK/storage/overlay"   # containers/storage's private bind mount
    rm -rf "$WORK"
}

all() { base; build; start; trap stop EXIT; check; }

case "${1:-}" in
    base|build|start|check|stop|clean|all) "$1";;
    *) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 2;;
esac
