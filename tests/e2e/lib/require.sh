# Sourced by the e2e tests: require_tools NAME...: each is on the PATH, or a
# TAP failure naming it and exit 1.
. tests/e2e/lib/tap.sh
require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || bail "$tool is installed (make deps)"
  done
}
