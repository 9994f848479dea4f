/*
 * pt_tls.c - per-thread scratch buffers for ops that build replies
 * (READDIR, xattr lists), so that no request allocates.  Allocated on a
 * thread's first use and freed by a key destructor when it exits.
 */
#include <stdlib.h>
#include "pt_internal.h"

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static __thread struct pt_scratch *scratch;

static void scratch_key_init(void)
{
	pthread_key_create(&scratch_key, free);
}

/* This thread's scratch buffers, or NULL when out of memory. */
struct pt_scratch *pt_scratch(void)
{
	if (scratch)
		return scratch;
	pthread_once(&scratch_once, scratch_key_init);
	scratch = malloc(sizeof(*scratch));
	if (scratch)
		pthread_setspecific(scratch_key, scratch);
	return scratch;
}
