# SPDX-License-Identifier: Apache-2.0
# Compiler flags shared by every axon target.

# axon_target_defaults(<target>): warnings (errors with AXON_WERROR) and the
# feature-test macro the POSIX/Linux calls need under -std=c11.
function(axon_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter -Wvla -Wformat=2
    # Human-readable texts (logs, event descriptions) are cut to fit their
    # buffers by snprintf on purpose; a 255-byte topic name must not make
    # every message that quotes it a build error.
    $<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>)
  if(AXON_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()

# axon_apply_sanitizers(<kind>): "address" = ASan+UBSan, "thread" = TSan,
# "fuzz" = libFuzzer coverage + ASan+UBSan (clang only).
# Applied to every target of the build (library, tools and tests alike) so a
# report cannot hide in code compiled without instrumentation.
macro(axon_apply_sanitizers kind)
  if("${kind}" STREQUAL "address")
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
  elseif("${kind}" STREQUAL "fuzz")
    # libFuzzer coverage for the library; fuzz targets add -fsanitize=fuzzer.
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
  elseif("${kind}" STREQUAL "thread")
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
  elseif(NOT "${kind}" STREQUAL "")
    message(FATAL_ERROR "AXON_SANITIZE must be empty, address, thread or fuzz, not '${kind}'")
  endif()
endmacro()
