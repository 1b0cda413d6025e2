#!/usr/bin/env bash
# The project's test command (README.md): starts what the tests need, then runs them.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace "$@"
