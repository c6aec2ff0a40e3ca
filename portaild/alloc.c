/* alloc.c — see alloc.h. */
#include "alloc.h"

#include <malloc.h>
#include <stdlib.h>

#include <jansson.h>
#include <sodium.h>

void *
wipe_alloc_malloc(size_t size)
{
	return malloc(size);
}

/*
 * malloc_usable_size rather than a size header: a header would make a
 * block that some library frees with free(3) an invalid free, and costs
 * an allocation's alignment; the usable size is at least what was asked
 * (glibc, AddressSanitizer and valgrind all answer it).
 */
void
wipe_alloc_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void
wipe_alloc_install(void)
{
	json_set_alloc_funcs(wipe_alloc_malloc, wipe_alloc_free);
}
