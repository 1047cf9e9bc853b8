# The broker's conf.d snippet and the Debian packages.
#
#   cpack --config build/CPackConfig.cmake -B build/packages
#
# makes four packages, one per install component, the way Debian splits a
# library and its tools:
#
#   mosquitto-cardex   the plugin, next to Debian's mosquitto_dynamic_security.so
#                      in /usr/lib/<multiarch>/, and /etc/mosquitto/conf.d/cardex.conf
#   cardex             the cardex CLI and its man page
#   libcardex<N>       the shared library (SONAME libcardex.so.<N>)
#   libcardex-dev      header, libcardex.so link, static library, pkg-config
#                      and CMake package files
#   cardex-web         the phone page, /usr/share/cardex/www (when Node.js 20
#                      built it: web/CMakeLists.txt)
#
# Versions come from the project version (client/include/cardex.h);
# dependencies on shared libraries from dpkg-shlibdeps.

# ---- /etc/mosquitto/conf.d/cardex.conf

# The plugin's path depends on the prefix of the install, known only when
# installing: the snippet is finished then. With the prefix /usr (the
# packages) it goes to /etc/mosquitto/conf.d, otherwise to
# <prefix>/etc/mosquitto/conf.d.
configure_file(${PROJECT_SOURCE_DIR}/packaging/cardex.conf.in ${PROJECT_BINARY_DIR}/packaging/cardex.conf.in @ONLY)
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(_cardex_confdir /etc/mosquitto/conf.d)
  else()
    set(_cardex_confdir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}/mosquitto/conf.d\")
  endif()
  file(READ \"${PROJECT_BINARY_DIR}/packaging/cardex.conf.in\" _cardex_conf)
  string(REPLACE \"%PLUGIN%\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/mosquitto_cardex.so\" _cardex_conf \"\${_cardex_conf}\")
  # One staging file per destination: installs into different places may run at once.
  string(MD5 _cardex_dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/packaging/install/\${_cardex_dest}/cardex.conf\" \"\${_cardex_conf}\")
  file(INSTALL \"${PROJECT_BINARY_DIR}/packaging/install/\${_cardex_dest}/cardex.conf\" DESTINATION \"\${_cardex_confdir}\"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
" COMPONENT plugin)

# ---- documentation shipped in every package

# Debian wants /usr/share/doc/<package>/ with a compressed changelog.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
set(CARDEX_DEB_CHANGELOG ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
# The date of the build, or of SOURCE_DATE_EPOCH for a reproducible one.
string(TIMESTAMP CARDEX_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)

set(CARDEX_DEB_MAINTAINER "cardex maintainers <maintainers@cardex.invalid>" CACHE STRING
  "Maintainer field of the Debian packages (name <address>)")
set(CARDEX_DEB_RELEASE 1 CACHE STRING "Debian revision of the packages (the part after the dash)")

get_property(CARDEX_WEB_PAGE GLOBAL PROPERTY CARDEX_WEB_PAGE)
set(CARDEX_DEB_COMPONENTS plugin cli lib dev)
if(CARDEX_WEB_PAGE)
  list(APPEND CARDEX_DEB_COMPONENTS web)
endif()
foreach(comp ${CARDEX_DEB_COMPONENTS})
  if(comp STREQUAL "web")
    set(pkg cardex-web)
  elseif(comp STREQUAL "plugin")
    set(pkg mosquitto-cardex)
  elseif(comp STREQUAL "cli")
    set(pkg cardex)
  elseif(comp STREQUAL "lib")
    set(pkg libcardex${PROJECT_VERSION_MAJOR})
  else()
    set(pkg libcardex-dev)
  endif()
  set(CARDEX_DEB_NAME_${comp} ${pkg})
  file(WRITE ${PROJECT_BINARY_DIR}/packaging/${pkg}/changelog.Debian
    "${pkg} (${PROJECT_VERSION}-${CARDEX_DEB_RELEASE}) unstable; urgency=medium\n\n"
    "  * Release ${PROJECT_VERSION}.\n\n"
    " -- ${CARDEX_DEB_MAINTAINER}  ${CARDEX_DEB_DATE}\n")
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/packaging/${pkg}/changelog.Debian.gz
    COMMAND ${GZIP_EXECUTABLE} -9 -n -f -k ${PROJECT_BINARY_DIR}/packaging/${pkg}/changelog.Debian
    DEPENDS ${PROJECT_BINARY_DIR}/packaging/${pkg}/changelog.Debian)
  list(APPEND CARDEX_DEB_DOCS ${PROJECT_BINARY_DIR}/packaging/${pkg}/changelog.Debian.gz)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/${pkg}/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
endforeach()
add_custom_target(cardex_deb_docs ALL DEPENDS ${CARDEX_DEB_DOCS})
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/protocol.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CARDEX_DEB_NAME_plugin} COMPONENT plugin)
install(FILES ${PROJECT_SOURCE_DIR}/mosquitto.conf
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CARDEX_DEB_NAME_plugin}/examples COMPONENT plugin)
# nginx in front of a websockets listener: TLS, the page, /mqtt (docs/operations.md).
install(FILES ${PROJECT_SOURCE_DIR}/packaging/nginx/cardex.conf
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CARDEX_DEB_NAME_plugin}/examples
  RENAME nginx-cardex.conf COMPONENT plugin)
