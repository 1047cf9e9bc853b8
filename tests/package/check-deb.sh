#!/usr/bin/env bash
# The Debian packages, end to end, on this machine (root: it runs dpkg):
#
#  1. builds them with cpack from BUILD_DIR and checks each one's file list
#     and control data (names, version, architecture, dependencies,
#     conffiles, shlibs, ldconfig trigger, SONAME), and lintian's verdict
#     when lintian is installed;
#  2. installs them with dpkg -i and checks the result: the CLI and its man
#     page carry the project version, ldconfig knows libcardex, an
#     application builds against it through pkg-config and find_package;
#  3. walks README.md's "Running a server" on Debian's own mosquitto binary
#     (not the system service): a password file made with mosquitto_passwd,
#     a listener file in conf.d next to the installed cardex.conf, on a free
#     port, then an exchange between two terminals with the installed CLI;
#     and starts the same broker from the sample mosquitto.conf;
#  4. purges the packages and checks that nothing they installed is left.
#
# The packages must not be installed before (the test will not touch a real
# installation: it skips, exit 77). Runs serialised under a lock so that two
# test runs on one machine do not install over each other.
# Usage: check-deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
SKIP=77

if [ "$(id -u)" -ne 0 ]; then
  echo "check-deb: needs root (dpkg -i): skipped"
  exit $SKIP
fi
for tool in dpkg-deb dpkg-shlibdeps cpack readelf; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-deb: $tool is missing: skipped"
    exit $SKIP
  fi
done

exec 9>/tmp/cardex-check-deb.lock
flock -w 600 9

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
major=${version%%.*}
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
packages=(mosquitto-cardex cardex "libcardex$major" libcardex-dev)
# The page is packaged when the build made it (Node.js 20: web/CMakeLists.txt).
www=()
if [ -f "$build/web/www/index.html" ]; then
  packages+=(cardex-web)
  mapfile -t www < <(cd "$build/web/www" && find . -type f | sed 's|^\./|/usr/share/cardex/www/|' | sort)
fi

for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
    echo "check-deb: $p is installed on this machine; not touching it: skipped"
    exit $SKIP
  fi
done

work=$(mktemp -d /tmp/cardex-deb-XXXXXX)
chmod 755 "$work" # the broker, as the mosquitto user, reads below it
broker_pid=""
installed=0
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  if [ "$installed" -eq 1 ]; then
    dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }

# ---- 1. build and inspect

cpack --config "$build/CPackConfig.cmake" -B "$work/packages" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
deb_arch() { if [ "$1" = cardex-web ]; then echo all; else echo "$arch"; fi; }
deb() { echo "$work/packages/${1}_${version}-1_$(deb_arch "$1").deb"; }
for p in "${packages[@]}"; do
  [ -f "$(deb "$p")" ] || fail "no package $(basename "$(deb "$p")")"
done

# The files (not directories) of a package, as paths.
files_of() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort; }

expect_files() {
  local pkg=$1
  shift
  printf '%s\n' "$@" | sort >"$work/want"
  files_of "$(deb "$pkg")" >"$work/got"
  diff -u "$work/want" "$work/got" >&2 || fail "$pkg: unexpected file list"
  echo "files of $pkg: $(wc -l <"$work/got") as expected"
}
expect_files mosquitto-cardex \
  "/usr/lib/$ma/mosquitto_cardex.so" \
  /etc/mosquitto/conf.d/cardex.conf \
  /usr/share/doc/mosquitto-cardex/changelog.Debian.gz \
  /usr/share/doc/mosquitto-cardex/operations.md \
  /usr/share/doc/mosquitto-cardex/protocol.md \
  /usr/share/doc/mosquitto-cardex/examples/mosquitto.conf \
  /usr/share/doc/mosquitto-cardex/examples/nginx-cardex.conf \
  /usr/share/lintian/overrides/mosquitto-cardex
