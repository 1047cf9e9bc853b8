#!/usr/bin/env bash
# Installs the build into a temporary prefix and checks that every artifact is
# there (the conf.d snippet naming the plugin's installed path), that the plugin exports only the Mosquitto entry points, and that an
# application compiles and links against the installed libcardex through
# pkg-config, both shared and static.
# Usage: check-install.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d "${TMPDIR:-/tmp}/cardex-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'libcardex.so' -printf '%h\n' | head -n 1)
fail=0
for f in "$prefix/bin/cardex" "$prefix/include/cardex.h" "$libdir/libcardex.so" \
         "$libdir/libcardex.a" "$libdir/pkgconfig/cardex.pc" "$libdir/mosquitto_cardex.so" \
         "$libdir/cmake/cardex/cardexConfig.cmake" "$prefix/etc/mosquitto/conf.d/cardex.conf" \
         "$prefix/share/man/man1/cardex.1.gz"; do
  if [ -e "$f" ]; then echo "installed: ${f#$prefix/}"; else echo "MISSING: ${f#$prefix/}"; fail=1; fi
done
[ "$fail" -eq 0 ] || exit 1

# The snippet loads the plugin from where this install put it.
grep -qx "plugin $libdir/mosquitto_cardex.so" "$prefix/etc/mosquitto/conf.d/cardex.conf" ||
  { echo "cardex.conf does not load $libdir/mosquitto_cardex.so"; exit 1; }

exports=$(nm -D --defined-only "$libdir/mosquitto_cardex.so" | awk '$2 ~ /[TDB]/ {print $3}' | sort | tr '\n' ' ')
echo "plugin exports: $exports"
[ "$exports" = "mosquitto_plugin_cleanup mosquitto_plugin_init mosquitto_plugin_version " ] || { echo "unexpected plugin exports"; exit 1; }
if nm -D --defined-only "$libdir/libcardex.so" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^cardex_'; then
  echo "libcardex.so exports symbols outside the cardex_ prefix"; exit 1
fi

cat >"$prefix/app.c" <<'C'
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
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -o "$prefix/app" "$prefix/app.c" $(pkg-config --cflags --libs cardex)
LD_LIBRARY_PATH="$libdir" "$prefix/app"
# shellcheck disable=SC2046
cc -std=c11 -o "$prefix/app-static" "$prefix/app.c" $(pkg-config --static --cflags cardex) \
  "$libdir/libcardex.a" $(pkg-config --static --libs-only-l cardex | sed 's/-lcardex//')
"$prefix/app-static"
echo "install check passed"
