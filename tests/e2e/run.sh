#!/usr/bin/env bash
# Real-browser end-to-end tests of the passkey pages and of "Sign in with
# Civitas" from the example relying party.
#
# Builds `civitas` and `examples/relying_party.rs`, starts Civitas on a free
# port with a fresh SQLite database and waits for /readyz, registers the
# example app with `civitas client create`, starts it on a second free port
# and waits for it, then runs tests/e2e/*.test.mjs (node:test) with
# CIVITAS_URL=http://localhost:PORT and CIVITAS_RP_URL=http://localhost:RP_PORT,
# using Debian's Chromium driven by playwright-core. Tests that run the
# command line on the server's database (e.g. `civitas admin invite`) get
# CIVITAS_BIN, CIVITAS_E2E_DATABASE_URL and CIVITAS_E2E_DIR (the server's
# working directory).
# Screenshots and the logs (server.log, rp.log) go to tests/e2e/output/.
#
# Usage: tests/e2e/run.sh [extra node --test arguments, e.g. --test-name-pattern=...]
# Environment:
#   CARGO_TARGET_DIR  where cargo builds (default <repo>/target)
#   CIVITAS_BIN       use this civitas binary instead of building one
#   RP_BIN            use this relying_party example binary instead of building one
#   CHROMIUM_PATH     browser executable (default /usr/bin/chromium)
# Needs: node >= 20 with npm, chromium (apt-get install -y chromium), cargo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$here/output"
mkdir -p "$out"

log() { echo "== e2e: $*"; }
die() { echo "e2e: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[[ -x "$CHROMIUM_PATH" ]] || die "no browser at $CHROMIUM_PATH (apt-get install -y chromium)"

# --- node_modules: npm ci when missing or made from another lockfile --------
stamp="$here/node_modules/.civitas-e2e-stamp"
want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -d "$here/node_modules/playwright-core" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "npm ci"
  # playwright-core downloads nothing at install; this makes sure of it.
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
fi

# --- the binaries: civitas and the example relying party -------------------
target="${CARGO_TARGET_DIR:-$repo/target}"
[[ "$target" = /* ]] || target="$repo/$target" # cargo resolves it from $repo
build=()
[[ -n "${CIVITAS_BIN:-}" ]] || build+=(--bin civitas)
[[ -n "${RP_BIN:-}" ]] || build+=(--example relying_party)
if ((${#build[@]})); then
  log "cargo build ${build[*]}"
  (cd "$repo" && cargo build "${build[@]}")
fi
bin="${CIVITAS_BIN:-$target/debug/civitas}"
rp_bin="${RP_BIN:-$target/debug/examples/relying_party}"
[[ -x "$bin" ]] || die "no civitas binary at $bin"
[[ -x "$rp_bin" ]] || die "no relying_party binary at $rp_bin"
# Absolute, as both are run from a temporary directory.
[[ "$bin" = /* ]] || bin="$PWD/$bin"
[[ "$rp_bin" = /* ]] || rp_bin="$PWD/$rp_bin"

# --- start civitas ------------------------------------------------------------
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
port="$(free_port)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/civitas-e2e.XXXXXX")"
db_url="sqlite://$tmp/civitas.db"
server_pid=""
rp_pid=""

# TERM, then KILL after 5 s, one process we started.
stop() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  stop "$rp_pid"
  stop "$server_pid"
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url="http://localhost:$port"
log "starting $bin on 127.0.0.1:$port (issuer $url), log in $out/server.log"
# Run from the temp dir with a config path that does not exist there, so no
# civitas.toml (of the repo or of CIVITAS_CONFIG) leaks in.
(
  cd "$tmp"
  NO_COLOR=1 exec "$bin" --config "$tmp/civitas.toml" serve \
    --database-url "$db_url" \
    --listen "127.0.0.1:$port" \
    --issuer "$url"
) >"$out/server.log" 2>&1 &
server_pid=$!

# HTTP status of GET <url> (redirects not followed), or 000.
probe() {
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true
  else
    node -e 'fetch(process.argv[1], { redirect: "manual", signal: AbortSignal.timeout(2000) }).then((r) => console.log(r.status), () => console.log("000"))' \
      "$1"
  fi
}

# wait_for NAME PID URL LOGFILE: until GET URL answers 200 (30 s), or die if
# PID exits first.
wait_for() {
  local name="$1" pid="$2" probe_url="$3" logfile="$4" code="" deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "e2e: $name exited before it was ready; its log:" >&2
      tail -n 50 "$logfile" >&2 || true
      exit 1
    fi
    code="$(probe "$probe_url")"
    [[ "$code" == "200" ]] && return 0
    sleep 0.1
  done
  echo "e2e: $name did not answer 200 on $probe_url within 30 s (last status: ${code:-none}); its log:" >&2
  tail -n 50 "$logfile" >&2 || true
  exit 1
}

wait_for civitas "$server_pid" "http://127.0.0.1:$port/readyz" "$out/server.log"
log "ready at $url"

# --- register the example app and start it --------------------------------------
# (--database-url belongs to `client`, so it comes before `create`.)
rp_port="$(free_port)"
rp_url="http://localhost:$rp_port"
log "civitas client create --name \"Example app\" --redirect-uri $rp_url/callback"
client_json="$(
  cd "$tmp" &&
    NO_COLOR=1 "$bin" --config "$tmp/civitas.toml" client \
      --database-url "$db_url" \
      create \
      --name "Example app" \
      --redirect-uri "$rp_url/callback" \
      --post-logout-redirect-uri "$rp_url/"
)" || die "civitas client create failed"
# Its stdout is one JSON object: {"client_id": "...", "client_secret": "..."}.
{ IFS= read -r client_id && IFS= read -r client_secret; } < <(
  node -e '
    const c = JSON.parse(process.argv[1]);
    if (typeof c.client_id !== "string" || typeof c.client_secret !== "string") process.exit(1);
    console.log(c.client_id);
    console.log(c.client_secret);
  ' "$client_json"
) || die "cannot read client_id and client_secret from: $client_json"
[[ -n "$client_id" && -n "$client_secret" ]] || die "empty client_id or client_secret in: $client_json"

log "starting $rp_bin on 127.0.0.1:$rp_port (client $client_id), log in $out/rp.log"
# `--flag=value`: a base64url id or secret may begin with "-".
(
  cd "$tmp"
  NO_COLOR=1 exec "$rp_bin" \
    --issuer "$url" \
    --client-id="$client_id" \
    --client-secret="$client_secret" \
    --listen "127.0.0.1:$rp_port" \
    --public-url "$rp_url" \
    --scope profile --scope age
) >"$out/rp.log" 2>&1 &
rp_pid=$!
wait_for relying_party "$rp_pid" "http://127.0.0.1:$rp_port/" "$out/rp.log"
log "example app ready at $rp_url"

# --- the tests -----------------------------------------------------------------
status=0
(
  cd "$repo" &&
    CIVITAS_URL="$url" CIVITAS_RP_URL="$rp_url" \
      CIVITAS_BIN="$bin" CIVITAS_E2E_DATABASE_URL="$db_url" CIVITAS_E2E_DIR="$tmp" \
      node --test "$@" tests/e2e/*.test.mjs
) || status=$?
log "node --test exited with $status; screenshots in $out"
exit "$status"