expect_files cardex \
  /usr/bin/cardex \
  /usr/share/man/man1/cardex.1.gz \
  /usr/share/doc/cardex/changelog.Debian.gz \
  /usr/share/doc/cardex/cli.md
expect_files "libcardex$major" \
  "/usr/lib/$ma/libcardex.so.$major" \
  "/usr/lib/$ma/libcardex.so.$version" \
  "/usr/share/doc/libcardex$major/changelog.Debian.gz"
expect_files libcardex-dev \
  /usr/include/cardex.h \
  "/usr/lib/$ma/libcardex.so" \
  "/usr/lib/$ma/libcardex.a" \
  "/usr/lib/$ma/pkgconfig/cardex.pc" \
  "/usr/lib/$ma/cmake/cardex/cardexConfig.cmake" \
  "/usr/lib/$ma/cmake/cardex/cardexConfigVersion.cmake" \
  "/usr/lib/$ma/cmake/cardex/cardexTargets.cmake" \
  "$(cd "$work" && files_of "$(deb libcardex-dev)" | grep '/cardexTargets-.*\.cmake$')" \
  /usr/share/doc/libcardex-dev/changelog.Debian.gz
if [ ${#www[@]} -gt 0 ]; then
  expect_files cardex-web "${www[@]}" /usr/share/doc/cardex-web/changelog.Debian.gz
fi

field() { dpkg-deb -f "$(deb "$1")" "$2"; }
expect_field() { # package field extended-regex
  local v
  v=$(field "$1" "$2")
  echo "$v" | grep -Eq "$3" || fail "$1: $2 is \"$v\", expected /$3/"
}
for p in "${packages[@]}"; do
  expect_field "$p" Package "^$p\$"
  expect_field "$p" Version "^$version-1\$"
  expect_field "$p" Architecture "^$(deb_arch "$p")\$"
  expect_field "$p" Maintainer '^.+ <[^@]+@[^>]+>$'
  [ "$(field "$p" Description | wc -l)" -ge 3 ] || fail "$p: no long description"
done
expect_field mosquitto-cardex Depends '(^|, )mosquitto \(>= 2\.0\)(,|$)'
expect_field mosquitto-cardex Depends 'libcjson1 \(>= [^)]+\)'
expect_field mosquitto-cardex Depends 'libmbedcrypto[0-9]+ \(>= [^)]+\)'
expect_field cardex Depends 'libmosquitto1 \(>= [^)]+\)'
expect_field cardex Depends 'libqrencode[0-9]+ \(>= [^)]+\)'
expect_field "libcardex$major" Depends 'libmosquitto1 \(>= [^)]+\)'
expect_field libcardex-dev Depends "libcardex$major \\(= $version-1\\)"
expect_field libcardex-dev Depends 'libmosquitto-dev'
expect_field mosquitto-cardex Section '^net$'
expect_field "libcardex$major" Section '^libs$'
expect_field libcardex-dev Section '^libdevel$'

ctrl() { dpkg-deb --info "$(deb "$1")" "$2"; }
[ "$(ctrl mosquitto-cardex conffiles)" = "/etc/mosquitto/conf.d/cardex.conf" ] || fail "conffiles"
[ "$(ctrl "libcardex$major" shlibs)" = "libcardex $major libcardex$major (>= $version)" ] || fail "shlibs"
[ "$(ctrl "libcardex$major" triggers)" = "activate-noawait ldconfig" ] || fail "ldconfig trigger"
dpkg-deb -x "$(deb "libcardex$major")" "$work/x"
soname=$(readelf -d "$work/x/usr/lib/$ma/libcardex.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libcardex.so.$major" ] || fail "SONAME is $soname"
echo "control data as expected (version $version-1, SONAME $soname)"

if command -v lintian >/dev/null; then
  # no-copyright-file: the project states no license yet, so no
  # debian/copyright can be written; everything else at error level fails.
  lintian --fail-on error --suppress-tags no-copyright-file "$work"/packages/*.deb >"$work/lintian.log" 2>&1 ||
    { cat "$work/lintian.log" >&2; fail "lintian"; }
  echo "lintian: $(grep -c '^[EW]:' "$work/lintian.log" || true) warning(s), no error"
else
  echo "lintian not installed: not run"
fi

# ---- 2. install

# What is on the machine in the places the packages use, before: all of
# /etc/mosquitto, and whatever is named like cardex elsewhere (other
# packages may come and go meanwhile).
snapshot() {
  {
    find /etc/mosquitto 2>/dev/null
    find /var/lib/mosquitto -maxdepth 1 -name 'cardex*' 2>/dev/null
    find /usr/bin /usr/include "/usr/lib/$ma" /usr/share /usr/share/doc /usr/share/man/man1 /usr/share/lintian/overrides \
      -maxdepth 3 -iname '*cardex*' 2>/dev/null
  } | sort
}
snapshot >"$work/before"
installed=1
dpkg -i "$work"/packages/*.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" | grep -q '^install ok installed$' || fail "$p not installed"
done
grep -qx "plugin /usr/lib/$ma/mosquitto_cardex.so" /etc/mosquitto/conf.d/cardex.conf || fail "cardex.conf plugin line"
grep -qx "set_tcp_nodelay true" /etc/mosquitto/conf.d/cardex.conf || fail "cardex.conf does not set set_tcp_nodelay"
[ "$(/usr/bin/cardex --version)" = "cardex $version" ] || fail "cardex --version"
zcat /usr/share/man/man1/cardex.1.gz | grep -q "^\.TH CARDEX 1 .*\"cardex $version\"" || fail "man page version"
ldconfig -p | grep -q "libcardex.so.$major " || fail "ldconfig does not know libcardex.so.$major"
[ "$(pkg-config --modversion cardex)" = "$version" ] || fail "pkg-config --modversion"
echo "installed: cardex $version, man page, libcardex.so.$major known to ldconfig"
if [ ${#www[@]} -gt 0 ]; then
  cmp -s "$build/web/www/index.html" /usr/share/cardex/www/index.html || fail "cardex-web: the page is not in /usr/share/cardex/www"
  echo "installed: the page in /usr/share/cardex/www (${#www[@]} files)"
fi

# An application against the installed library: pkg-config, and CMake's find_package.
mkdir -p "$work/app"
cat >"$work/app/app.c" <<'C'
#include <cardex.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	char key[CARDEX_KEY_MAX + 1];
	if (cardex_generate_key(8, key, sizeof(key)) != CARDEX_OK || strlen(key) != 8)
		return 1;
	printf("%s\n", cardex_strerror(CARDEX_ETIMEOUT));
	return 0;
}
C
# shellcheck disable=SC2046
cc -std=c11 -o "$work/app/app-pc" "$work/app/app.c" $(pkg-config --cflags --libs cardex)
"$work/app/app-pc" >/dev/null || fail "pkg-config application"
cat >"$work/app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(cardex $version REQUIRED)
add_executable(app-shared app.c)
target_link_libraries(app-shared PRIVATE cardex::cardex)
add_executable(app-static app.c)
target_link_libraries(app-static PRIVATE cardex::cardex_static)
EOF
cmake -S "$work/app" -B "$work/app/build" >"$work/app/cmake.log" 2>&1 &&
  cmake --build "$work/app/build" >>"$work/app/cmake.log" 2>&1 ||
  { cat "$work/app/cmake.log" >&2; fail "find_package(cardex) application"; }
"$work/app/build/app-shared" >/dev/null || fail "app-shared"
"$work/app/build/app-static" >/dev/null || fail "app-static"
readelf -d "$work/app/build/app-shared" | grep -q "NEEDED.*\[libcardex.so.$major\]" || fail "app-shared does not need libcardex.so.$major"
if readelf -d "$work/app/build/app-static" | grep -q 'libcardex'; then fail "app-static needs libcardex.so"; fi
echo "applications build against the installed libcardex (pkg-config, find_package: shared and static)"

# ---- 3. README: "Running a server", with Debian's own mosquitto

# The commands the README gives, which this section runs with its paths and
# port: keep both in step.
readme_steps=(
  'cpack --config build/CPackConfig.cmake -B build/packages'
  'sudo mosquitto_passwd -c /etc/mosquitto/cardex.passwd ada'
  'sudo mosquitto_passwd /etc/mosquitto/cardex.passwd grace'
  'sudo chgrp mosquitto /etc/mosquitto/cardex.passwd && sudo chmod 640 /etc/mosquitto/cardex.passwd'
  "printf 'listener 1883\\npassword_file /etc/mosquitto/cardex.passwd\\n' | sudo tee /etc/mosquitto/conf.d/listener.conf"
  'export CARDEX_HOST=localhost'
  'CARDEX_ID=ada   cardex offer --card scripts/cards/ada.json'
  'CARDEX_ID=grace cardex claim ada --card scripts/cards/grace.json'
)
for step in "${readme_steps[@]}"; do
  grep -qF -- "$step" "$src/README.md" || fail "README.md no longer says: $step"
done

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# Root drops to the mosquitto user before reading the password file and
# writing persistence and log: the broker's directory is its own.
run="$work/broker"
mkdir -p "$run/conf.d" "$run/data"
pw_ada=pw-ada-$RANDOM$RANDOM
pw_grace=pw-grace-$RANDOM$RANDOM
printf '%s\n%s\n' "$pw_ada" "$pw_ada" | mosquitto_passwd -c "$run/cardex.passwd" ada >/dev/null
printf '%s\n%s\n' "$pw_grace" "$pw_grace" | mosquitto_passwd "$run/cardex.passwd" grace >/dev/null
grep -q "$pw_ada" "$run/cardex.passwd" && fail "the password file holds a password in the clear"
chgrp mosquitto "$run/cardex.passwd" && chmod 640 "$run/cardex.passwd"
chown mosquitto "$run" "$run/data"
port=$(free_port) || fail "no free port"
printf 'listener %s 127.0.0.1\npassword_file %s\n' "$port" "$run/cardex.passwd" >"$run/conf.d/listener.conf"
# The installed snippet itself, as Debian's include_dir reads it.
ln -s /etc/mosquitto/conf.d/cardex.conf "$run/conf.d/cardex.conf"
# Debian's mosquitto.conf, with this run's paths instead of the system service's.
sed -e "s|^pid_file .*|pid_file $run/mosquitto.pid|" \
  -e "s|^persistence_location .*|persistence_location $run/data/|" \
  -e "s|^log_dest .*|log_dest file $run/mosquitto.log|" \
  -e "s|^include_dir .*|include_dir $run/conf.d|" /etc/mosquitto/mosquitto.conf >"$run/mosquitto.conf"
grep -q "^include_dir $run/conf.d\$" "$run/mosquitto.conf" || fail "Debian's mosquitto.conf has no include_dir"
echo "log_type all" >>"$run/mosquitto.conf"

start_broker() { # config
  : >"$run/mosquitto.log"
  chown mosquitto "$run/mosquitto.log"
  /usr/sbin/mosquitto -c "$1" >"$run/stderr.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 100); do
    kill -0 "$broker_pid" 2>/dev/null || { cat "$run/stderr.log" "$run/mosquitto.log" >&2; fail "mosquitto exited"; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  fail "mosquitto does not listen on $port"
}
stop_broker() {
  kill "$broker_pid"
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
}
check_log() {
  grep -q "cardex: plugin $version ready" "$run/mosquitto.log" || { cat "$run/mosquitto.log" >&2; fail "plugin not loaded"; }
  if grep -E 'deprecated|message_size_limit|Error|Unable|Warning' "$run/mosquitto.log" >&2; then
    fail "complaints in the broker log"
  fi
  if grep -q 'set_tcp_nodelay is off' "$run/mosquitto.log"; then fail "set_tcp_nodelay is off"; fi
}

# Two terminals exchange through the broker with the installed CLI, each with its own home.
exchange() {
  local key="" rc=0 offer_pid
  export CARDEX_HOST=localhost CARDEX_PORT=$port
  rm -rf "$work/ada" "$work/grace"
  CARDEX_ID=ada CARDEX_PASSWORD=$pw_ada XDG_DATA_HOME=$work/ada/data XDG_CONFIG_HOME=$work/ada/config \
    /usr/bin/cardex offer --card "$src/scripts/cards/ada.json" --timeout 30 >"$work/ada.out" 2>&1 &
  offer_pid=$!
  for _ in $(seq 100); do
    key=$(sed -n 's/^Instant key: *//p' "$work/ada.out" | tr -d ' ')
    [ -n "$key" ] && break
    kill -0 "$offer_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$key" ] || { cat "$work/ada.out" >&2; fail "ada shows no key"; }
  printf '%s\n' "$key" | CARDEX_ID=grace CARDEX_PASSWORD=$pw_grace XDG_DATA_HOME=$work/grace/data \
    XDG_CONFIG_HOME=$work/grace/config /usr/bin/cardex claim ada --card "$src/scripts/cards/grace.json" \
    --timeout 30 >"$work/grace.out" 2>&1 || rc=$?
  wait "$offer_pid" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$work/ada.out" "$work/grace.out" >&2; fail "exchange exit $rc"; }
  grep -q 'Grace Hopper' "$work/ada.out" || fail "ada did not receive grace's card"
  grep -q 'Ada Lovelace' "$work/grace.out" || fail "grace did not receive ada's card"
  unset CARDEX_HOST CARDEX_PORT
}

