/*
 * pt_htab.c - a small intrusive chained hash table.
 *
 * No locking here: every table lives inside a struct pt_shard whose lock
 * the caller holds (write lock for insert/remove, read lock for walks).
 * Growth allocates a new bucket array; if that fails the table keeps its
 * size and chains get longer (never an error for the caller).
 */
#include <stdlib.h>
#include "pt_internal.h"

/* Initialise t with nb buckets (a power of two). 0 or -ENOMEM. */
int pt_htab_init(struct pt_htab *t, size_t nb)
{
	t->b = calloc(nb, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->nb = nb;
	t->n = 0;
	return 0;
}

/* Free t's bucket array; entries belong to the caller. */
void pt_htab_destroy(struct pt_htab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = 0;
	t->n = 0;
}

static size_t bucket_of(const struct pt_htab *t, uint64_t hash)
{
	/* The shard was chosen by the low bits: use the high ones here. */
	return (size_t)(hash >> 16) & (t->nb - 1);
}

static void grow(struct pt_htab *t)
{
	size_t nb = t->nb * 2;
	struct pt_hlink **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct pt_hlink *l = t->b[i];

		while (l) {
			struct pt_hlink *next = l->next;
			size_t j = (size_t)(l->hash >> 16) & (nb - 1);

			l->next = b[j];
			b[j] = l;
			l = next;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

/* Insert l into t (l->hash set by the caller). */
void pt_htab_insert(struct pt_htab *t, struct pt_hlink *l)
{
	size_t i;

	if (t->n >= t->nb && t->nb < ((size_t)1 << 30))
		grow(t);
	i = bucket_of(t, l->hash);
	l->next = t->b[i];
	t->b[i] = l;
	t->n++;
}

/* Remove l from t. Returns true if l was in t. */
bool pt_htab_remove(struct pt_htab *t, struct pt_hlink *l)
{
	struct pt_hlink **pp = &t->b[bucket_of(t, l->hash)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			l->next = NULL;
			t->n--;
			return true;
		}
	}
	return false;
}

/* The chain that holds entries with this hash (and others). */
struct pt_hlink *pt_htab_chain(const struct pt_htab *t, uint64_t hash)
{
	return t->b[bucket_of(t, hash)];
}
