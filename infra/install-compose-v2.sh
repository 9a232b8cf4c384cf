#!/usr/bin/env bash
# infra/install-compose-v2.sh: installs Docker Compose v2 (`docker compose`) as a Docker CLI
# plugin, from Debian's own packages, when `docker compose version` does not answer.
#
# Debian bookworm ships only Compose v1 (`docker-compose` 1.29). The docker-compose
# package of Debian's next release (trixie) holds Compose v2 as one static Go binary; this
# script downloads that package with apt (trixie's index is read into a private folder:
# the machine's own sources and package lists are left as they are), extracts the binary
# and puts it where the Docker CLI finds plugins:
#   ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose
# Nothing is installed system-wide; the v1 `docker-compose` stays as it was.
#
#   infra/install-compose-v2.sh            # does nothing when `docker compose` works
#   DEBIAN_MIRROR=http://mirror.example/debian infra/install-compose-v2.sh
set -euo pipefail

if docker compose version >/dev/null 2>&1; then
  docker compose version
  exit 0
fi
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$work/etc/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$work/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
             -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Get::List-Cleanup=0"
             -o "APT::Sandbox::User=$(id -un)")  # a private folder the _apt user cannot read
echo "install-compose-v2: reading Debian trixie's package index from $mirror" >&2
apt-get "${apt_private[@]}" -qq update
(cd "$work" && apt-get "${apt_private[@]}" -qq download docker-compose)
deb="$(ls "$work"/docker-compose_*.deb)"
dpkg-deb -x "$deb" "$work/x"
binary="$(find "$work/x" -type f -name docker-compose -path '*cli-plugins*' | head -1)"
if [ -z "$binary" ]; then
  echo "install-compose-v2: no cli-plugins/docker-compose in $(basename "$deb")" >&2
  exit 1
fi
mkdir -p "$plugins"
install -m 0755 "$binary" "$plugins/docker-compose"
echo "install-compose-v2: installed $(basename "$deb") as $plugins/docker-compose" >&2
docker compose version