start_broker "$run/mosquitto.conf"
exchange
stop_broker
check_log
grep -q 'cardex: set_tcp_nodelay is on' "$run/mosquitto.log" || fail "the plugin did not find set_tcp_nodelay on"
echo "README path: Debian's mosquitto with conf.d/cardex.conf on port $port, exchange with /usr/bin/cardex: ok"

# The sample mosquitto.conf as it stands, with this run's port and paths.
sed -e "s|^listener 1883 127.0.0.1\$|listener $port 127.0.0.1|" \
  -e "s|^password_file .*|password_file $run/cardex.passwd|" \
  -e "s|^persistence_location .*|persistence_location $run/data/|" \
  -e "s|^log_dest .*|log_dest file $run/mosquitto.log|" "$src/mosquitto.conf" >"$run/sample.conf"
grep -q "^listener $port 127.0.0.1\$" "$run/sample.conf" || fail "the sample mosquitto.conf has no loopback listener on 1883"
grep -q "^plugin /usr/lib/$ma/mosquitto_cardex.so\$" "$run/sample.conf" ||
  fail "the sample mosquitto.conf does not load /usr/lib/$ma/mosquitto_cardex.so"
start_broker "$run/sample.conf"
exchange
stop_broker
check_log
echo "sample mosquitto.conf: starts cleanly, exchange: ok"

# ---- 4. remove, purge

# "remove" keeps the conffile, which would stop the broker: the package says so.
dpkg -r mosquitto-cardex >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -r"; }
grep -q 'cardex.conf stays and loads' "$work/dpkg.log" || { cat "$work/dpkg.log" >&2; fail "no warning on remove"; }
[ -f /etc/mosquitto/conf.d/cardex.conf ] || fail "remove took the conffile"
[ ! -e "/usr/lib/$ma/mosquitto_cardex.so" ] || fail "remove left the plugin"
dpkg --purge "${packages[@]}" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
installed=0
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then fail "$p still installed"; fi
done
snapshot >"$work/after"
diff -u "$work/before" "$work/after" >&2 || fail "files left behind (or removed) by install and purge"
if ldconfig -p | grep -q 'libcardex'; then fail "ldconfig still lists libcardex"; fi
echo "purged: nothing left behind"
echo "package check passed"
