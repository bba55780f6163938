# Installation layout and the Debian package (cpack -G DEB). vnetd and vnetctl install
# themselves (daemon/ and cli/); this adds what an operator needs around them.
include(GNUInstallDirs)

set(VNET_DEPLOY ${PROJECT_SOURCE_DIR}/deploy)
# systemd and Xen look in fixed places, whatever the prefix.
install(FILES ${VNET_DEPLOY}/systemd/vnetd.service DESTINATION lib/systemd/system)
install(FILES ${VNET_DEPLOY}/vnetd.conf.example DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${VNET_DEPLOY}/prometheus/prometheus.yml ${VNET_DEPLOY}/prometheus/vnet-alerts.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/vnet/prometheus)
install(FILES ${VNET_DEPLOY}/grafana/vnet-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/vnet/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${VNET_DEPLOY}/bash-completion/vnetctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/examples/orchestrator.py
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# Xen's hotplug scripts live in /etc/xen/scripts and are conffiles there (as Debian's
# xen-utils-common ships its own): an admin's edit survives upgrades.
set(VNET_DEB_CONFFILES "")
if(EXISTS ${PROJECT_SOURCE_DIR}/xen-hooks/vif-vnet)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/xen-hooks/vif-vnet DESTINATION /etc/xen/scripts)
  string(APPEND VNET_DEB_CONFFILES "/etc/xen/scripts/vif-vnet\n")
endif()

# Debian's documentation of a native package: the changelog (Debian format, gzip -9n so
# the package is reproducible) and lintian's overrides, each tag with its reason.
set(VNET_DEB_DIR ${PROJECT_SOURCE_DIR}/deploy/debian)
find_program(VNET_GZIP_PROGRAM NAMES gzip REQUIRED)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/debian/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/debian
  COMMAND ${VNET_GZIP_PROGRAM} -9nc ${VNET_DEB_DIR}/changelog > ${CMAKE_BINARY_DIR}/debian/changelog.gz
  DEPENDS ${VNET_DEB_DIR}/changelog
  COMMENT "debian/changelog.gz")
add_custom_target(vnet_deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/debian/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${VNET_DEB_DIR}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME vnet)
set(VNET_DEB_CONTROL_EXTRA ${VNET_DEPLOY}/debian/preinst ${VNET_DEPLOY}/debian/postinst
    ${VNET_DEPLOY}/debian/prerm ${VNET_DEPLOY}/debian/postrm)
if(VNET_DEB_CONFFILES)
  file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${VNET_DEB_CONFFILES}")
  list(APPEND VNET_DEB_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/conffiles)
endif()

set(CPACK_PACKAGE_NAME vnet)
set(CPACK_PACKAGE_VENDOR "vnet")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "network virtualization for Xen dom0: per-guest contexts, eBPF fast path, metrics")
# The address the project's commits are made under (git log); lintian needs a mail host.
set(CPACK_PACKAGE_CONTACT "vnet maintainers <maintainers@users.noreply.r-seed-6b94e6c8.example>")
# The extended description (CPack puts the summary above it); lines under 80 columns.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "vnet replaces the Linux bridge or Open vSwitch in a Xen dom0, or on any host
whose guests sit behind vif, veth or tap devices. The daemon vnetd assigns
each guest interface a context (MAC, addresses, VLAN, MTU, offloads, rate)
over a gRPC API and validates guest buffers; XDP and TC programs do the
bridging, anti-spoofing, checksum and segmentation offload in the kernel and
keep forwarding while vnetd restarts.
.
This package holds vnetd with its hardened systemd unit, the vnetctl command
line tool (with bash completion), the Xen hotplug script vif-vnet, a Python
client for orchestrators, Prometheus scrape and alert rules and a Grafana
dashboard.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Library dependencies come from dpkg-shlibdeps; the rest are tools vnetd needs at run time.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iproute2, systemd")
# The Python client (vnet in dist-packages) needs python3 with Debian's grpcio and protobuf;
# vnetd, vnetctl and vif-vnet do not. Recommends (installed by default, left out with
# --no-install-recommends on a minimal dom0), not Depends.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-grpcio, python3-protobuf")
# Prometheus usually scrapes from a monitoring host; a Recommends would start a server on
# :9090 on every dom0 that installs vnet.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "xen-utils-common, prometheus, grafana")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${VNET_DEB_CONTROL_EXTRA})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
