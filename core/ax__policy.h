/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/ax__policy.h: the access-control policy, a pure data object: what
 * each node identity may publish, subscribe to, call and set, and which
 * local users may share memory with us. Loading and matching only; nothing
 * here touches the network, and nothing here logs.
 *
 * The file (YAML; core/policy.c has the design note; in line comments,
 * since its patterns put a slash before a star):
 */
//     version: 1           # optional; must be 1
//     default: deny        # deny | allow: identities not under nodes (default deny)
//     shm_uids: [1000]     # optional: uids that may use shared memory with us
//                          #   (absent: only our own, getuid() at load time)
//     shm_gids: []         # optional: gids likewise (absent: none)
//     nodes:
//       lidar_driver:      # an identity: the certificate name, else the node name
//         publish: ["/sensors/lidar/*"]
//       planner:
//         publish: ["/plan/**"]
//         subscribe: ["/sensors/**", "/perception/*"]
//         call: ["/planner/*"]
//         set_param: ["planner.*"]
//         shm_uids: [1001]
//       "*":               # any identity not listed (takes precedence over default)
//         subscribe: ["/diagnostics/**"]
/*
 * Decisions. An identity listed under nodes may do exactly what its lists
 * allow (a missing list, or a node written with no value, allows nothing).
 * An identity not listed uses the "*" entry when there is one, else
 * `default` (deny: nothing, allow: everything). Names are matched with
 * ax__glob_match(); a name longer than AX__POLICY_NAME_MAX is never matched
 * by a pattern.
 *
 * Shared memory. A node entry (or "*") that has shm_uids or shm_gids
 * replaces both top-level lists for its identities, the one it leaves out
 * being empty; otherwise the top-level lists apply. A peer is allowed when
 * its uid is in the uid list or its gid in the gid list. `default` plays
 * no part here: shared memory is a question about the local user, not the
 * identity's rights.
 *
 * Lists are flow or block sequences, or one scalar for a list of one.
 * Bounds (each an error with its line): AX__POLICY_NODES_MAX node entries,
 * AX__POLICY_LIST_MAX entries per list, AX__POLICY_NAME_MAX bytes per
 * identity or pattern, AX__POLICY_FILE_MAX bytes of input. Unknown keys,
 * duplicate keys and duplicate node entries, aliases, a null where a list
 * is expected ("write [] for none") and an empty document are errors.
 *
 * Threads: a policy is built by one thread and never changes afterwards;
 * the const queries may then run on any number of threads at once.
 */
#ifndef AX__POLICY_H
#define AX__POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AX__POLICY_NODES_MAX 4096
#define AX__POLICY_LIST_MAX  1024
#define AX__POLICY_NAME_MAX  255
#define AX__POLICY_FILE_MAX  (16 * 1024 * 1024)

typedef struct ax__policy ax__policy;

enum ax__policy_action {
    AX__POLICY_PUBLISH = 0,
    AX__POLICY_SUBSCRIBE = 1,
    AX__POLICY_CALL = 2,      /* services (not used yet) */
    AX__POLICY_SET_PARAM = 3, /* parameters (not used yet) */
};

#define AX__POLICY_NACTIONS 4

/**
 * ax__policy_load() - read and check a policy file.
 * @path:    the file.
 * @out:     receives the policy, freed with ax__policy_free(); untouched on
 *           failure.
 * @err:     receives a one-line message on failure, "FILE:LINE:COL: KEY:
 *           message" (the position and key where there are any); may be
 *           NULL. Untouched on success.
 * @err_len: size of @err.
 *
 * Returns 0; AX_EINVAL for a bad argument or a document that is not a valid
 * policy (including a directory, or a file over AX__POLICY_FILE_MAX bytes);
 * AX_ENOENT, AX_EACCES or another ax_err_from_errno() code when the file
 * cannot be read; AX_ENOMEM. Any thread.
 */
int ax__policy_load(const char *path, ax__policy **out, char *err, size_t err_len);

/**
 * ax__policy_parse() - the same from @len bytes at @text (not copied).
 * @name: the file name used in error messages (NULL: "<string>").
 *
 * Returns 0, AX_EINVAL or AX_ENOMEM as ax__policy_load(). Any thread.
 */
int ax__policy_parse(const char *text, size_t len, const char *name, ax__policy **out, char *err,
                     size_t err_len);

/* Free a policy from ax__policy_load/_parse. NULL is fine. */
void ax__policy_free(ax__policy *p);

/**
 * ax__policy_allows() - may node @identity do @act on @name?
 * @p:        the policy.
 * @identity: the peer's identity (NULL: treated as an unlisted identity).
 * @act:      what it wants to do.
 * @name:     a topic, service or parameter name (NULL: refused).
 *
 * False for a NULL @p or an @act out of range. Never allocates; any
 * thread. Costs a binary search over the identities, then one glob match
 * per pattern of the list (see ax__glob_match() for the bound).
 */
bool ax__policy_allows(const ax__policy *p, const char *identity, enum ax__policy_action act,
                       const char *name);

/**
 * ax__policy_allows_shm() - may a local peer share memory with us?
 * @p:        the policy.
 * @identity: the identity the peer claims (NULL: an unlisted identity).
 * @uid, @gid: its Unix-socket credentials (SO_PEERCRED).
 *
 * True when @uid is in the uid list or @gid in the gid list that applies to
 * @identity (see "Shared memory" above). False for a NULL @p. Any thread.
 */
bool ax__policy_allows_shm(const ax__policy *p, const char *identity, uint32_t uid, uint32_t gid);

/**
 * ax__glob_match() - whether all of @s matches the glob @pattern.
 *
 * '*' matches any run of characters except '/', '**' (or any longer run of
 * stars) any run including '/', '?' one character except '/'; every other
 * byte matches itself (there is no escape and no character class). Both
 * are NUL-terminated; NULL matches nothing. Iterative, no allocation, any
 * thread. Backtracking goes to the last star only (to the last '**' when a
 * '*' cannot grow past a '/'), so the time is O(|pattern| * |s|) for
 * patterns of one kind of star and O(|pattern| * |s|^2) at worst when they
 * mix, whatever the pattern.
 */
bool ax__glob_match(const char *pattern, const char *s);

#endif /* AX__POLICY_H */
