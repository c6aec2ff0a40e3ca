/*
 * alloc.h — jansson's allocator in portaild: every block jansson frees is
 * wiped first.
 *
 * jansson copies what it parses: the parser gathers each string of a
 * request (a password, a code, a token) in a scratch buffer it frees
 * unwiped, and grows buffers by copy and free. Wiping the strings of the
 * parsed object is not enough; wiping every block jansson frees is. The
 * daemon is its own process, so unlike libportail-client (a guest in
 * sshd or Apache) it may replace jansson's allocator.
 */
#ifndef PORTAILD_ALLOC_H
#define PORTAILD_ALLOC_H

#include <stddef.h>

/* malloc(3), for jansson. */
void *wipe_alloc_malloc(size_t size);

/*
 * Wipes the whole block (malloc_usable_size bytes, so nothing is left
 * in the slack either), then free(3)s it. NULL does nothing. The blocks
 * are plain malloc blocks, with no header: one freed by free(3) directly
 * (libjose and others that free what jansson returned) is still freed
 * right, only not wiped.
 */
void wipe_alloc_free(void *p);

/*
 * Installs the two as jansson's allocation functions. Call before any other use of
 * jansson in the process (a block allocated before would be freed the
 * same way, which is harmless here, but jansson asks it).
 */
void wipe_alloc_install(void);

#endif
