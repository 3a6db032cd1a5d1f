/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/log.h: process-wide logging through a pluggable sink.
 *
 * The level is checked before any formatting happens, so a disabled
 * AX_LOG_DEBUG() costs one relaxed atomic load. The reactor and the frame
 * parser never log: they return errors, and their owners decide what to say.
 *
 * Thread rules: every function here may be called from any thread. The sink
 * is called with a process-wide lock held, so one sink call finishes before
 * the next begins (lines never interleave); a sink must not log itself.
 */
#ifndef AXON_LOG_H
#define AXON_LOG_H

#include <stdarg.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels, most severe first. A message is emitted when its level <= the
 * current level. */
enum ax_log_level {
    AX_LOG_OFF = 0,
    AX_LOG_ERROR = 1,
    AX_LOG_WARN = 2,
    AX_LOG_INFO = 3,
    AX_LOG_DEBUG = 4,
    AX_LOG_TRACE = 5
};

/**
 * ax_log_sink_fn - receives one formatted log line.
 * @level: the message's level.
 * @module: the short name of the emitting module ("tcp", "disc", ...).
 * @msg: the formatted message, NUL-terminated, without a trailing newline.
 *       Valid only during the call.
 * @user: the pointer given to ax_log_set_sink().
 */
typedef void (*ax_log_sink_fn)(int level, const char *module, const char *msg, void *user);

/**
 * ax_log_set_sink() - replace the sink (NULL restores the default, which
 * writes "time level module: message" lines to stderr).
 * @fn: the new sink, or NULL.
 * @user: passed to every call of @fn.
 */
AX_API void ax_log_set_sink(ax_log_sink_fn fn, void *user);

/** ax_log_set_level() - set the level; values outside OFF..TRACE are clamped. */
AX_API void ax_log_set_level(int level);

/** ax_log_level() - the current level. */
AX_API int ax_log_level(void);

/**
 * ax_log_level_parse() - parse "off", "error", "warn", "info", "debug" or
 * "trace" (case-insensitive).
 * @name: the level's name.
 * @level: receives the level.
 *
 * Returns 0, or AX_EINVAL for an unknown name (@level is left unchanged).
 */
AX_API int ax_log_level_parse(const char *name, int *level);

/** ax_log_level_name() - "error", "warn", ... ("?" for an unknown level). */
AX_API const char *ax_log_level_name(int level);

/** ax_log_enabled() - whether a message of @level would be emitted. */
AX_API bool ax_log_enabled(int level);

/**
 * ax_log_write() - format and emit one message (prefer the AX_LOG_* macros,
 * which check the level first).
 */
AX_API void ax_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** ax_log_vwrite() - as ax_log_write(), with a va_list. */
AX_API void ax_log_vwrite(int level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define AX_LOG_AT(level, module, ...)                                                              \
    do {                                                                                           \
        if (ax_log_enabled(level))                                                                 \
            ax_log_write((level), (module), __VA_ARGS__);                                          \
    } while (0)
#define AX_LOG_E(module, ...) AX_LOG_AT(AX_LOG_ERROR, module, __VA_ARGS__)
#define AX_LOG_W(module, ...) AX_LOG_AT(AX_LOG_WARN, module, __VA_ARGS__)
#define AX_LOG_I(module, ...) AX_LOG_AT(AX_LOG_INFO, module, __VA_ARGS__)
#define AX_LOG_D(module, ...) AX_LOG_AT(AX_LOG_DEBUG, module, __VA_ARGS__)
#define AX_LOG_T(module, ...) AX_LOG_AT(AX_LOG_TRACE, module, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* AXON_LOG_H */
