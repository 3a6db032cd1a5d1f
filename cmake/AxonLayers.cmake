# SPDX-License-Identifier: Apache-2.0
# axon's layers (docs/architecture.md, "Layers"): each folder is one OBJECT
# library that links only the layers below it.
#
#   tools  -> core -> msgs -> transport -> base -> libc
#
# The shared and static libraries are made from the objects of all four
# library layers. An upward call does not link: for each layer,
# axon_layer_check_<layer> is an executable made of that layer's objects
# and those below it only (cmake/layer_check.c is its empty main), built
# by default, so a reference to a symbol of a higher layer is an undefined
# symbol and the build fails. tests/arch/check_arch.py checks the same rule
# for #include lines, and that no two files call each other in a circle.

set(AXON_LAYERS base transport msgs core)

# axon_layer(<name> [BELOW <layer>...]): the OBJECT library axon_layer_<name>,
# linking the layers named by BELOW (with their usage requirements).
function(axon_layer name)
  cmake_parse_arguments(L "" "" "BELOW" ${ARGN})
  add_library(axon_layer_${name} OBJECT)
  axon_target_defaults(axon_layer_${name})
  target_compile_definitions(axon_layer_${name} PRIVATE AXON_BUILDING)
  # The library's own calls to its public functions may be inlined and
  # bound locally (they are not interposed: -Bsymbolic-functions).
  target_compile_options(axon_layer_${name} PRIVATE -fno-semantic-interposition)
  target_include_directories(axon_layer_${name}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
           $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(axon_layer_${name} PUBLIC Threads::Threads)
  foreach(b ${L_BELOW})
    target_link_libraries(axon_layer_${name} PUBLIC axon_layer_${b})
  endforeach()
endfunction()

# axon_layer_check(<name> <layers>... [LIBS <external>...]): the link check
# described above; <layers> are <name> and every layer below it.
function(axon_layer_check name)
  cmake_parse_arguments(C "" "" "LIBS" ${ARGN})
  add_executable(axon_layer_check_${name} ${PROJECT_SOURCE_DIR}/cmake/layer_check.c)
  set(objs)
  foreach(l ${C_UNPARSED_ARGUMENTS})
    list(APPEND objs $<TARGET_OBJECTS:axon_layer_${l}>)
  endforeach()
  target_sources(axon_layer_check_${name} PRIVATE ${objs})
  target_link_libraries(axon_layer_check_${name} PRIVATE Threads::Threads ${C_LIBS})
endfunction()
