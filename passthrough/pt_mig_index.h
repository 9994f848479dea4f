/*
 * pt_mig_index.h - helpers shared by the parts of migration (see
 * pt_mig_index.c).
 */
#ifndef PT_MIG_INDEX_H
#define PT_MIG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct pt_inode;
struct pt_key;

/* Open-addressing map: hash -> array index (zero-initialise to start). */
struct imap {
	uint64_t *h;     /* hash + 1 (0 = empty slot) */
	size_t *idx;
	size_t cap, n;   /* cap: power of two */
};

/* Free the index and leave it empty (reusable). */
void pt_imap_free(struct imap *m);

/* Store idx under hash (several may share one); 0 or -ENOMEM. */
int pt_imap_add(struct imap *m, uint64_t hash, size_t idx);

/* Iterate the indices stored under hash: start with *pos = SIZE_MAX; true
 * while *idx holds one more. */
bool pt_imap_next(const struct imap *m, uint64_t hash, size_t *pos,
		 size_t *idx);

/*
 * Room for element n of the array v of *cap elements of elsize bytes:
 * v itself while n < *cap, else v grown to twice *cap (first: cap0)
 * with *cap updated.  NULL when out of memory (v untouched, still the
 * caller's).
 */
void *pt_mig_grow(void *v, size_t *cap, size_t n, size_t elsize,
		  size_t cap0);

/*
 * The part of path (n bytes: a readlink of an fd) below the shared dir,
 * whose own path is root_path (root_len bytes, "/" for the file system's
 * root), cut at a '/' boundary so that "/srv/share" is no prefix of
 * "/srv/share2/x".  NULL when path is not below it (elsewhere, or a
 * " (deleted)" or anonymous file).
 */
char *pt_mig_below_root(char *path, size_t n, const char *root_path,
			size_t root_len);

/*
 * Cut the next component of the relative path at *p in place (leading
 * '/' skipped) and move *p past it.  Returns the component, or NULL at
 * the end of the path; *last is set when no component follows it.
 */
char *pt_mig_path_next(char **p, bool *last);

/* The index hash of an inode key. */
uint64_t pt_mig_key_hash(const struct pt_key *k);

/* True when in is the file that st (on mount mnt_id) describes. */
bool pt_mig_same_key(const struct pt_inode *in, const struct stat *st,
		     uint64_t mnt_id);

#endif
