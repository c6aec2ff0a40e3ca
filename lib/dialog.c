/*
 * dialog.c — the seed's screens as a table of transitions (dialog.h).
 *
 * Read the table as the seed reads: from the address, *Obtenir un code de
 * vérification* leads to the code; at the code, *Obtenir un nouveau code*
 * sends another, *Modifier le courriel* (reset and link only: the sign-up
 * screens have no such button) goes back to the address, *Vérifier le
 * code* leads to the password, *Enregistrer* ends it. A wrong, expired or
 * dead code stays at the code (the daemon's message says which); a weak
 * or mismatched password stays at the password; an outage ends the dialog.
 */
#include "dialog.h"

#include <stddef.h>
#include <string.h>

#define K_SIGNUP (1u << PORTAIL_DIALOG_SIGNUP)
#define K_RESET (1u << PORTAIL_DIALOG_RESET)
#define K_LINK (1u << PORTAIL_DIALOG_LINK)
#define K_CODE (K_SIGNUP | K_RESET)     /* the dialogs that send codes themselves */
#define K_ALL (K_SIGNUP | K_RESET | K_LINK)

struct transition {
	unsigned kinds;
	enum portail_dialog_step from;
	enum portail_dialog_outcome on;
	enum portail_dialog_step to;
};

static const struct transition table[] = {
	/* Courriel */
	{ K_ALL, PORTAIL_STEP_ADDRESS, PORTAIL_OUTCOME_OK, PORTAIL_STEP_SEND_CODE },
	{ K_ALL, PORTAIL_STEP_ADDRESS, PORTAIL_OUTCOME_EMPTY, PORTAIL_STEP_ADDRESS },
	{ K_ALL, PORTAIL_STEP_ADDRESS, PORTAIL_OUTCOME_CANCEL, PORTAIL_STEP_CANCELLED },

	/*
	 * Obtenir un code de vérification. The answer is the same whatever
	 * the address (DESIGN §2); too soon or too many today still leaves
	 * the code sent before alive, so the parent may type it.
	 */
	{ K_CODE, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
	{ K_CODE, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_TOO_SOON, PORTAIL_STEP_CODE },
	{ K_CODE, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_RATE_LIMITED, PORTAIL_STEP_CODE },
	{ K_CODE, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_REFUSED, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_INVALID, PORTAIL_STEP_FAILED },
	{ K_ALL, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_UNAVAILABLE, PORTAIL_STEP_FAILED },
	/* link: social.link links at once when the provider vouches for the address */
	{ K_LINK, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
	{ K_LINK, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_LINKED, PORTAIL_STEP_DONE },
	{ K_LINK, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_TOO_SOON, PORTAIL_STEP_FAILED },
	{ K_LINK, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_RATE_LIMITED, PORTAIL_STEP_FAILED },
	{ K_LINK, PORTAIL_STEP_SEND_CODE, PORTAIL_OUTCOME_REFUSED, PORTAIL_STEP_FAILED },

	/* Code de vérification */
	{ K_ALL, PORTAIL_STEP_CODE, PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
	{ K_ALL, PORTAIL_STEP_CODE, PORTAIL_OUTCOME_NEW_CODE, PORTAIL_STEP_NEW_CODE },
	{ K_RESET | K_LINK, PORTAIL_STEP_CODE, PORTAIL_OUTCOME_CHANGE_ADDRESS, PORTAIL_STEP_ADDRESS },
	{ K_ALL, PORTAIL_STEP_CODE, PORTAIL_OUTCOME_NOT_A_CODE, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_CODE, PORTAIL_OUTCOME_EMPTY, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_CODE, PORTAIL_OUTCOME_CANCEL, PORTAIL_STEP_CANCELLED },

	/* Obtenir un nouveau code: as the first, with link's own answers */
	{ K_CODE, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
	{ K_CODE, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_TOO_SOON, PORTAIL_STEP_CODE },
	{ K_CODE, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_RATE_LIMITED, PORTAIL_STEP_CODE },
	{ K_CODE, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_REFUSED, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_INVALID, PORTAIL_STEP_FAILED },
	{ K_ALL, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_UNAVAILABLE, PORTAIL_STEP_FAILED },
	{ K_LINK, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
	{ K_LINK, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_LINKED, PORTAIL_STEP_DONE },
	{ K_LINK, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_TOO_SOON, PORTAIL_STEP_CODE },
	{ K_LINK, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_RATE_LIMITED, PORTAIL_STEP_CODE },
	{ K_LINK, PORTAIL_STEP_NEW_CODE, PORTAIL_OUTCOME_REFUSED, PORTAIL_STEP_FAILED },

	/* Vérifier le code: a refused code stays at the code, whatever the reason */
	{ K_CODE, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_OK, PORTAIL_STEP_PASSWORD },
	{ K_LINK, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_OK, PORTAIL_STEP_SAVE },
	{ K_ALL, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_WRONG_CODE, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_EXPIRED_CODE, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_DEAD_CODE, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_INVALID, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_REFUSED, PORTAIL_STEP_CODE },
	{ K_ALL, PORTAIL_STEP_VERIFY, PORTAIL_OUTCOME_UNAVAILABLE, PORTAIL_STEP_FAILED },

	/* Nouveau mot de passe, Confirmation */
	{ K_CODE, PORTAIL_STEP_PASSWORD, PORTAIL_OUTCOME_OK, PORTAIL_STEP_SAVE },
	{ K_CODE, PORTAIL_STEP_PASSWORD, PORTAIL_OUTCOME_NOT_TEXT, PORTAIL_STEP_PASSWORD },
	{ K_CODE, PORTAIL_STEP_PASSWORD, PORTAIL_OUTCOME_CANCEL, PORTAIL_STEP_CANCELLED },

	/* Enregistrer: a password the policy refuses is chosen again, same ticket */
	{ K_ALL, PORTAIL_STEP_SAVE, PORTAIL_OUTCOME_OK, PORTAIL_STEP_DONE },
	{ K_CODE, PORTAIL_STEP_SAVE, PORTAIL_OUTCOME_WEAK_PASSWORD, PORTAIL_STEP_PASSWORD },
	{ K_CODE, PORTAIL_STEP_SAVE, PORTAIL_OUTCOME_MISMATCH, PORTAIL_STEP_PASSWORD },
	{ K_ALL, PORTAIL_STEP_SAVE, PORTAIL_OUTCOME_REFUSED, PORTAIL_STEP_FAILED },
	{ K_ALL, PORTAIL_STEP_SAVE, PORTAIL_OUTCOME_INVALID, PORTAIL_STEP_FAILED },
	{ K_ALL, PORTAIL_STEP_SAVE, PORTAIL_OUTCOME_UNAVAILABLE, PORTAIL_STEP_FAILED },
};

/* What each kind shows. */
static const struct {
	enum portail_msg title;
	bool school_hint;               /* "Le courriel doit être celui que vous avez fourni à l'école." */
	enum portail_msg send_button;   /* the first call's button */
} kinds[PORTAIL_DIALOG_KINDS] = {
	[PORTAIL_DIALOG_SIGNUP] = { PORTAIL_MSG_DIALOG_TITLE_SIGNUP, true, PORTAIL_MSG_DIALOG_SEND_CODE },
	[PORTAIL_DIALOG_RESET] = { PORTAIL_MSG_DIALOG_TITLE_RESET, false, PORTAIL_MSG_DIALOG_SEND_CODE },
	/* the seed's social screens: Enregistrer; a code only when the address differs */
	[PORTAIL_DIALOG_LINK] = { PORTAIL_MSG_DIALOG_TITLE_LINK, true, PORTAIL_MSG_DIALOG_SAVE },
};

static const char *const step_names[PORTAIL_STEP_COUNT] = {
	[PORTAIL_STEP_ADDRESS] = "ADDRESS", [PORTAIL_STEP_SEND_CODE] = "SEND_CODE",
	[PORTAIL_STEP_CODE] = "CODE", [PORTAIL_STEP_NEW_CODE] = "NEW_CODE",
	[PORTAIL_STEP_VERIFY] = "VERIFY", [PORTAIL_STEP_PASSWORD] = "PASSWORD",
	[PORTAIL_STEP_SAVE] = "SAVE", [PORTAIL_STEP_DONE] = "DONE",
	[PORTAIL_STEP_CANCELLED] = "CANCELLED", [PORTAIL_STEP_FAILED] = "FAILED",
};

void
portail_dialog_start(struct portail_dialog *d, enum portail_dialog_kind kind, bool address_fixed,
    enum portail_dialog_step first)
{
	memset(d, 0, sizeof(*d));
	d->kind = (unsigned)kind < PORTAIL_DIALOG_KINDS ? kind : PORTAIL_DIALOG_SIGNUP;
	d->address_fixed = address_fixed;
	d->step = first == PORTAIL_STEP_ADDRESS && address_fixed ? PORTAIL_STEP_SEND_CODE : first;
	d->last = PORTAIL_OUTCOME_OK;
	d->notice = PORTAIL_MSG_COUNT;
}

/* true when the answer "c" means Modifier le courriel here */
static bool
may_change_address(const struct portail_dialog *d)
{
	return !d->address_fixed && d->kind != PORTAIL_DIALOG_SIGNUP;
}

enum portail_dialog_step
portail_dialog_next(struct portail_dialog *d, enum portail_dialog_outcome outcome)
{
	enum portail_dialog_step to = PORTAIL_STEP_FAILED;
	unsigned kind = 1u << d->kind;

	d->notice = PORTAIL_MSG_COUNT;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if ((table[i].kinds & kind) != 0 && table[i].from == d->step && table[i].on == outcome) {
			to = table[i].to;
			break;
		}
	}
	if (outcome == PORTAIL_OUTCOME_CHANGE_ADDRESS && !may_change_address(d))
		to = PORTAIL_STEP_FAILED;
	/* the tries: every answer at the code step but an empty one, every password */
	if (d->step == PORTAIL_STEP_CODE && outcome != PORTAIL_OUTCOME_EMPTY &&
	    outcome != PORTAIL_OUTCOME_CANCEL)
		d->code_answers++;
	if (d->step == PORTAIL_STEP_PASSWORD &&
	    (outcome == PORTAIL_OUTCOME_OK || outcome == PORTAIL_OUTCOME_NOT_TEXT))
		d->passwords++;
	if (outcome == PORTAIL_OUTCOME_NOT_A_CODE)
		d->notice = PORTAIL_MSG_DIALOG_NOT_A_CODE;
	else if (outcome == PORTAIL_OUTCOME_NOT_TEXT)
		d->notice = PORTAIL_MSG_DIALOG_PASSWORD_NOT_TEXT;
	if (to == PORTAIL_STEP_CODE && d->code_answers >= PORTAIL_DIALOG_CODE_ANSWERS) {
		to = PORTAIL_STEP_FAILED;
		outcome = PORTAIL_OUTCOME_REFUSED;
		d->notice = PORTAIL_MSG_DIALOG_CODE_TRIES;
	} else if (to == PORTAIL_STEP_PASSWORD && d->passwords >= PORTAIL_DIALOG_PASSWORDS) {
		to = PORTAIL_STEP_FAILED;
		outcome = PORTAIL_OUTCOME_REFUSED;
		d->notice = PORTAIL_MSG_DIALOG_PASSWORD_TRIES;
	}
	if (to == PORTAIL_STEP_ADDRESS)
		d->code_answers = 0;    /* another address, another code */
	d->step = to;
	d->last = outcome;
	return to;
}

enum portail_dialog_outcome
portail_dialog_outcome_of(portail_status s)
{
	switch (s) {
	case PORTAIL_OK:
		return PORTAIL_OUTCOME_OK;
	case PORTAIL_ERR_WRONG_CODE:
		return PORTAIL_OUTCOME_WRONG_CODE;
	case PORTAIL_ERR_EXPIRED_CODE:
		return PORTAIL_OUTCOME_EXPIRED_CODE;
	case PORTAIL_ERR_TOO_MANY_TRIES:
		return PORTAIL_OUTCOME_DEAD_CODE;
	case PORTAIL_ERR_TOO_SOON:
		return PORTAIL_OUTCOME_TOO_SOON;
	case PORTAIL_ERR_RATE_LIMITED:
		return PORTAIL_OUTCOME_RATE_LIMITED;
	case PORTAIL_ERR_INVALID:
		return PORTAIL_OUTCOME_INVALID;
	case PORTAIL_ERR_POLICY:
		return PORTAIL_OUTCOME_WEAK_PASSWORD;
	case PORTAIL_ERR_MISMATCH:
		return PORTAIL_OUTCOME_MISMATCH;
	case PORTAIL_ERR_UNAVAILABLE:
	case PORTAIL_ERR_BUSY:
	case PORTAIL_ERR_IO:
	case PORTAIL_ERR_NOMEM:
	case PORTAIL_ERR_CONFIG:
	case PORTAIL_ERR_PROTOCOL:
		return PORTAIL_OUTCOME_UNAVAILABLE;
	default:
		return PORTAIL_OUTCOME_REFUSED;
	}
}

enum portail_dialog_outcome
portail_dialog_read_code(const struct portail_dialog *d, const char *answer)
{
	size_t n;

	if (answer == NULL)
		return PORTAIL_OUTCOME_CANCEL;
	if (answer[0] == '\0')
		return PORTAIL_OUTCOME_EMPTY;
	if (strcmp(answer, "n") == 0 || strcmp(answer, "N") == 0)
		return PORTAIL_OUTCOME_NEW_CODE;
	if (may_change_address(d) && (strcmp(answer, "c") == 0 || strcmp(answer, "C") == 0))
		return PORTAIL_OUTCOME_CHANGE_ADDRESS;
	n = strnlen(answer, PORTAIL_DIALOG_CODE_MAX + 1);
	if (n > PORTAIL_DIALOG_CODE_MAX)
		return PORTAIL_OUTCOME_NOT_A_CODE;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)answer[i] < 0x20 || answer[i] == 0x7f)
			return PORTAIL_OUTCOME_NOT_A_CODE;
	return PORTAIL_OUTCOME_OK;
}

bool
portail_dialog_yes(const char *answer)
{
	return answer != NULL && (answer[0] == 'o' || answer[0] == 'O' || answer[0] == 'y' ||
	    answer[0] == 'Y');
}

enum portail_msg
portail_dialog_prompt(const struct portail_dialog *d)
{
	switch (d->step) {
	case PORTAIL_STEP_ADDRESS:
		return PORTAIL_MSG_DIALOG_ADDRESS_PROMPT;
	case PORTAIL_STEP_CODE:
		return may_change_address(d) ? PORTAIL_MSG_DIALOG_CODE_PROMPT_CHANGE :
		    PORTAIL_MSG_DIALOG_CODE_PROMPT;
	case PORTAIL_STEP_PASSWORD:
		return PORTAIL_MSG_DIALOG_PASSWORD_PROMPT;
	default:
		return PORTAIL_MSG_COUNT;
	}
}

enum portail_msg
portail_dialog_button(const struct portail_dialog *d)
{
	switch (d->step) {
	case PORTAIL_STEP_ADDRESS:
		return d->last == PORTAIL_OUTCOME_CHANGE_ADDRESS ? PORTAIL_MSG_DIALOG_CHANGE_ADDRESS :
		    PORTAIL_MSG_COUNT;
	case PORTAIL_STEP_SEND_CODE:
		return kinds[d->kind].send_button;
	case PORTAIL_STEP_NEW_CODE:
		return PORTAIL_MSG_DIALOG_NEW_CODE;
	case PORTAIL_STEP_VERIFY:
		return PORTAIL_MSG_DIALOG_VERIFY;
	case PORTAIL_STEP_SAVE:
		return PORTAIL_MSG_DIALOG_SAVE;
	default:
		return PORTAIL_MSG_COUNT;
	}
}

enum portail_msg
portail_dialog_notice(const struct portail_dialog *d)
{
	return d->notice;
}

enum portail_msg
portail_dialog_title(enum portail_dialog_kind kind)
{
	return (unsigned)kind < PORTAIL_DIALOG_KINDS ? kinds[kind].title : PORTAIL_MSG_COUNT;
}

bool
portail_dialog_school_hint(enum portail_dialog_kind kind)
{
	return (unsigned)kind < PORTAIL_DIALOG_KINDS && kinds[kind].school_hint;
}

const char *
portail_dialog_step_name(enum portail_dialog_step step)
{
	return (unsigned)step < PORTAIL_STEP_COUNT ? step_names[step] : NULL;
}
