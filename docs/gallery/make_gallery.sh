#!/usr/bin/env bash
# Regenerate the README gallery from the bundled examples (needs charme[plot]).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/docs/gallery"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
ex="$root/examples"
charme ssa "$ex/genetic_toggle_switch.yaml" -o toggle.nc --runs 1000 --save-trajectories -q
charme plot toggle.nc -o "$out/toggle.png" --dpi 90 --overwrite
charme cme "$ex/schlogl.yaml" --t-end 20 -o schlogl.nc -q
charme plot schlogl.nc -o "$out/schlogl.png" --dpi 90 --overwrite
charme ssa "$ex/gene_bursts.yaml" -o bursts.nc --runs 200 --save-trajectories -q
charme plot bursts.nc -o "$out/gene_bursts.png" --species M,P --dpi 90 --overwrite
charme moc "$ex/burgers_shock.yaml" --save-rays -o burgers.nc -q
charme plot burgers.nc -o "$out/burgers_shock.png" --dpi 90 --overwrite
charme moc "$ex/eikonal_circle.yaml" --save-rays -o eikonal.nc -q
charme plot eikonal.nc -o "$out/eikonal.png" --dpi 80 --overwrite
charme moc "$ex/signed_distance_ellipse.yaml" -o ellipse.nc -q
charme plot ellipse.nc -o "$out/signed_distance.png" --dpi 80 --overwrite
