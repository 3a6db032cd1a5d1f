# SPDX-License-Identifier: Apache-2.0
# cmake -DDST=<dir> "-DSRCS=<dir>;<dir>" -P copy_corpus.cmake
# Copies every *.fds under SRCS into DST (flat): the fuzz_fds seed corpus.
file(MAKE_DIRECTORY ${DST})
foreach(src ${SRCS})
  file(GLOB_RECURSE fdss ${src}/*.fds)
  foreach(f ${fdss})
    get_filename_component(n ${f} NAME)
    file(COPY_FILE ${f} ${DST}/${n} ONLY_IF_DIFFERENT)
  endforeach()
endforeach()
