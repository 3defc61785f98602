#!/usr/bin/env bash
# The Terraform side of docs/benchmarks.md: N `terraform_data` resources in
# the same shape as `cargo xtask bench`'s generated `core:Data` stacks (every
# tenth resource chained to the one ten before it), applied, planned again
# (no-op) and destroyed with local state. Prints wall time and peak RSS.
#
#   crates/cairn-bench/terraform/compare.sh [N]      # N defaults to 1000
#
# Needs `terraform` (>= 1.4, for terraform_data) and GNU time (/usr/bin/time).
# terraform_data is built into Terraform: no provider is downloaded.
set -euo pipefail
n="${1:-1000}"
if ! command -v terraform >/dev/null 2>&1; then
  echo "compare.sh: terraform is not installed; install Terraform >= 1.4 (https://developer.hashicorp.com/terraform/install) and rerun" >&2
  exit 2
fi
if [ ! -x /usr/bin/time ]; then
  echo "compare.sh: GNU time (/usr/bin/time) is needed for peak RSS; install it (Debian: apt-get install time) and rerun" >&2
  exit 2
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
{
  for ((i = 0; i < n; i++)); do
    if ((i % 10 == 0 && i >= 10)); then
      printf 'resource "terraform_data" "r%d" {\n  input = "${terraform_data.r%d.output}-%d"\n}\n' "$i" "$((i - 10))" "$i"
    else
      printf 'resource "terraform_data" "r%d" {\n  input = "value-%d"\n}\n' "$i" "$i"
    fi
  done
} > "$dir/main.tf"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# No CLI configuration file needed (and no warning when a configured one is missing).
export TF_CLI_CONFIG_FILE=/dev/null
terraform -chdir="$dir" init -no-color >/dev/null
version="$(terraform version | head -1)"
echo "$version, $n terraform_data resources, local state"
echo
echo "| resources | command | wall time (s) | peak RSS (MB) |"
echo "|---:|---|---:|---:|"
measure() {
  local label="$1"
  shift
  /usr/bin/time -f '%e %M' -o "$dir/time.txt" terraform -chdir="$dir" "$@" -no-color >"$dir/out.txt" 2>&1 || {
    echo "compare.sh: terraform $* failed:" >&2
    cat "$dir/out.txt" >&2
    exit 1
  }
  read -r secs kb <"$dir/time.txt"
  printf '| %d | `%s` | %.2f | %.0f |\n' "$n" "$label" "$secs" "$((kb / 1024))"
}
measure "apply" apply -auto-approve
measure "plan (no-op)" plan -detailed-exitcode
measure "destroy" destroy -auto-approve
