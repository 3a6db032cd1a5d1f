# SPDX-License-Identifier: Apache-2.0
# Cross-compiling to aarch64 Linux with Debian's gcc-aarch64-linux-gnu.
# Code generators (protoc-c, nanopb_generator.py) are found and run on the
# build host; tests run through qemu-user.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${CROSS_TRIPLE}-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${CROSS_TRIPLE})
set(CMAKE_LIBRARY_ARCHITECTURE ${CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
find_program(QEMU_AARCH64 qemu-aarch64 REQUIRED)
# -L: the cross sanitizer runtimes live only under /usr/aarch64-linux-gnu/lib,
# and with -L the loader is the cross one (libc6-arm64-cross). Without
# LD_LIBRARY_PATH that loader finds libc.so.6 through the host's ld.so.cache,
# i.e. the multiarch libc6:arm64, a different build of glibc: then the first
# pthread_create() hangs (seen with 2.36-8cross1 vs 2.36-9+deb12u14). Keep the
# loader and libc from the same package.
set(CMAKE_CROSSCOMPILING_EMULATOR ${QEMU_AARCH64} -L /usr/${CROSS_TRIPLE}
    -E LD_LIBRARY_PATH=/usr/${CROSS_TRIPLE}/lib)
