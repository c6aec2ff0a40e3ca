/*
 * i18n.h — the CLI speaks French by default and English with --lang en.
 * Messages are pairs written side by side at the call site so that the
 * two languages never drift apart.
 */
#ifndef PORTAIL_CLI_I18N_H
#define PORTAIL_CLI_I18N_H

#include <stdbool.h>

extern bool cli_english;

#define T(fr, en) (cli_english ? (en) : (fr))

#endif
