/*
 * messages.h — every sentence a parent or an admin reads, in French and
 * English, in one table (messages.def) shared by portaild, the CLI, the
 * PAM module and the web pages. A front end names a message by its id and
 * never writes one itself, so the two languages and the four front ends
 * cannot drift apart.
 *
 * Each entry is M(ID, ARGS, FRENCH, ENGLISH). ARGS spells the printf
 * conversions the two texts take, in order ("" for none, "s" for one
 * string, "sd" …); test_messages checks that both texts take exactly
 * those, so portail_msgf can hand a table entry to vsnprintf safely.
 *
 * This file and messages.c depend on libc only: the PAM module and the
 * SASL plugin link them without the rest of the library.
 */
#ifndef PORTAIL_MESSAGES_H
#define PORTAIL_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

enum portail_msg {
#define M(id, args, fr, en) PORTAIL_MSG_##id,
#include "messages.def"
#undef M
	PORTAIL_MSG_COUNT
};

/* The text of a message without arguments (ARGS ""), or NULL for an id out of range. */
const char *portail_msg(enum portail_msg id, bool en);

/* The printf conversions the message takes (its ARGS), or NULL. */
const char *portail_msg_args(enum portail_msg id);

/*
 * Formats a message into buf (always terminated; cut if it does not fit).
 * The arguments must match the entry's ARGS. Returns buf. en is an int,
 * not a bool: va_start after a parameter that promotes is undefined.
 */
char *portail_msgf(char *buf, size_t size, enum portail_msg id, int en, ...);

/* The id's name ("CODE_SENT"), for tests and logs. */
const char *portail_msg_name(enum portail_msg id);

/* true for "en", "en-CA", "EN_us" …; false (French, the default) otherwise. */
bool portail_lang_is_en(const char *tag);

#endif
