/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The topic glob of the access policy (core/glob.c): by cases, against a
 * plain recursive matcher (every pattern and string up to length 5 over
 * small alphabets, then longer random ones), and on patterns that make a
 * naive backtracker exponential.
 */
#include <string.h>

#include "ax_test.h"
#include "core/ax__policy.h"

/* The definition, written the obvious (exponential) way: the reference. */
static bool ref_match(const char *p, const char *s)
{
    if (!*p)
        return !*s;
    if (p[0] == '*' && p[1] == '*') {
        while (*p == '*')
            p++;
        for (const char *t = s;; t++) {
            if (ref_match(p, t))
                return true;
            if (!*t)
                return false;
        }
    }
    if (*p == '*') {
        for (const char *t = s;; t++) {
            if (ref_match(p + 1, t))
                return true;
            if (!*t || *t == '/')
                return false;
        }
    }
    if (!*s)
        return false;
    if (*p == '?' ? *s == '/' : *p != *s)
        return false;
    return ref_match(p + 1, s + 1);
}

static void test_glob_cases(void **state)
{
    (void)state;
    static const struct {
        const char *p, *s;
        bool match;
    } cases[] = {
        {"/a/b", "/a/b", true},
        {"/a/b", "/a/bc", false},
        {"/a/b", "/a/", false},
        {"", "", true},
        {"", "a", false},
        {"*", "", true},
        {"**", "", true},
        {"?", "", false},
        {"a", "", false},
        {"/sensors/lidar/*", "/sensors/lidar/front", true},
        {"/sensors/lidar/*", "/sensors/lidar/", true},
        {"/sensors/lidar/*", "/sensors/lidar/front/raw", false}, /* '*' stops at '/' */
        {"/sensors/lidar/*", "/sensors/lidar", false},
        {"/sensors/**", "/sensors/lidar/front/raw", true}, /* '**' crosses '/' */
        {"/sensors/**", "/sensors/", true},
        {"/sensors/**", "/sensors", false},
        {"/sensors/**", "/sensorsX/a", false},
        {"/a/**/z", "/a/b/c/z", true},
        {"/a/**/z", "/a//z", true},
        {"/a/**/z", "/a/z", false},
        {"**/z", "/a/b/z", true},
        {"**", "/any/thing/at/all", true},
        {"*", "/x", false},
        {"*", "abc", true},
        {"/a/?", "/a/b", true},
        {"/a/?", "/a/bc", false},
        {"/a/?", "/a/", false},
        {"/a?b", "/a/b", false}, /* '?' is never '/' */
        {"/a/*.bag", "/a/x.bag", true},
        {"/a/*.bag", "/a/x/y.bag", false},
        {"/a/**.bag", "/a/x/y.bag", true},
        {"/*/*/c", "/a/b/c", true},
        {"/*/*/c", "/a/b/x/c", false},
        {"/**/*/c", "/a/b/x/c", true},
        {"*a*b", "xaxb", true},
        {"*a*b", "xa/xb", false},
        {"**a*b", "xa/ab", true},
        {"**a*b", "xa/xb", false},
        {"**a*b", "xa/xb/", false},
        {"a***", "a/b/c", true}, /* a run of stars is '**' */
        {"planner.*", "planner.gain", true},
        {"[ab]", "a", false}, /* no classes: literal */
        {"[ab]", "[ab]", true},
        {"\\*", "\\x", true}, /* no escape: '\' is literal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = ax__glob_match(cases[i].p, cases[i].s);
        if (got != cases[i].match)
            fail_msg("glob \"%s\" on \"%s\": got %d", cases[i].p, cases[i].s, got);
        assert_int_equal(ref_match(cases[i].p, cases[i].s), cases[i].match);
    }
    assert_false(ax__glob_match(NULL, "a"));
    assert_false(ax__glob_match("a", NULL));
}

static void check_ref(const char *p, const char *s)
{
    bool got = ax__glob_match(p, s), want = ref_match(p, s);
    if (got != want)
        fail_msg("glob \"%s\" on \"%s\": got %d, reference %d", p, s, got, want);
}

/* Write the @k-th string of length @len over @alpha (@n letters) into @out. */
static void nth_string(unsigned long k, size_t len, const char *alpha, unsigned n, char *out)
{
    for (size_t i = 0; i < len; i++, k /= n)
        out[i] = alpha[k % n];
    out[len] = 0;
}

/* Every pattern and string up to length 5 over small alphabets, then
 * longer random ones, against the reference. */
static void test_glob_against_reference(void **state)
{
    (void)state;
    static const char pa[] = "a/?*", sa[] = "ab/";
    char p[12], s[12];
    unsigned long pairs = 0;
    for (size_t pl = 0, pn = 1; pl <= 5; pl++, pn *= 4)
        for (unsigned long i = 0; i < pn; i++) {
            nth_string(i, pl, pa, 4, p);
            for (size_t sl = 0, sn = 1; sl <= 5; sl++, sn *= 3)
                for (unsigned long j = 0; j < sn; j++, pairs++) {
                    nth_string(j, sl, sa, 3, s);
                    check_ref(p, s);
                }
        }
    assert_true(pairs == 1365ul * 364ul);
    uint32_t seed = 12345;
    for (int n = 0; n < 200000; n++) {
        seed = seed * 1103515245u + 12345u;
        size_t pl = (seed >> 8) % 11, sl = (seed >> 16) % 11;
        seed = seed * 1103515245u + 12345u;
        nth_string(seed, pl, pa, 4, p);
        seed = seed * 1103515245u + 12345u;
        nth_string(seed ^ (seed >> 7), sl, sa, 3, s);
        check_ref(p, s);
    }
}

/* Patterns that make a naive backtracker exponential: the answer must come
 * (no timing is asserted; the CTest TIMEOUT catches a blow-up). */
static void test_glob_hostile(void **state)
{
    (void)state;
    enum { N = 4000 };
    char *s = malloc(N + 1);
    assert_non_null(s);
    memset(s, 'a', N);
    s[N] = 0;
    assert_false(ax__glob_match("a*a*a*a*a*a*a*a*a*a*b", s));
    assert_true(ax__glob_match("a*a*a*a*a*a*a*a*a*a*a", s));
    assert_false(ax__glob_match("a**a**a**a**a**a**a**b", s));
    assert_false(ax__glob_match("**a*a*a*a*a*a*b", s));
    assert_true(ax__glob_match("**a*a*a*a*a*a*a", s));
    for (size_t i = 7; i < N - 1; i += 8) /* "aaaaaaa/aaaaaaa/..." */
        s[i] = '/';
    assert_false(ax__glob_match("**/a*a*a*a*b", s));
    assert_false(ax__glob_match("*/**/*a*a*a*/b", s));
    assert_true(ax__glob_match("**/a*a*a*a", s));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_cases),
        cmocka_unit_test(test_glob_against_reference),
        cmocka_unit_test(test_glob_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
