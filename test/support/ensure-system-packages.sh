#!/usr/bin/env bash
# Installs the Debian packages some tests and benchmarks need, when missing:
#   golang-go + Sprig + yaml.v3 : render the Helm chart with Helm's template engine
#   chromium                     : the browser tests of the dashboard and Swagger UI (test/e2e/dashboard*)
# Runs as part of `bun run test`; needs root (CI and the dev machines are root).
set -euo pipefail
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || missing+=(golang-github-masterminds-sprig-dev)
[ -d /usr/share/gocode/src/gopkg.in/yaml.v3 ] || missing+=(golang-gopkg-yaml.v3-dev)
[ -x /usr/bin/chromium ] || missing+=(chromium)
installed() {
  # A removed package keeps a dpkg record ("deinstall ok config-files"): ask for "installed".
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
for package in "$@"; do
  installed "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  # Not fatal: the tests that need them fail with this same hint, the rest still run.
  echo "warning: missing Debian packages: ${missing[*]} (install with: sudo apt-get install -y ${missing[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
