/*
 * messages.c — the table of messages.def, and its lookups.
 */
#include "messages.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

struct entry {
	const char *name;
	const char *args;
	const char *text[2];            /* [0] French, [1] English */
};

static const struct entry table[PORTAIL_MSG_COUNT] = {
#define M(id, a, fr, en) [PORTAIL_MSG_##id] = { #id, a, { fr, en } },
#include "messages.def"
#undef M
};

static const struct entry *
entry_of(enum portail_msg id)
{
	if ((unsigned)id >= PORTAIL_MSG_COUNT)
		return NULL;
	return &table[id];
}

const char *
portail_msg(enum portail_msg id, bool en)
{
	const struct entry *e = entry_of(id);

	return e == NULL ? NULL : e->text[en ? 1 : 0];
}

const char *
portail_msg_args(enum portail_msg id)
{
	const struct entry *e = entry_of(id);

	return e == NULL ? NULL : e->args;
}

const char *
portail_msg_name(enum portail_msg id)
{
	const struct entry *e = entry_of(id);

	return e == NULL ? NULL : e->name;
}

char *
portail_msgf(char *buf, size_t size, enum portail_msg id, int en, ...)
{
	const struct entry *e = entry_of(id);
	va_list ap;

	if (size == 0)
		return buf;
	if (e == NULL) {
		buf[0] = '\0';
		return buf;
	}
	va_start(ap, en);
	/*
	 * The format is a table entry, not a literal: test_messages checks
	 * at build time that each one takes exactly its ARGS.
	 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	(void)vsnprintf(buf, size, e->text[en ? 1 : 0], ap);
#pragma GCC diagnostic pop
	va_end(ap);
	return buf;
}

bool
portail_lang_is_en(const char *tag)
{
	return tag != NULL && strncasecmp(tag, "en", 2) == 0 &&
	    (tag[2] == '\0' || tag[2] == '-' || tag[2] == '_');
}
