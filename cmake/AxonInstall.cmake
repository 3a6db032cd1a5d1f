# SPDX-License-Identifier: Apache-2.0
# Installation: headers, the libraries (libaxon and libaxon_msgs, shared
# and static), a CMake package config, axon.pc and axon-msgs.pc.
include(CMakePackageConfigHelpers)

install(TARGETS axon axon_static axon_msgs axon_msgs_static EXPORT axonTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/axon DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/include/axon/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/axon) # generated (cmake/version.h.in)
install(EXPORT axonTargets NAMESPACE axon:: FILE axonTargets.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/axon)
set(AXON_INSTALL_PROTO_DIR ${CMAKE_INSTALL_DATADIR}/axon/proto)
configure_package_config_file(cmake/axonConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/axonConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/axon
  PATH_VARS AXON_INSTALL_PROTO_DIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/axonConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/axonConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/axonConfigVersion.cmake
              cmake/AxonProtobufC.cmake cmake/AxonEmbedFds.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/axon)
# The prefix in axon.pc is relative to the .pc file itself, so an install
# with `cmake --install --prefix DIR` (a prefix chosen after configure) or a
# relocated sysroot still points at the right headers and libraries.
file(RELATIVE_PATH AXON_PC_TO_PREFIX
  /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" AXON_PC_TO_PREFIX "${AXON_PC_TO_PREFIX}")
configure_file(cmake/axon.pc.in ${CMAKE_CURRENT_BINARY_DIR}/axon.pc @ONLY)
configure_file(cmake/axon-msgs.pc.in ${CMAKE_CURRENT_BINARY_DIR}/axon-msgs.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/axon.pc ${CMAKE_CURRENT_BINARY_DIR}/axon-msgs.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
