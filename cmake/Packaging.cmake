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
if(EXISTS ${PROJECT_SOURCE_DIR}/xen-hooks/vif-vnet)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/xen-hooks/vif-vnet DESTINATION /etc/xen/scripts)
endif()

set(CPACK_PACKAGE_NAME vnet)
set(CPACK_PACKAGE_VENDOR "vnet")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "network virtualization for Xen dom0: per-guest contexts, eBPF fast path, metrics")
set(CPACK_PACKAGE_CONTACT "vnet maintainers <vnet@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Library dependencies come from dpkg-shlibdeps; the rest are tools vnetd needs at run time.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iproute2, systemd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "prometheus")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "xen-utils-common, grafana")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${VNET_DEPLOY}/debian/postinst ${VNET_DEPLOY}/debian/prerm ${VNET_DEPLOY}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
