#!/usr/bin/env bash
# Installs what the opt-in devnet integration test (tests/integration/test_devnet.py) needs:
#
#   1. Debian packages: postgresql and redis-server (the test starts its own throw-away instances of
#      both on 127.0.0.1; the system services are not started or changed), and a C++ toolchain for
#      node-gyp (better-sqlite3, used by the PDS, is built from source when its prebuilt binary
#      cannot be downloaded from GitHub).
#   2. Node 22, which @atproto/dev-env requires, from the npm registry (the `node` package, which
#      pulls the platform binary package `node-<os>-<arch>`), into tests/integration/devnet/.node22.
#   3. tests/integration/devnet's npm dependencies (@atproto/dev-env, pinned by package-lock.json),
#      installed and built with that Node 22 so native modules match its ABI.
#
# Idempotent: what is already there is kept. Needs root (or sudo) only for the apt step.
# Then: SOCIALTUI_DEVNET=1 .venv/bin/pytest tests/integration -q
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DEVNET="$ROOT/tests/integration/devnet"
NODE_PREFIX="$DEVNET/.node22"
NODE_SPEC="node@22"

say() { printf '==> %s\n' "$*"; }
die() { printf 'devnet-setup: %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages ------------------------------------------------------------------------------
packages=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || packages+=(postgresql)
command -v redis-server >/dev/null || packages+=(redis-server)
command -v make >/dev/null || packages+=(make)
command -v g++ >/dev/null || packages+=(g++)
command -v python3 >/dev/null || packages+=(python3)
command -v npm >/dev/null || packages+=(npm) # any npm: it only fetches Node 22 from the npm registry
if ((${#packages[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        die "missing Debian packages ${packages[*]}: run as root, or install them: apt-get install ${packages[*]}"
    fi
    say "apt-get update"
    "${sudo[@]}" apt-get update -q
    say "apt-get install ${packages[*]} (services are not started: the test runs its own instances)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
else
    say "Debian packages: postgresql, redis-server and a C++ toolchain are installed"
fi

# --- 2. Node 22 from the npm registry ----------------------------------------------------------------
command -v npm >/dev/null || die "npm is needed (any Node.js with npm) to fetch Node 22 from the npm registry"
node22="$NODE_PREFIX/node_modules/.bin/node"
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [[ -x $node22 && $(major "$node22") == 22 ]]; then
    say "Node 22: $("$node22" --version) in ${NODE_PREFIX#"$ROOT"/} (kept)"
else
    say "Node 22: npm install $NODE_SPEC into ${NODE_PREFIX#"$ROOT"/}"
    mkdir -p "$NODE_PREFIX"
    # Its own little project: the `node` package's preinstall fetches the platform binary package,
    # and npm runs a dependency's install script only when allowScripts approves it (npm >= 12).
    cat >"$NODE_PREFIX/package.json" <<JSON
{
  "private": true,
  "description": "Node 22 for @atproto/dev-env, from the npm registry (written by scripts/devnet-setup.sh)",
  "dependencies": { "node": "${NODE_SPEC#node@}" },
  "allowScripts": { "node": true }
}
JSON
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund
    [[ -x $node22 && $(major "$node22") == 22 ]] || die "npm install $NODE_SPEC did not give a working Node 22 at $node22"
    say "Node 22: $("$node22" --version)"
fi
# The directory of the real binary's package (node-<os>-<arch>) holds include/node: node-gyp's headers.
node_bin=$(readlink -f "$node22")
node_home=$(dirname "$(dirname "$node_bin")")
if [[ ! -d $node_home/include/node ]]; then
    # bin/node of the `node` package is a link to node-<os>-<arch>/bin/node, a package nested below it.
    node_home=$(find "$NODE_PREFIX/node_modules" -maxdepth 6 -type d -path '*/include/node' -printf '%h\n' | head -n1)
    node_home=${node_home%/include}
fi
[[ -n $node_home && -d $node_home/include/node ]] || die "no Node 22 headers (include/node) under $NODE_PREFIX"
node_dir=$(dirname "$node_bin")

# --- 3. npm dependencies, built for Node 22 ----------------------------------------------------------
# Node 22 first on PATH: npm, install scripts and node-gyp then run on it; npm_config_nodedir points
# node-gyp at its headers (overriding any user `nodedir` that names another Node's headers).
run22() { PATH="$node_dir:$PATH" npm_config_nodedir="$node_home" "$@"; }
say "npm install in ${DEVNET#"$ROOT"/} (@atproto/dev-env, with Node $("$node22" --version))"
(cd "$DEVNET" && run22 npm install --no-audit --no-fund)
check='require("better-sqlite3"); import("@atproto/dev-env").then((m) => { if (!m.TestNetwork) process.exit(3) })'
if ! (cd "$DEVNET" && run22 node -e "$check" >/dev/null 2>&1); then
    say "native modules do not load in Node 22: npm rebuild better-sqlite3"
    (cd "$DEVNET" && run22 npm rebuild better-sqlite3)
    (cd "$DEVNET" && run22 node -e "$check") || die "@atproto/dev-env does not load in Node 22 (see above)"
fi
say "ready: @atproto/dev-env $(cd "$DEVNET" && "$node22" -p 'require("./node_modules/@atproto/dev-env/package.json").version') loads in Node $("$node22" --version)"
say "run: SOCIALTUI_DEVNET=1 .venv/bin/pytest tests/integration -q"
