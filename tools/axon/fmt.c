/* SPDX-License-Identifier: Apache-2.0 */
/* Human-readable values: durations, sizes, rates, times, QoS, hashes. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const char *cli_fmt_dur(int64_t ns, char *buf, size_t size)
{
    const char *sign = ns < 0 ? "-" : "";
    double a = ns < 0 ? -(double)ns : (double)ns;
    if (a < 1e3)
        snprintf(buf, size, "%s%.0fns", sign, a);
    else if (a < 1e6)
        snprintf(buf, size, "%s%.3gus", sign, a / 1e3);
    else if (a < 1e9)
        snprintf(buf, size, "%s%.3gms", sign, a / 1e6);
    else if (a < 60e9)
        snprintf(buf, size, "%s%.3gs", sign, a / 1e9);
    else if (a < 3600e9) {
        long s = (long)(a / 1e9);
        snprintf(buf, size, "%s%ldm%02lds", sign, s / 60, s % 60);
    } else if (a < 86400e9) {
        long m = (long)(a / 60e9);
        snprintf(buf, size, "%s%ldh%02ldm", sign, m / 60, m % 60);
    } else {
        long h = (long)(a / 3600e9);
        snprintf(buf, size, "%s%ldd%02ldh", sign, h / 24, h % 24);
    }
    return buf;
}

const char *cli_fmt_size(double b, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0f B", b);
    else
        snprintf(buf, size, "%.3g %s", b, units[u]);
    return buf;
}

const char *cli_fmt_rate(double hz, char *buf, size_t size)
{
    if (!isfinite(hz))
        snprintf(buf, size, "-");
    else if (hz >= 100)
        snprintf(buf, size, "%.1f Hz", hz);
    else if (hz >= 1)
        snprintf(buf, size, "%.3f Hz", hz);
    else
        snprintf(buf, size, "%.4f Hz", hz);
    return buf;
}

const char *cli_fmt_time(int64_t real_ns, char *buf, size_t size)
{
    time_t s = (time_t)(real_ns / AX_NS_PER_S);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[32];
    strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", d, (int)((real_ns % AX_NS_PER_S) / AX_NS_PER_MS));
    return buf;
}

const char *cli_reliability_name(enum ax_reliability r)
{
    return r == AX_BEST_EFFORT ? "best_effort" : "reliable";
}

const char *cli_durability_name(enum ax_durability d)
{
    return d == AX_TRANSIENT_LOCAL ? "transient_local" : "volatile";
}

const char *cli_mode_name(enum ax_discovery_mode m)
{
    switch (m) {
    case AX_DISCOVERY_LOCAL:
        return "local";
    case AX_DISCOVERY_NETWORK:
        return "network";
    case AX_DISCOVERY_PEERS:
        return "peers";
    case AX_DISCOVERY_OFF:
        return "off";
    }
    return "?";
}

const char *cli_fmt_qos(const struct ax_qos *q, char *buf, size_t size)
{
    char d[32] = "", l[32] = "", t[32];
    if (q->deadline_ns)
        snprintf(d, sizeof d, " deadline=%s", cli_fmt_dur(q->deadline_ns, t, sizeof t));
    if (q->lifespan_ns)
        snprintf(l, sizeof l, " lifespan=%s", cli_fmt_dur(q->lifespan_ns, t, sizeof t));
    snprintf(buf, size, "%s %s %s depth=%u%s%s", cli_reliability_name(q->reliability),
             cli_durability_name(q->durability), ax_overload_name(q->overload),
             (unsigned)q->history, d, l);
    return buf;
}

const char *cli_fmt_hash(const uint8_t hash[AX_TYPE_HASH_SIZE], char *buf, size_t size)
{
    struct ax_type_hash h;
    memcpy(h.bytes, hash, AX_TYPE_HASH_SIZE);
    char s[AX_TYPE_HASH_STRLEN];
    ax_type_hash_format(&h, s);
    snprintf(buf, size, "%s", s);
    return buf;
}

const char *cli_fmt_hash_short(const uint8_t hash[AX_TYPE_HASH_SIZE], char *buf, size_t size)
{
    struct ax_type_hash h;
    memcpy(h.bytes, hash, AX_TYPE_HASH_SIZE);
    char s[AX_TYPE_HASH_SHORTLEN];
    ax_type_hash_short(&h, s);
    snprintf(buf, size, "%s", s);
    return buf;
}

uint64_t cli_drops_total(const struct ax_endpoint_counters *ctr)
{
    uint64_t n = 0;
    for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
        n += ctr->drops[i];
    return n;
}

const char *cli_fmt_drops(const struct ax_endpoint_counters *ctr, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < AX_DROP_REASON_COUNT_; i++) {
        if (!ctr->drops[i])
            continue;
        int n = snprintf(buf + off, size - off, "%s%s=%llu", off ? " " : "",
                         ax_drop_reason_name((enum ax_drop_reason)i),
                         (unsigned long long)ctr->drops[i]);
        if (n < 0 || (size_t)n >= size - off)
            break;
        off += (size_t)n;
    }
    if (!off)
        snprintf(buf, size, "0");
    return buf;
}