# Debian's mosquitto keeps mosquitto_dynamic_security.so, without a SONAME,
# in the library directory, and Mosquitto's users look for plugins there.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/lintian/${CARDEX_DEB_NAME_plugin}
  "# A Mosquitto plugin, loaded by path, next to Debian's mosquitto_dynamic_security.so.\n"
  "${CARDEX_DEB_NAME_plugin}: sharedobject-in-library-directory-missing-soname [usr/${CMAKE_INSTALL_LIBDIR}/mosquitto_cardex.so]\n")
install(FILES ${PROJECT_BINARY_DIR}/packaging/lintian/${CARDEX_DEB_NAME_plugin}
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides COMPONENT plugin)
install(FILES ${PROJECT_SOURCE_DIR}/docs/cli.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CARDEX_DEB_NAME_cli} COMPONENT cli)

# ---- CPack

set(CPACK_PACKAGE_NAME cardex)
set(CPACK_PACKAGE_VENDOR "cardex")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CARDEX_DEB_MAINTAINER}")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Installs with CMAKE_INSTALL_PREFIX=/usr into a staging DESTDIR, so that the
# snippet lands in /etc and names /usr/lib/<multiarch>/mosquitto_cardex.so.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL ${CARDEX_DEB_COMPONENTS})
set(CPACK_DEB_COMPONENT_INSTALL ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CARDEX_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CARDEX_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

# Descriptions: the synopsis, then paragraphs (CPack indents them).
# CPack runs ldconfig from postinst and postrm of every package with a .so in
# /usr/lib unless it is given scripts of its own. libcardex's ldconfig runs
# by trigger (below), and the plugin is loaded by path: neither needs them.
foreach(script postinst postrm)
  file(WRITE ${PROJECT_BINARY_DIR}/packaging/control/noop/${script}
    "#!/bin/sh\n# ldconfig runs through the ldconfig trigger; nothing else to do.\nset -e\nexit 0\n")
  file(CHMOD ${PROJECT_BINARY_DIR}/packaging/control/noop/${script}
    PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  list(APPEND CARDEX_DEB_NOOP_SCRIPTS ${PROJECT_BINARY_DIR}/packaging/control/noop/${script})
endforeach()

set(CPACK_DEBIAN_PLUGIN_PACKAGE_NAME ${CARDEX_DEB_NAME_plugin})
# The broker functions the plugin calls are the mosquitto binary's own, which
# dpkg-shlibdeps cannot see: the package names it.
set(CPACK_DEBIAN_PLUGIN_PACKAGE_DEPENDS "mosquitto (>= 2.0)")
set(CPACK_DEBIAN_PLUGIN_DESCRIPTION "instant-key business card exchange plugin for Mosquitto
cardex exchanges electronic business cards between terminals that meet:
one shows its terminal ID and an instant key, the other types them in,
and only after the server matched the keys do both send their cards.

This package holds the Mosquitto 2.0 plugin that runs the exchanges and
guards its topics, and /etc/mosquitto/conf.d/cardex.conf, which loads it
with its options explained. Terminals authenticate through Mosquitto
(password_file or the dynamic-security plugin).")
set(CPACK_DEBIAN_PLUGIN_PACKAGE_SECTION net)
# The snippet is a conffile: dpkg keeps the operator's changes on upgrade.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/control/plugin/conffiles "/etc/mosquitto/conf.d/cardex.conf\n")
# On "remove" the conffile stays and its plugin line names a file that is
# gone, which stops Mosquitto at its next start: postrm says so.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/control/plugin/postrm [=[#!/bin/sh
set -e
conf=/etc/mosquitto/conf.d/cardex.conf
if [ "$1" = "remove" ] && [ -f "$conf" ] && grep -q '^[[:space:]]*plugin .*mosquitto_cardex\.so' "$conf"; then
	# dpkg runs "remove" before "purge" too, so this cannot know which it is.
	echo "mosquitto-cardex: unless the package is purged, $conf stays and loads" >&2
	echo "mosquitto-cardex: the removed plugin, and Mosquitto will not start: comment out its plugin line." >&2
fi
# The known-terminal state file that the packaged snippet names, and the
# offers and exchanges saved beside Debian's persistence file.
if [ "$1" = "purge" ]; then
	rm -f /var/lib/mosquitto/cardex-terminals /var/lib/mosquitto/cardex-terminals.tmp
	rm -f /var/lib/mosquitto/mosquitto.db.cardex /var/lib/mosquitto/mosquitto.db.cardex.tmp
fi
exit 0
]=])
file(CHMOD ${PROJECT_BINARY_DIR}/packaging/control/plugin/postrm
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PLUGIN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/packaging/control/plugin/conffiles
  ${PROJECT_BINARY_DIR}/packaging/control/noop/postinst ${PROJECT_BINARY_DIR}/packaging/control/plugin/postrm)
