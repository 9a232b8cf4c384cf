#!/usr/bin/env bash
# infra/build-offline.sh: builds the compose stack's images with no container registry.
#
#   1. base image    a minimal Debian bookworm root filesystem (debootstrap, Debian's own
#                    packages: python3.11, python3-venv, ca-certificates) imported with
#                    `docker import` as prodml-lab/base:bookworm
#   2. wheelhouse    requirements.lock (+ infra/requirements-image.txt) as cp311
#                    manylinux x86_64 wheels, downloaded on the host into the cache
#   3. lab image     infra/Dockerfile on that base, installing only from the wheelhouse
#   4. postgres      the same root filesystem plus Debian's postgresql-15, imported, and
#                    infra/postgres/Dockerfile's entrypoint on top
#   5. prometheus    the same root filesystem plus Debian's prometheus (2.42, promtool),
#                    imported, and infra/prometheus/Dockerfile on top: an image of its own,
#                    so the lab image does not grow and a change to either rebuilds one
#
# Everything is cached in $PRODML_LAB_CACHE (default /var/cache/prodml-lab, outside the
# repository): a step whose inputs did not change is skipped, so a second run takes
# seconds. Prints the image names as shell assignments on stdout, and writes them to the
# repository's .env (LAB_ENV_FILE: another file, or none), which docker compose reads:
#   LAB_IMAGE=prodml-lab/lab:offline
#   LAB_POSTGRES_IMAGE=prodml-lab/postgres:15-offline
#   LAB_PROMETHEUS_IMAGE=prodml-lab/prometheus:2.42-offline
# Needs root (debootstrap, chroot); installs debootstrap with apt-get when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${PRODML_LAB_CACHE:-/var/cache/prodml-lab}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
base_image="${LAB_BASE_IMAGE:-prodml-lab/base:bookworm}"
pg_rootfs_image="prodml-lab/postgres-rootfs:bookworm"
lab_image="${LAB_IMAGE:-prodml-lab/lab:offline}"
pg_image="${LAB_POSTGRES_IMAGE:-prodml-lab/postgres:15-offline}"
prom_rootfs_image="prodml-lab/prometheus-rootfs:bookworm"
prom_image="${LAB_PROMETHEUS_IMAGE:-prodml-lab/prometheus:2.42-offline}"
python="${PYTHON:-python3}"
export DOCKER_BUILDKIT=0  # the legacy builder: no BuildKit or buildx needed, nothing pulled

