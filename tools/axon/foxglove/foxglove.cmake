# SPDX-License-Identifier: Apache-2.0
# The bridge's conversions of axon's standard messages into Foxglove's
# well-known schemas (tools/axon/bridge_convert.c), as the static library
# axon_bridge_convert. Included from tools/axon/CMakeLists.txt where the
# bridge is built:
#
#   include(foxglove/foxglove.cmake)   # then link axon_bridge_convert
#
# The .proto files under proto/ are compiled like any application's types
# (cmake/AxonProtobufC.cmake): protoc-c writes foxglove/*.pb-c.[ch] and
# google/protobuf/*.pb-c.[ch] into the build tree, protoc one
# FileDescriptorSet per file with its imports, and axon_foxglove_types.c
# embeds them (ax_types_axon_foxglove(), which bridge_conv_fds() reads). The
# generators run on the build host, so this works when cross-compiling too;
# nothing generated goes into the source tree.
#
# google/protobuf/{timestamp,duration}.proto are our own copies: Debian ships
# protobuf's in libprotobuf-dev only, which tools/dev.sh does not install
# (protobuf-compiler merely recommends it), and protoc has none built in.
# Our -I comes first, so a libprotobuf-dev that is installed is not used.
#
# Included once, wherever first (tools/axon, or a test that needs it).
include_guard(GLOBAL)

set(_axon_fg_dir ${CMAKE_CURRENT_LIST_DIR})
file(GLOB _axon_fg_protos CONFIGURE_DEPENDS
  ${_axon_fg_dir}/proto/foxglove/*.proto
  ${_axon_fg_dir}/proto/google/protobuf/*.proto)

add_library(axon_bridge_convert STATIC ${_axon_fg_dir}/../bridge_convert.c)
axon_target_defaults(axon_bridge_convert)
axon_protobuf_c_generate(axon_bridge_convert
  NAME axon_foxglove
  PROTOS ${_axon_fg_protos}
  IMPORT_DIRS ${_axon_fg_dir}/proto)
# Like the CLI it goes into, it uses only the public API and links the
# shared libraries (a consumer that linked the static ones as well would
# hold two type registries).
target_link_libraries(axon_bridge_convert PUBLIC axon_msgs axon PkgConfig::AXON_PROTOBUF_C)
target_include_directories(axon_bridge_convert PUBLIC ${_axon_fg_dir}/..)