set(CPACK_DEBIAN_PLUGIN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_CLI_PACKAGE_NAME ${CARDEX_DEB_NAME_cli})
set(CPACK_DEBIAN_CLI_DESCRIPTION "exchange business cards by instant key (command line)
cardex exchanges electronic business cards between terminals that meet:
one shows its terminal ID and an instant key, the other types them in,
and only after the server matched the keys do both send their cards.

This package holds the cardex command: offer and claim exchanges against
a Mosquitto broker running the cardex plugin, keep card profiles and the
contacts received.")
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION net)

set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${CARDEX_DEB_NAME_lib})
set(CPACK_DEBIAN_LIB_DESCRIPTION "instant-key business card exchange library
cardex exchanges electronic business cards between terminals that meet:
one shows its terminal ID and an instant key, the other types them in,
and only after the server matched the keys do both send their cards.

This package holds libcardex, the terminal side of the protocol on top of
libmosquitto.")
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# What packages built against libcardex depend on (dpkg-shlibdeps reads it),
# and ldconfig run by a trigger rather than by maintainer scripts.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/control/lib/shlibs
  "libcardex ${PROJECT_VERSION_MAJOR} ${CARDEX_DEB_NAME_lib} (>= ${PROJECT_VERSION})\n")
file(WRITE ${PROJECT_BINARY_DIR}/packaging/control/lib/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/packaging/control/lib/shlibs ${PROJECT_BINARY_DIR}/packaging/control/lib/triggers
  ${CARDEX_DEB_NOOP_SCRIPTS})
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${CARDEX_DEB_NAME_dev})
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "${CARDEX_DEB_NAME_lib} (= ${PROJECT_VERSION}-${CARDEX_DEB_RELEASE}), libmosquitto-dev, libcjson-dev, libmbedtls-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "instant-key business card exchange library (development files)
cardex exchanges electronic business cards between terminals that meet:
one shows its terminal ID and an instant key, the other types them in,
and only after the server matched the keys do both send their cards.

This package holds the header, the static library, and the pkg-config and
CMake package files (find_package(cardex)) for building against libcardex.")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)

set(CPACK_DEBIAN_WEB_PACKAGE_NAME cardex-web)
set(CPACK_DEBIAN_WEB_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_WEB_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_WEB_PACKAGE_RECOMMENDS "${CARDEX_DEB_NAME_plugin}")
set(CPACK_DEBIAN_WEB_PACKAGE_SUGGESTS "nginx")
set(CPACK_DEBIAN_WEB_DESCRIPTION "exchange business cards by instant key (page for phones)
cardex exchanges electronic business cards between terminals that meet:
one shows its terminal ID and an instant key, the other types them in,
and only after the server matched the keys do both send their cards.

This package holds the page that phones open: a terminal in the browser
that speaks MQTT over WebSockets to a Mosquitto broker running the cardex
plugin, in /usr/share/cardex/www. Serve it over HTTPS, for instance with
the nginx sample in mosquitto-cardex's examples.")
set(CPACK_DEBIAN_WEB_PACKAGE_SECTION web)

include(CPack)
