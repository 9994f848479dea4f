/*
 * pt_idmap.h - in-daemon uid/gid translation (--translate-uid and
 * --translate-gid), with the Rust virtiofsd's syntax and semantics:
 *
 *   guest:G:H:N         guest [G, G+N) -> host [H, H+N)
 *   host:H:G:N          host [H, H+N) -> guest [G, G+N)
 *   squash-guest:G:H:N  guest [G, G+N) -> host H
 *   squash-host:H:G:N   host [H, H+N) -> guest G
 *   forbid-guest:G:N    guest [G, G+N): the request fails with EPERM
 *   map:G:H:N           both guest:G:H:N and host:H:G:N
 *
 * The two directions are independent; an id no entry covers maps to
 * itself.  The separator is the first character that is not a letter,
 * digit, '-' or '_' (any such character, the same for every field).
 * Source ranges of one direction must not overlap.  One struct pt_idmap
 * holds either uids or gids.  Pure module: safe to share between threads
 * once built.
 */
#ifndef PT_IDMAP_H
#define PT_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pt_idmap;

/* A new empty (identity) map, or NULL when out of memory. */
struct pt_idmap *pt_idmap_new(void);

/* Free a map (NULL is ignored). */
void pt_idmap_free(struct pt_idmap *m);

/*
 * Parse one spec and add it to m.  Returns 0, -EINVAL (with a one-line
 * reason in err, errlen bytes) for a malformed spec, a range that
 * overflows 32 bits or reaches id 4294967295 (-1, "no id"), or a source
 * range overlapping an earlier one of the same direction; -ENOMEM.
 */
int pt_idmap_add(struct pt_idmap *m, const char *spec, char *err,
		 size_t errlen);

/* True when m is NULL or holds no entry. */
bool pt_idmap_empty(const struct pt_idmap *m);

/*
 * Guest id -> host id into *host.  Returns 0, or -EPERM for an id in a
 * forbid-guest range.  m may be NULL (identity).
 */
int pt_idmap_to_host(const struct pt_idmap *m, uint32_t guest,
		     uint32_t *host);

/* Host id -> guest id (never fails).  m may be NULL (identity). */
uint32_t pt_idmap_to_guest(const struct pt_idmap *m, uint32_t host);

#endif
