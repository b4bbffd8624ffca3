#!/usr/bin/env bash
# Build the real-world heavy case: examples/torch-cpu-api with PyPI's CUDA torch 2.5.1 (about 5.6 GB), then
# save it as a docker-archive and convert it to an OCI layout with gzip layers, for bench/inspect_bench.py.
#
# Needs the lab (scripts/lab up: engine, python:3.11-slim, package index) and PyPI from inside containers.
# Downloads about 3 GB; takes 10-20 minutes. Outputs (git-ignored):
#   bench/out/cuda.tar         docker save (legacy docker-archive on Debian's engine)
#   bench/out/cuda-oci/        OCI image layout, gzip-compressed layers (skopeo copy)
# Re-running reuses the engine's image and skips outputs that exist; `--force` redoes the save and conversion.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
out="$here/out"
tag="deadweight-bench/torch-cuda:2.5.1"
force="${1:-}"

mkdir -p "$out"
"$repo/scripts/lab" up
eval "$("$repo/scripts/lab" env)"

# Hold torch at 2.5.1 (the requirements say torch>=2.1) with the lab's constraints file; no extra index, so
# every wheel comes from PyPI: this is the image people really ship.
constraint="${DEADWEIGHT_LAB_STANDIN_INDEX}constraints.txt"

if ! docker image inspect "$tag" >/dev/null 2>&1; then
  echo "bench: building $tag (downloads ~3 GB from PyPI)" >&2
  start=$(date +%s)
  docker build --network host --build-arg "PIP_CONSTRAINT=$constraint" -t "$tag" "$repo/examples/torch-cpu-api"
  echo "bench: built in $(( $(date +%s) - start ))s" >&2
fi
docker image inspect --format 'bench: image size {{.Size}} bytes' "$tag" >&2

if [[ "$force" == "--force" ]]; then rm -rf "$out/cuda.tar" "$out/cuda-oci"; fi
if [[ ! -s "$out/cuda.tar" ]]; then
  echo "bench: docker save -> $out/cuda.tar" >&2
  docker save -o "$out/cuda.tar.partial" "$tag"
  mv "$out/cuda.tar.partial" "$out/cuda.tar"
fi
if [[ ! -f "$out/cuda-oci/index.json" ]]; then
  echo "bench: skopeo copy -> $out/cuda-oci (gzip layers)" >&2
  rm -rf "$out/cuda-oci"
  skopeo copy --quiet --dest-compress --dest-compress-format gzip \
    "docker-archive:$out/cuda.tar" "oci:$out/cuda-oci:torch-cuda"
fi
du -sh "$out/cuda.tar" "$out/cuda-oci" >&2
