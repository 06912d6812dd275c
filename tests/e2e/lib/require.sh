# Sourced by the e2e tests: require_tools NAME...: each is on the PATH, or a
# TAP failure naming it and exit 1.
require_tools() {
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "not ok 1 - $tool is installed (make deps)"
      echo "0 passed, 1 failed"
      exit 1
    fi
  done
}
