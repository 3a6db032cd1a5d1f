# SPDX-License-Identifier: Apache-2.0
# Protobuf code generation. The generators always run on the build host,
# also when cross-compiling (the toolchain file sets
# CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER), and write into the build tree.

find_package(nanopb CONFIG REQUIRED) # nanopb::protobuf-nanopb-static (Debian libnanopb-dev)
# Debian's nanopb_generator.py has #!/usr/bin/python3, which has the
# google.protobuf module; a pyenv python3 on PATH may not. Run the script
# itself, never "${Python3_EXECUTABLE} nanopb_generator.py".
find_program(AXON_NANOPB_GENERATOR nanopb_generator.py REQUIRED)
find_program(AXON_PROTOC protoc REQUIRED)
find_program(AXON_PROTOC_C protoc-c REQUIRED)

set(AXON_GEN_DIR ${PROJECT_BINARY_DIR}/gen)

# axon_nanopb_generate(<target> PROTO <file.proto> [OPTIONS <file.options>])
# Generates <name>.pb.c/.pb.h into ${AXON_GEN_DIR}/nanopb and adds the .c to
# <target>. Do not define PB_FIELD_32BIT or other layout-changing PB_*
# macros: Debian's prebuilt libprotobuf-nanopb.a is built without them.
function(axon_nanopb_generate target)
  cmake_parse_arguments(A "" "PROTO;OPTIONS" "" ${ARGN})
  get_filename_component(proto ${A_PROTO} ABSOLUTE)
  get_filename_component(name ${proto} NAME_WE)
  get_filename_component(dir ${proto} DIRECTORY)
  set(out ${AXON_GEN_DIR}/nanopb)
  file(MAKE_DIRECTORY ${out})
  set(opts)
  set(deps ${proto})
  if(A_OPTIONS)
    get_filename_component(options ${A_OPTIONS} ABSOLUTE)
    list(APPEND opts -f ${options})
    list(APPEND deps ${options})
  endif()
  add_custom_command(
    OUTPUT ${out}/${name}.pb.c ${out}/${name}.pb.h
    COMMAND ${AXON_NANOPB_GENERATOR} -q --error-on-unmatched -D ${out} -I ${dir} ${opts} ${proto}
    DEPENDS ${deps}
    COMMENT "nanopb: ${name}.proto"
    VERBATIM)
  # Custom-command outputs attach only to targets of the same directory, and
  # <target> may live elsewhere (the layer libraries are made in their folders): a named
  # generation target carries the dependency across.
  add_custom_target(axon_gen_nanopb_${name} DEPENDS ${out}/${name}.pb.c ${out}/${name}.pb.h)
  add_dependencies(${target} axon_gen_nanopb_${name})
  target_sources(${target} PRIVATE ${out}/${name}.pb.c)
  target_include_directories(${target} PRIVATE ${out})
endfunction()

# protobuf-c: the standard messages, applications' types, and the runtime.
find_package(PkgConfig REQUIRED)
pkg_check_modules(AXON_PROTOBUF_C REQUIRED IMPORTED_TARGET GLOBAL libprotobuf-c)
pkg_check_modules(AXON_YAML REQUIRED IMPORTED_TARGET GLOBAL yaml-0.1)
# OpenSSL 3: TLS on TCP links (transport/tls), certificates (axon cert).
pkg_check_modules(AXON_SSL REQUIRED IMPORTED_TARGET GLOBAL libssl libcrypto)
set(AXON_PROTO_DIR ${PROJECT_SOURCE_DIR}/msgs/proto)
include(AxonProtobufC)
