/*
 * dialog.h — the steps of the seed's screens, described once for every
 * front end (the CLI's terminal, the PAM conversation, the web pages).
 *
 * A dialog is sign-up (*Inscrivez-vous maintenant*), reset (*Mot de passe
 * oublié?*) or the social link (the school address for a social account).
 * Each step either asks the parent something (an ask step: the address,
 * the code, the new password and its confirmation) or is a call to
 * portaild (a call step: send a code, verify it, save). The front end
 * renders the current step — its prompt, or the seed's button it stands
 * for — reads the answer or makes the call, and hands the outcome to
 * portail_dialog_next, which says what follows: which answers are
 * allowed, what *Obtenir un nouveau code*, *Modifier le courriel* and
 * *Annuler* lead to, how many tries each step has, and where a wrong
 * code, an expired code or a weak password sends the parent. The front
 * end never decides a transition itself.
 *
 * Depends on libc only (and the status and message enums): the PAM module
 * links it without the rest of the library.
 */
#ifndef PORTAIL_DIALOG_H
#define PORTAIL_DIALOG_H

#include <stdbool.h>

#include "messages.h"
#include "portail.h"

enum portail_dialog_kind {
	PORTAIL_DIALOG_SIGNUP,  /* code.request / code.verify (signup), account.create */
	PORTAIL_DIALOG_RESET,   /* code.request / code.verify (reset), password.reset */
	PORTAIL_DIALOG_LINK,    /* social.link, code.verify (link), social.finish */
	PORTAIL_DIALOG_KINDS
};

enum portail_dialog_step {
	PORTAIL_STEP_ADDRESS,   /* ask: the school address (Courriel) */
	PORTAIL_STEP_SEND_CODE, /* call: Obtenir un code de vérification (link: social.link) */
	PORTAIL_STEP_CODE,      /* ask: the code, or n (new code), or c (change the address) */
	PORTAIL_STEP_NEW_CODE,  /* call: Obtenir un nouveau code (the old one dies) */
	PORTAIL_STEP_VERIFY,    /* call: Vérifier le code; a ticket on success */
	PORTAIL_STEP_PASSWORD,  /* ask: Nouveau mot de passe, then Confirmation (not for link) */
	PORTAIL_STEP_SAVE,      /* call: Enregistrer (account.create, password.reset, social.finish) */
	PORTAIL_STEP_DONE,      /* the account exists, the password changed, the link made */
	PORTAIL_STEP_CANCELLED, /* Annuler: the parent left; nothing is left behind */
	PORTAIL_STEP_FAILED,    /* unavailable, refused, or out of tries */
	PORTAIL_STEP_COUNT
};

/* What came of a step: the answer read (ask steps) or the daemon's answer (call steps). */
enum portail_dialog_outcome {
	PORTAIL_OUTCOME_OK,             /* answered; or the call succeeded */
	PORTAIL_OUTCOME_LINKED,         /* link's social.link: linked at once, no code needed */
	PORTAIL_OUTCOME_EMPTY,          /* an empty answer: asked again, no try spent */
	PORTAIL_OUTCOME_NEW_CODE,       /* "n" at the code step */
	PORTAIL_OUTCOME_CHANGE_ADDRESS, /* "c" at the code step, where the address may change */
	PORTAIL_OUTCOME_NOT_A_CODE,     /* no code could be that (too long, not text): said so */
	PORTAIL_OUTCOME_NOT_TEXT,       /* no password could be that (too long, not text) */
	PORTAIL_OUTCOME_CANCEL,         /* end of input, Ctrl-C, the conversation closed */
	PORTAIL_OUTCOME_WRONG_CODE,
	PORTAIL_OUTCOME_EXPIRED_CODE,
	PORTAIL_OUTCOME_DEAD_CODE,      /* too many tries of this code: ask a new one */
	PORTAIL_OUTCOME_TOO_SOON,       /* a code was just sent */
	PORTAIL_OUTCOME_RATE_LIMITED,   /* too many codes today */
	PORTAIL_OUTCOME_INVALID,        /* portaild: a malformed address or code */
	PORTAIL_OUTCOME_WEAK_PASSWORD,  /* the policy refused the password */
	PORTAIL_OUTCOME_MISMATCH,       /* password and confirmation differ */
	PORTAIL_OUTCOME_REFUSED,        /* any other refusal */
	PORTAIL_OUTCOME_UNAVAILABLE,    /* daemon, directory, store or mail down; a fault */
	PORTAIL_OUTCOME_COUNT
};

