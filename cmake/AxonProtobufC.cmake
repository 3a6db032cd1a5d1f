# SPDX-License-Identifier: Apache-2.0
# protobuf-c code generation for axon's standard messages and for an
# application's own types. Installed with axon's package config, so an
# application that does find_package(axon) can call it too.
#
# Every generator runs on the build host (also when cross-compiling: the
# toolchain file sets CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER) and writes into
# the build tree; nothing generated goes into the source tree.
#
#   axon_protobuf_c_generate(<target>
#       PROTOS <a.proto> ...          .proto files (relative to the current
#                                     source dir, or absolute)
#       [IMPORT_DIRS <dir> ...]       protoc -I paths; each proto must lie
#                                     under one of them (default: the
#                                     current source dir). axon's own proto
#                                     dir (AXON_PROTO_DIR) is always added,
#                                     so `import "axon/msgs/std.proto";`
#                                     works.
#       [NAME <name>]                 C identifier of the type set (default:
#                                     <target> with non-identifier characters
#                                     replaced by _)
#       [OUT_DIR <dir>]               where the .pb-c.c/.pb-c.h go (default:
#                                     ${CMAKE_CURRENT_BINARY_DIR}/axon_gen/<name>)
#       [EXPORT_SYMBOLS])             compile the generated code with default
#                                     visibility (for a shared library that
#                                     is built with -fvisibility=hidden)
#
# For each proto `dir/x.proto` (path relative to its import dir) it makes:
#   OUT_DIR/dir/x.pb-c.c, OUT_DIR/dir/x.pb-c.h   protoc-c output
#   <gen>/dir/x.fds      the FileDescriptorSet of x.proto with all its
#                        imports (protoc --include_imports)
# and for the whole call, in <gen> = ${CMAKE_CURRENT_BINARY_DIR}/axon_gen/<name>:
#   <name>_types.c/.h    the FileDescriptorSets embedded as C arrays, the
#                        list of message descriptors per file, and
#                          const struct ax_type_set *ax_types_<name>(void);
#                          int ax_types_<name>_register(void);
#                        (see include/axon/types.h).
# The .c files are added to <target>, and OUT_DIR and <gen> to its include
# directories (PUBLIC).

find_program(AXON_PROTOC protoc REQUIRED)
find_program(AXON_PROTOC_C protoc-c REQUIRED)
set(_AXON_PROTOBUF_C_DIR ${CMAKE_CURRENT_LIST_DIR})

function(axon_protobuf_c_generate target)
  cmake_parse_arguments(A "EXPORT_SYMBOLS" "NAME;OUT_DIR" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT A_PROTOS)
    message(FATAL_ERROR "axon_protobuf_c_generate(${target}): PROTOS is empty")
  endif()
  if(NOT A_NAME)
    string(MAKE_C_IDENTIFIER "${target}" A_NAME)
  endif()
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/axon_gen/${A_NAME})
  if(NOT A_OUT_DIR)
    set(A_OUT_DIR ${gen})
  endif()
  if(NOT A_IMPORT_DIRS)
    set(A_IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR})
  endif()

  set(idirs)
  foreach(d ${A_IMPORT_DIRS} ${AXON_PROTO_DIR})
    get_filename_component(d ${d} ABSOLUTE)
    list(APPEND idirs ${d})
  endforeach()
  list(REMOVE_DUPLICATES idirs)
  set(iflags)
  foreach(d ${idirs})
    list(APPEND iflags -I${d})
  endforeach()

  set(protos)
  set(rels)
  set(csrcs)
  set(hdrs)
  set(fdss)
  foreach(p ${A_PROTOS})
    get_filename_component(p ${p} ABSOLUTE)
    set(rel)
    foreach(d ${idirs})
      file(RELATIVE_PATH r ${d} ${p})
      if(NOT r MATCHES "^\\.\\./")
        set(rel ${r})
        break()
      endif()
    endforeach()
    if(NOT rel)
      message(FATAL_ERROR "axon_protobuf_c_generate(${target}): ${p} is under none of the import dirs ${idirs}")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    list(APPEND protos ${p})
    list(APPEND rels ${stem})
    list(APPEND csrcs ${A_OUT_DIR}/${stem}.pb-c.c)
    list(APPEND hdrs ${A_OUT_DIR}/${stem}.pb-c.h)
    list(APPEND fdss ${gen}/${stem}.fds)
  endforeach()

  file(MAKE_DIRECTORY ${A_OUT_DIR} ${gen})
  add_custom_command(
    OUTPUT ${csrcs} ${hdrs}
    COMMAND ${AXON_PROTOC_C} --c_out=${A_OUT_DIR} ${iflags} ${protos}
    DEPENDS ${protos}
    COMMENT "protoc-c: ${A_NAME}"
    VERBATIM)
  list(LENGTH protos n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    list(GET protos ${i} p)
    list(GET fdss ${i} f)
    get_filename_component(fdir ${f} DIRECTORY)
    file(MAKE_DIRECTORY ${fdir})
    # One set per file, with its imports, so a type's schema travels alone.
    add_custom_command(
      OUTPUT ${f}
      COMMAND ${AXON_PROTOC} --include_imports --descriptor_set_out=${f} ${iflags} ${p}
      DEPENDS ${protos}
      COMMENT "protoc: FileDescriptorSet of ${p}"
      VERBATIM)
  endforeach()
  set(types_c ${gen}/${A_NAME}_types.c)
  set(types_h ${gen}/${A_NAME}_types.h)
  add_custom_command(
    OUTPUT ${types_c} ${types_h}
    COMMAND ${CMAKE_COMMAND} -DNAME=${A_NAME} "-DSTEMS=${rels}" -DFDS_DIR=${gen}
            -DHDR_DIR=${A_OUT_DIR} -DOUT_C=${types_c} -DOUT_H=${types_h}
            -P ${_AXON_PROTOBUF_C_DIR}/AxonEmbedFds.cmake
    DEPENDS ${fdss} ${hdrs} ${_AXON_PROTOBUF_C_DIR}/AxonEmbedFds.cmake
    COMMENT "axon: embedding the FileDescriptorSets of ${A_NAME}"
    VERBATIM)

  # Custom-command outputs attach only to targets of the same directory, and
  # <target> may live elsewhere: a named generation target carries the
  # dependency across.
  add_custom_target(axon_pbc_${A_NAME} DEPENDS ${csrcs} ${hdrs} ${types_c} ${types_h})
  add_dependencies(${target} axon_pbc_${A_NAME})
  target_sources(${target} PRIVATE ${csrcs} ${types_c})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${A_OUT_DIR}>
                                              $<BUILD_INTERFACE:${gen}>)
  if(A_EXPORT_SYMBOLS)
    set_source_files_properties(${csrcs} TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS -fvisibility=default)
  endif()
endfunction()
