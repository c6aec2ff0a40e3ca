/*
 * test_dialog.c — every path through the seed's screens (lib/dialog.c)
 * without a daemon: each test plays a parent's outcomes, one per step,
 * and checks the step each leads to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dialog.h"

struct move {
	enum portail_dialog_outcome outcome;
	enum portail_dialog_step then;
};

/* Plays moves from d's current step, checking each step reached. */
static void
play(struct portail_dialog *d, const struct move *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum portail_dialog_step from = d->step;
		enum portail_dialog_step got = portail_dialog_next(d, m[i].outcome);

		if (got != m[i].then || d->step != got)
			fail_msg("move %zu: from %s, outcome %d: %s, expected %s", i,
			    portail_dialog_step_name(from), (int)m[i].outcome,
			    portail_dialog_step_name(got), portail_dialog_step_name(m[i].then));
	}
}

#define PLAY(d, moves) play(d, moves, sizeof(moves) / sizeof(moves[0]))

static void
test_signup_straight(void **state)
{
	struct portail_dialog d;
	const struct move moves[] = {
		{ PORTAIL_OUTCOME_EMPTY, PORTAIL_STEP_ADDRESS },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SEND_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_PASSWORD },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SAVE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_DONE },
	};

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_ADDRESS);
	assert_int_equal(portail_dialog_prompt(&d), PORTAIL_MSG_DIALOG_ADDRESS_PROMPT);
	assert_int_equal(portail_dialog_title(PORTAIL_DIALOG_SIGNUP), PORTAIL_MSG_DIALOG_TITLE_SIGNUP);
	assert_true(portail_dialog_school_hint(PORTAIL_DIALOG_SIGNUP));
	assert_false(portail_dialog_school_hint(PORTAIL_DIALOG_RESET));
	PLAY(&d, moves);
}

static void
test_buttons_and_prompts(void **state)
{
	struct portail_dialog d;

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_SEND_CODE);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_DIALOG_SEND_CODE);
	assert_int_equal(portail_dialog_prompt(&d), PORTAIL_MSG_COUNT);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	/* sign-up has no Modifier le courriel */
	assert_int_equal(portail_dialog_prompt(&d), PORTAIL_MSG_DIALOG_CODE_PROMPT);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_COUNT);
	portail_dialog_next(&d, PORTAIL_OUTCOME_NEW_CODE);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_DIALOG_NEW_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_DIALOG_VERIFY);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_prompt(&d), PORTAIL_MSG_DIALOG_PASSWORD_PROMPT);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_DIALOG_SAVE);

	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, false, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_prompt(&d), PORTAIL_MSG_DIALOG_CODE_PROMPT_CHANGE);
	/* PAM: the address is PAM_USER, so no "c" */
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, true, PORTAIL_STEP_ADDRESS);
	assert_int_equal(d.step, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_prompt(&d), PORTAIL_MSG_DIALOG_CODE_PROMPT);
	/* link: Enregistrer first, as the seed's social screens */
	portail_dialog_start(&d, PORTAIL_DIALOG_LINK, false, PORTAIL_STEP_SEND_CODE);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_DIALOG_SAVE);
}

static void
test_new_code(void **state)
{
	struct portail_dialog d;
	const struct move moves[] = {
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_NEW_CODE, PORTAIL_STEP_NEW_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_NEW_CODE, PORTAIL_STEP_NEW_CODE },
		{ PORTAIL_OUTCOME_TOO_SOON, PORTAIL_STEP_CODE },        /* the last code still lives */
		{ PORTAIL_OUTCOME_NEW_CODE, PORTAIL_STEP_NEW_CODE },
		{ PORTAIL_OUTCOME_RATE_LIMITED, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_WRONG_CODE, PORTAIL_STEP_CODE },      /* the old code is dead */
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_PASSWORD },
	};

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_SEND_CODE);
	PLAY(&d, moves);
	assert_int_equal(portail_dialog_read_code(&d, "n"), PORTAIL_OUTCOME_NEW_CODE);
	assert_int_equal(portail_dialog_read_code(&d, "N"), PORTAIL_OUTCOME_NEW_CODE);
	/* a new code while the directory is down ends the dialog: an outage, not a refusal */
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, true, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	portail_dialog_next(&d, PORTAIL_OUTCOME_NEW_CODE);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_UNAVAILABLE), PORTAIL_STEP_FAILED);
	assert_int_equal(d.last, PORTAIL_OUTCOME_UNAVAILABLE);
}