/* The retry rules (DESIGN §1, §2): answers at the code step, passwords at the password step. */
#define PORTAIL_DIALOG_CODE_ANSWERS 12
#define PORTAIL_DIALOG_PASSWORDS 5
/* The longest answer that can be a code (PORTAIL_PROTO_CODE_MAX, doc/protocol.md). */
#define PORTAIL_DIALOG_CODE_MAX 64

/* A dialog in progress: the caller's, on its stack; holds no secret. */
struct portail_dialog {
	enum portail_dialog_kind kind;
	bool address_fixed;             /* PAM: PAM_USER, never changed (no "c") */
	enum portail_dialog_step step;
	enum portail_dialog_outcome last;       /* the outcome that led to step */
	unsigned code_answers;          /* answers given at the code step so far */
	unsigned passwords;             /* passwords tried at the save step so far */
	enum portail_msg notice;        /* portail_dialog_notice's answer */
};

/*
 * Starts a dialog of kind at step first: PORTAIL_STEP_ADDRESS when the
 * address is to be asked, PORTAIL_STEP_SEND_CODE when the front end has
 * it already, PORTAIL_STEP_PASSWORD for a password change whose proof is
 * not a code (PAM's chauthtok with the old password).
 */
void portail_dialog_start(struct portail_dialog *d, enum portail_dialog_kind kind,
    bool address_fixed, enum portail_dialog_step first);

/*
 * The step that follows d->step after outcome; d->step and the counters
 * are updated, and the new step returned. An outcome the step does not
 * allow (a bug in the front end) ends the dialog as PORTAIL_STEP_FAILED.
 * A step past its tries is PORTAIL_STEP_FAILED with d->last
 * PORTAIL_OUTCOME_REFUSED; portail_dialog_notice says so.
 */
enum portail_dialog_step portail_dialog_next(struct portail_dialog *d,
    enum portail_dialog_outcome outcome);

/* The outcome of a call step for portaild's status. */
enum portail_dialog_outcome portail_dialog_outcome_of(portail_status s);

/*
 * What an answer at the code step stands for: PORTAIL_OUTCOME_NEW_CODE
 * ("n" or "N"), PORTAIL_OUTCOME_CHANGE_ADDRESS ("c" or "C", where the
 * address may change), PORTAIL_OUTCOME_EMPTY, PORTAIL_OUTCOME_NOT_A_CODE
 * (longer than PORTAIL_DIALOG_CODE_MAX, or a control character), or
 * PORTAIL_OUTCOME_OK: a code to verify.
 */
enum portail_dialog_outcome portail_dialog_read_code(const struct portail_dialog *d,
    const char *answer);

/* True for an answer that means yes to an (o/n) question: o, O, y or Y first. */
bool portail_dialog_yes(const char *answer);

/*
 * The prompt of the current ask step (ends in ": "), the seed's button a
 * call step stands for, or PORTAIL_MSG_COUNT for none. The password step
 * has two prompts: portail_dialog_prompt gives the first,
 * PORTAIL_MSG_DIALOG_CONFIRMATION_PROMPT is the second.
 */
enum portail_msg portail_dialog_prompt(const struct portail_dialog *d);
enum portail_msg portail_dialog_button(const struct portail_dialog *d);

/*
 * What the front end says on entering the current step because of the
 * outcome that led there, when the daemon's own message does not say it
 * (a code that cannot be one, a step out of tries), or PORTAIL_MSG_COUNT.
 */
enum portail_msg portail_dialog_notice(const struct portail_dialog *d);

/* The dialog's title, and whether it reminds the parent to use the school's address. */
enum portail_msg portail_dialog_title(enum portail_dialog_kind kind);
bool portail_dialog_school_hint(enum portail_dialog_kind kind);

/* The step's name ("CODE"), for tests and logs. */
const char *portail_dialog_step_name(enum portail_dialog_step step);

#endif
