#!/usr/bin/env bash
# The official MCP TypeScript SDK client, which the MCP tests (tests/mcp)
# drive `pyro mcp serve` with. Installed from npm into the build directory,
# pinned to tests/mcp/sdk-version; does nothing when that version is there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${PYRO_BUILD_DIR:-$root/build}"
version="$(tr -d '[:space:]' < "$root/tests/mcp/sdk-version")"
dest="$build/mcp-client"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "[setup] installing node and npm" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" \
    apt-get install -y -q --no-install-recommends nodejs npm
fi

manifest="$dest/node_modules/@modelcontextprotocol/sdk/package.json"
if [[ -f "$manifest" ]] \
   && [[ "$(node -p "require('$manifest').version")" == "$version" ]]; then
  exit 0
fi
echo "[setup] installing the MCP TypeScript SDK $version into $dest" >&2
mkdir -p "$dest"
echo '{"private": true}' > "$dest/package.json"
npm install --prefix "$dest" --no-audit --no-fund --no-package-lock \
  --loglevel=error "@modelcontextprotocol/sdk@$version"