static void
test_change_address(void **state)
{
	struct portail_dialog d;
	const struct move moves[] = {
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_CHANGE_ADDRESS, PORTAIL_STEP_ADDRESS },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SEND_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_PASSWORD },
	};

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, false, PORTAIL_STEP_SEND_CODE);
	assert_int_equal(portail_dialog_read_code(&d, "c"), PORTAIL_OUTCOME_CHANGE_ADDRESS);
	assert_int_equal(portail_dialog_read_code(&d, "C"), PORTAIL_OUTCOME_CHANGE_ADDRESS);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_CHANGE_ADDRESS), PORTAIL_STEP_ADDRESS);
	assert_int_equal(portail_dialog_button(&d), PORTAIL_MSG_DIALOG_CHANGE_ADDRESS);
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, false, PORTAIL_STEP_SEND_CODE);
	PLAY(&d, moves);

	/* sign-up and PAM: "c" is a code like any other, and the outcome is not allowed */
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_read_code(&d, "c"), PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_CHANGE_ADDRESS), PORTAIL_STEP_FAILED);
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, true, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_read_code(&d, "c"), PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_CHANGE_ADDRESS), PORTAIL_STEP_FAILED);
}

static void
test_cancel(void **state)
{
	static const enum portail_dialog_step asks[] = {
		PORTAIL_STEP_ADDRESS, PORTAIL_STEP_CODE, PORTAIL_STEP_PASSWORD,
	};
	struct portail_dialog d;

	(void)state;
	/* Annuler at every ask step, of every kind that has it */
	for (int k = 0; k < PORTAIL_DIALOG_KINDS; k++) {
		for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
			if (k == PORTAIL_DIALOG_LINK && asks[i] == PORTAIL_STEP_PASSWORD)
				continue;
			portail_dialog_start(&d, k, false, asks[i]);
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_CANCEL),
			    PORTAIL_STEP_CANCELLED);
		}
	}
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_CODE);
	assert_int_equal(portail_dialog_read_code(&d, NULL), PORTAIL_OUTCOME_CANCEL);
	/* a call step has no Annuler: the front end asks nothing there */
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_VERIFY);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_CANCEL), PORTAIL_STEP_FAILED);
}

static void
test_too_many_tries(void **state)
{
	struct portail_dialog d;

	(void)state;
	/* twelve answers at the code step, wrong codes and new codes alike */
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, true, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	for (int i = 1; i < PORTAIL_DIALOG_CODE_ANSWERS; i++) {
		if (i % 3 == 0) {
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_NEW_CODE),
			    PORTAIL_STEP_NEW_CODE);
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_OK), PORTAIL_STEP_CODE);
		} else {
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_EMPTY), PORTAIL_STEP_CODE);
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_OK), PORTAIL_STEP_VERIFY);
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_WRONG_CODE),
			    PORTAIL_STEP_CODE);
		}
		assert_int_equal(portail_dialog_notice(&d), PORTAIL_MSG_COUNT);
	}
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_NOT_A_CODE), PORTAIL_STEP_FAILED);
	assert_int_equal(d.last, PORTAIL_OUTCOME_REFUSED);
	assert_int_equal(portail_dialog_notice(&d), PORTAIL_MSG_DIALOG_CODE_TRIES);

	/* the twelfth answer right is still good */
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, true, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	for (int i = 1; i < PORTAIL_DIALOG_CODE_ANSWERS; i++) {
		assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_NOT_A_CODE), PORTAIL_STEP_CODE);
		assert_int_equal(portail_dialog_notice(&d), PORTAIL_MSG_DIALOG_NOT_A_CODE);
	}
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_OK), PORTAIL_STEP_VERIFY);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_OK), PORTAIL_STEP_PASSWORD);

	/* five passwords: weak, mismatched or not text */
	for (int i = 1; i < PORTAIL_DIALOG_PASSWORDS; i++) {
		if (i == 2) {
			assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_NOT_TEXT),
			    PORTAIL_STEP_PASSWORD);
			assert_int_equal(portail_dialog_notice(&d), PORTAIL_MSG_DIALOG_PASSWORD_NOT_TEXT);
			continue;
		}
		assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_OK), PORTAIL_STEP_SAVE);
		assert_int_equal(portail_dialog_next(&d, i % 2 ? PORTAIL_OUTCOME_WEAK_PASSWORD :
		    PORTAIL_OUTCOME_MISMATCH), PORTAIL_STEP_PASSWORD);
	}
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_OK), PORTAIL_STEP_SAVE);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_WEAK_PASSWORD), PORTAIL_STEP_FAILED);
	assert_int_equal(portail_dialog_notice(&d), PORTAIL_MSG_DIALOG_PASSWORD_TRIES);

	/* another address starts the code's count again */
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, false, PORTAIL_STEP_SEND_CODE);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	for (int i = 1; i < PORTAIL_DIALOG_CODE_ANSWERS; i++)
		portail_dialog_next(&d, PORTAIL_OUTCOME_NOT_A_CODE);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_CHANGE_ADDRESS), PORTAIL_STEP_ADDRESS);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_NOT_A_CODE), PORTAIL_STEP_CODE);
}