log() { printf '[build-offline %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
image_label() {  # image label -> value, or nothing when the image is missing
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # one build at a time per cache

# -- 1. base root filesystem and image ------------------------------------------------------
base_packages="python3.11,python3-venv,ca-certificates,passwd,tzdata"
base_recipe="$(printf 'bookworm minbase %s %s\n' "$base_packages" "$mirror" | sha256sum | cut -c1-16)"
rootfs_tar="$cache/rootfs-base-$base_recipe.tar"

sources_list() {
  cat <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
}

clean_rootfs() {  # what a container image does not need
  local dir="$1"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
         "$dir"/var/log/*.log "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
         "$dir"/tmp/* "$dir"/root/.cache
  : > "$dir/etc/machine-id" 2>/dev/null || true
}

# rootfs_with NAME PACKAGES TAR [PREPARE]: writes TAR, a copy of the base root filesystem with
# Debian's PACKAGES installed (chroot, apt from the mirror); PREPARE (a function) gets the
# copy's path first. Nothing to do when TAR exists.
rootfs_with() {
  local name="$1" packages="$2" tar="$3" prepare="${4:-}" dir="$cache/rootfs-$1.tmp" started=$SECONDS
  [ -s "$tar" ] && return 0
  rm -rf "$dir"
  mkdir -p "$dir"
  tar --numeric-owner -C "$dir" -xf "$rootfs_tar"
  log "installing $packages into a copy of the root filesystem (chroot, Debian's packages)"
  if [ -n "$prepare" ]; then "$prepare" "$dir"; fi
  printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"  # no service started in the chroot
  chmod +x "$dir/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mount -t proc proc "$dir/proc"
  trap "umount '$dir/proc' 2>/dev/null || true" EXIT
  chroot "$dir" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends $packages" >"$cache/$name-apt.log" 2>&1 \
    || { tail -20 "$cache/$name-apt.log" >&2; exit 1; }
  umount "$dir/proc"
  trap - EXIT
  rm -f "$dir/usr/sbin/policy-rc.d"
  : > "$dir/etc/resolv.conf"
  clean_rootfs "$dir"
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  log "$name root filesystem ready in $((SECONDS - started)) s: $(du -h "$tar" | cut -f1)"
}

if [ ! -s "$rootfs_tar" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  dir="$cache/rootfs-base.tmp"
  rm -rf "$dir"
  log "debootstrap bookworm ($base_packages) from $mirror"
  started=$SECONDS
  debootstrap --variant=minbase --include="$base_packages" bookworm "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  sources_list > "$dir/etc/apt/sources.list"
  clean_rootfs "$dir"
  tar --numeric-owner -C "$dir" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$dir"
  log "root filesystem ready in $((SECONDS - started)) s: $(du -h "$rootfs_tar" | cut -f1)"
fi
if [ "$(image_label "$base_image" prodml-lab.recipe)" != "$base_recipe" ]; then
  log "docker import $base_image"
  docker import \
    --change "LABEL prodml-lab.recipe=$base_recipe" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "$rootfs_tar" "$base_image" >/dev/null
fi

# -- 2. wheelhouse -------------------------------------------------------------------------
wheel_args=(--only-binary=:all: --no-deps --implementation cp --python-version 3.11 --abi cp311
            --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64)
wheel_recipe="$( (cat "$root/requirements.lock" "$root/infra/requirements-image.txt"; echo "${wheel_args[*]}") \
                 | sha256sum | cut -c1-16)"
wheels="$cache/wheels"
if [ "$(cat "$wheels/.recipe" 2>/dev/null)" != "$wheel_recipe" ]; then
  log "downloading the wheelhouse into $wheels"
  started=$SECONDS
  mkdir -p "$wheels"
  "$python" -m pip download --quiet --disable-pip-version-check --dest "$wheels" "${wheel_args[@]}" \
    -r "$root/requirements.lock" -r "$root/infra/requirements-image.txt"
  echo "$wheel_recipe" > "$wheels/.recipe"
  log "wheelhouse ready in $((SECONDS - started)) s: $(ls "$wheels" | grep -c '\.whl$') wheels, $(du -sh "$wheels" | cut -f1)"
fi
# a wheel that is not for CPython 3.11 on x86_64 Linux would fail inside the build: say so here
# (name-version-python-abi-platform.whl: abi none, abi3 or cp311; platform any or x86_64 Linux)
bad="$(ls "$wheels" | grep '\.whl$' | awk -F- '{ abi = $(NF-1); plat = $NF;
         if (!(abi == "none" || abi == "abi3" || abi == "cp311") ||
             !(plat == "any.whl" || plat ~ /linux.*x86_64/)) print }')"
if [ -n "$bad" ]; then
  log "wheels that do not fit cp311 manylinux x86_64:"; echo "$bad" >&2; exit 1
fi

# -- 3. lab image ----------------------------------------------------------------------------
# The build context: the files infra/Dockerfile copies, plus the wheelhouse (hard links).
lab_inputs=(pyproject.toml README.md requirements.lock infra/Dockerfile infra/requirements-image.txt
            lab)
lab_recipe="$( (cd "$root" && find "${lab_inputs[@]}" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' \
                 -print0 | LC_ALL=C sort -z | xargs -0 sha256sum;
                echo "$wheel_recipe"; docker image inspect --format '{{.Id}}' "$base_image") \
               | sha256sum | cut -c1-16)"
if [ "$(image_label "$lab_image" prodml-lab.recipe)" != "$lab_recipe" ]; then
  ctx="$(mktemp -d "$cache/context.XXXXXX")"
  trap 'rm -rf "$ctx"' EXIT
  mkdir -p "$ctx/infra"
  (cd "$root" && tar --exclude='__pycache__' --exclude='*.pyc' -cf - "${lab_inputs[@]}" infra/wheelhouse) | tar -C "$ctx" -xf -
  cp -al "$wheels" "$ctx/wheels" 2>/dev/null || cp -a "$wheels" "$ctx/wheels"
  log "building $lab_image from $base_image and the wheelhouse (no network)"
  started=$SECONDS
  docker build --network none --force-rm -f "$ctx/infra/Dockerfile" \
    --build-arg BASE_IMAGE="$base_image" --build-arg WHEELHOUSE=wheels \
    --label "prodml-lab.recipe=$lab_recipe" -t "$lab_image" "$ctx" >"$cache/build-lab.log" 2>&1 \
    || { tail -40 "$cache/build-lab.log" >&2; exit 1; }
  rm -rf "$ctx"
  trap - EXIT
  log "lab image built in $((SECONDS - started)) s"
fi

# -- 4. postgres image ---------------------------------------------------------------------
pg_prepare() {  # no cluster made at install time
  mkdir -p "$1/etc/postgresql-common/createcluster.d"
  echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/no-main-cluster.conf"
}
pg_packages="postgresql-15"
pg_recipe="$(printf '%s %s\n' "$base_recipe" "$pg_packages" | sha256sum | cut -c1-16)"
pg_tar="$cache/rootfs-postgres-$pg_recipe.tar"
rootfs_with postgres "$pg_packages" "$pg_tar" pg_prepare
if [ "$(image_label "$pg_rootfs_image" prodml-lab.recipe)" != "$pg_recipe" ]; then
  docker import --change "LABEL prodml-lab.recipe=$pg_recipe" --change 'CMD ["/bin/bash"]' \
    "$pg_tar" "$pg_rootfs_image" >/dev/null
fi
pg_build_recipe="$( (cat "$root/infra/postgres/Dockerfile" "$root/infra/postgres/docker-entrypoint.sh";
                     docker image inspect --format '{{.Id}}' "$pg_rootfs_image") | sha256sum | cut -c1-16)"
if [ "$(image_label "$pg_image" prodml-lab.recipe)" != "$pg_build_recipe" ]; then
  log "building $pg_image"
  docker build --network none --force-rm --build-arg BASE_IMAGE="$pg_rootfs_image" \
    --label "prodml-lab.recipe=$pg_build_recipe" -t "$pg_image" "$root/infra/postgres" >"$cache/build-postgres.log" 2>&1 \
    || { tail -20 "$cache/build-postgres.log" >&2; exit 1; }
fi

# -- 5. prometheus image -------------------------------------------------------------------
# Debian's package, with infra/prometheus/dpkg-excludes (files it never reads) in place first.
prom_prepare() {
  mkdir -p "$1/etc/dpkg/dpkg.cfg.d"
  cp "$root/infra/prometheus/dpkg-excludes" "$1/etc/dpkg/dpkg.cfg.d/prodml-lab-excludes"
}
prom_packages="prometheus"
prom_recipe="$( (printf '%s %s\n' "$base_recipe" "$prom_packages"; cat "$root/infra/prometheus/dpkg-excludes") \
                | sha256sum | cut -c1-16)"
prom_tar="$cache/rootfs-prometheus-$prom_recipe.tar"
rootfs_with prometheus "$prom_packages" "$prom_tar" prom_prepare
if [ "$(image_label "$prom_rootfs_image" prodml-lab.recipe)" != "$prom_recipe" ]; then
  docker import --change "LABEL prodml-lab.recipe=$prom_recipe" --change 'CMD ["/bin/bash"]' \
    "$prom_tar" "$prom_rootfs_image" >/dev/null
fi
# the build context: the Dockerfile and what it copies (not the configuration, which compose mounts)
prom_build_recipe="$( (cat "$root/infra/prometheus/Dockerfile" "$root/infra/prometheus/dpkg-excludes";
                       docker image inspect --format '{{.Id}}' "$prom_rootfs_image") | sha256sum | cut -c1-16)"
if [ "$(image_label "$prom_image" prodml-lab.recipe)" != "$prom_build_recipe" ]; then
  log "building $prom_image"
  ctx="$(mktemp -d "$cache/context.XXXXXX")"
  trap 'rm -rf "$ctx"' EXIT
  cp "$root/infra/prometheus/Dockerfile" "$root/infra/prometheus/dpkg-excludes" "$ctx/"
  docker build --network none --force-rm --build-arg BASE_IMAGE="$prom_rootfs_image" \
    --label "prodml-lab.recipe=$prom_build_recipe" -t "$prom_image" "$ctx" >"$cache/build-prometheus.log" 2>&1 \
    || { tail -20 "$cache/build-prometheus.log" >&2; exit 1; }
  rm -rf "$ctx"
  trap - EXIT
fi

# earlier builds of these images, untagged by the new ones: their layers go too
docker image prune --force --filter "label=prodml-lab.recipe" >/dev/null 2>&1 || true
log "images ready: $lab_image, $pg_image, $prom_image"

# Compose reads .env beside docker-compose.yml, so a later plain `docker compose up` (to
# bring a service back, to pick a scenario) runs these images instead of trying a registry.
# Only these lines are replaced; anything else in the file stays. LAB_ENV_FILE=none skips it.
env_file="${LAB_ENV_FILE:-$root/.env}"
if [ "$env_file" != none ]; then
  { grep -v -E '^(LAB_IMAGE|LAB_POSTGRES_IMAGE|LAB_PROMETHEUS_IMAGE)=' "$env_file" 2>/dev/null || true
    printf 'LAB_IMAGE=%s\nLAB_POSTGRES_IMAGE=%s\nLAB_PROMETHEUS_IMAGE=%s\n' "$lab_image" "$pg_image" "$prom_image"
  } >"$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
  log "wrote LAB_IMAGE, LAB_POSTGRES_IMAGE and LAB_PROMETHEUS_IMAGE to $env_file (docker compose reads it)"
fi
echo "LAB_IMAGE=$lab_image"
echo "LAB_POSTGRES_IMAGE=$pg_image"
echo "LAB_PROMETHEUS_IMAGE=$prom_image"
