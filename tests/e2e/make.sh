#!/bin/sh
# The Makefile: `make -j2` (and the rules `make test` and `make run` build
# through) on a fresh machine runs nothing that needs a package before
# `make deps` has installed them; `make run PORT=...` serves on that port.
# A fresh machine is played by a fake toolchain on PATH: dpkg-query says
# nothing is installed, apt-get "installs" (slowly), and the compiler,
# linker and python3 note any run that comes before the install.
cd "$(dirname "$0")/../.." || exit 1
# not the settings of a make this runs under (make test, make test-asan)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/e2e/lib/tap.sh

mkdir -p "$tmp/bin"
cat > "$tmp/bin/dpkg-query" <<EOS
#!/bin/sh
[ -f "$tmp/installed" ] && printf 'install ok installed'
exit 0
EOS
cat > "$tmp/bin/apt-get" <<EOS
#!/bin/sh
case "\$1" in install) sleep 1; : > "$tmp/installed" ;; esac
exit 0
EOS
printf '#!/bin/sh\nexec "$@"\n' > "$tmp/bin/sudo"
cat > "$tmp/bin/tool" <<EOS
#!/bin/sh
[ -f "$tmp/installed" ] || echo "\$*" >> "$tmp/early"
out=""
while [ \$# -gt 0 ]; do [ "\$1" = "-o" ] && out=\$2; shift; done
[ -n "\$out" ] && : > "\$out"
exit 0
EOS
printf '#!/bin/sh\nexit 0\n' > "$tmp/bin/pkg-config"
chmod +x "$tmp/bin"/*
fresh() { # make arguments...: a fresh machine and build folder
  rm -rf "$tmp/b" "$tmp/installed" "$tmp/early"
  PATH="$tmp/bin:$PATH" make -j2 --no-print-directory B="$tmp/b" PARLEY="$tmp/b/parley" \
    CC="$tmp/bin/tool" CXX="$tmp/bin/tool" PYTHON="$tmp/bin/tool" DEB_PKGS=fake-dev "$@" 2>&1
}

out=$(fresh)
expect "make -j2 on a fresh machine installs the packages" "$out" 'installing: fake-dev'
expect "... and builds parley" "$(ls "$tmp/b")" '^parley$'
expect "... compiling nothing before the install" "$(cat "$tmp/early" 2>/dev/null || echo none)" '^none$'
rebuilt=$(PATH="$tmp/bin:$PATH" make -n --no-print-directory B="$tmp/b" PARLEY="$tmp/b/parley" \
  CC="$tmp/bin/tool" CXX="$tmp/bin/tool" PYTHON="$tmp/bin/tool" DEB_PKGS=fake-dev "$tmp/b/parley" 2>&1)
expect "once built, nothing is out of date (deps orders the build, it does not date it)" \
  "$(printf '%s\n' "$rebuilt" | grep -c "$tmp/bin/tool")" '^0$'

out=$(fresh "$tmp/b/fake_twilio" "$tmp/b/test_script")
expect "the test binaries (make test) wait for the install too" \
  "$(cat "$tmp/early" 2>/dev/null || echo none) $(ls "$tmp/b" | grep -c '^test_script$\|^fake_twilio$')" '^none 2$'
# make run PORT=...: the server, the curl line and the reload line use it
out=$(make -n --no-print-directory run PORT=9191 2>&1)
expect "make run PORT=9191 serves on 127.0.0.1:9191" "$out" 'serve --listen 127.0.0.1:9191 '
expect "... and prints the reload command for that port" "$out" 'parley reload fanclub --url http://127.0.0.1:9191'
summary