static void
test_expired(void **state)
{
	struct portail_dialog d;
	const struct move moves[] = {
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_EXPIRED_CODE, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_DEAD_CODE, PORTAIL_STEP_CODE },       /* too many tries of it */
		{ PORTAIL_OUTCOME_NEW_CODE, PORTAIL_STEP_NEW_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_INVALID, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_PASSWORD },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SAVE },
		{ PORTAIL_OUTCOME_UNAVAILABLE, PORTAIL_STEP_FAILED },
	};

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_RESET, false, PORTAIL_STEP_SEND_CODE);
	PLAY(&d, moves);
	/* the statuses portaild answers, as outcomes */
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_EXPIRED_CODE), PORTAIL_OUTCOME_EXPIRED_CODE);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_TOO_MANY_TRIES), PORTAIL_OUTCOME_DEAD_CODE);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_WRONG_CODE), PORTAIL_OUTCOME_WRONG_CODE);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_POLICY), PORTAIL_OUTCOME_WEAK_PASSWORD);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_MISMATCH), PORTAIL_OUTCOME_MISMATCH);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_BUSY), PORTAIL_OUTCOME_UNAVAILABLE);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_ERR_EXISTS), PORTAIL_OUTCOME_REFUSED);
	assert_int_equal(portail_dialog_outcome_of(PORTAIL_OK), PORTAIL_OUTCOME_OK);
}

static void
test_save_refused_ends(void **state)
{
	struct portail_dialog d;

	(void)state;
	/* the account exists already, or the ticket died: no other password would do */
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, true, PORTAIL_STEP_PASSWORD);
	portail_dialog_next(&d, PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_REFUSED), PORTAIL_STEP_FAILED);
	assert_int_equal(portail_dialog_notice(&d), PORTAIL_MSG_COUNT);
}

static void
test_link(void **state)
{
	struct portail_dialog d;
	const struct move at_once[] = {
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SEND_CODE },
		{ PORTAIL_OUTCOME_LINKED, PORTAIL_STEP_DONE },
	};
	const struct move by_code[] = {
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SEND_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_NEW_CODE, PORTAIL_STEP_NEW_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_CHANGE_ADDRESS, PORTAIL_STEP_ADDRESS },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SEND_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_WRONG_CODE, PORTAIL_STEP_CODE },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_VERIFY },
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_SAVE },      /* no password: social.finish */
		{ PORTAIL_OUTCOME_OK, PORTAIL_STEP_DONE },
	};

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_LINK, false, PORTAIL_STEP_ADDRESS);
	PLAY(&d, at_once);
	portail_dialog_start(&d, PORTAIL_DIALOG_LINK, false, PORTAIL_STEP_ADDRESS);
	PLAY(&d, by_code);
	portail_dialog_start(&d, PORTAIL_DIALOG_LINK, false, PORTAIL_STEP_SEND_CODE);
	assert_int_equal(portail_dialog_next(&d, PORTAIL_OUTCOME_REFUSED), PORTAIL_STEP_FAILED);
}

static void
test_read_code(void **state)
{
	struct portail_dialog d;
	char longer[PORTAIL_DIALOG_CODE_MAX + 2];

	(void)state;
	portail_dialog_start(&d, PORTAIL_DIALOG_SIGNUP, false, PORTAIL_STEP_CODE);
	assert_int_equal(portail_dialog_read_code(&d, "94005d"), PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_read_code(&d, "94005D"), PORTAIL_OUTCOME_OK);
	assert_int_equal(portail_dialog_read_code(&d, ""), PORTAIL_OUTCOME_EMPTY);
	assert_int_equal(portail_dialog_read_code(&d, "94\x01" "005"), PORTAIL_OUTCOME_NOT_A_CODE);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(portail_dialog_read_code(&d, longer), PORTAIL_OUTCOME_NOT_A_CODE);
	longer[PORTAIL_DIALOG_CODE_MAX] = '\0';
	assert_int_equal(portail_dialog_read_code(&d, longer), PORTAIL_OUTCOME_OK);
	assert_true(portail_dialog_yes("o"));
	assert_true(portail_dialog_yes("Oui"));
	assert_true(portail_dialog_yes("y"));
	assert_false(portail_dialog_yes("n"));
	assert_false(portail_dialog_yes(""));
	assert_false(portail_dialog_yes(NULL));
	for (int s = 0; s < PORTAIL_STEP_COUNT; s++)
		assert_non_null(portail_dialog_step_name(s));
	assert_null(portail_dialog_step_name(PORTAIL_STEP_COUNT));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signup_straight),
		cmocka_unit_test(test_buttons_and_prompts),
		cmocka_unit_test(test_new_code),
		cmocka_unit_test(test_change_address),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_too_many_tries),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_save_refused_ends),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_read_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
