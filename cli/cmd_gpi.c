/*
 * cmd_gpi.c — portail gpi lookup EMAIL: the children and schools on record
 * for an address, asked of portaild's gpi.lookup (admin: root or a member
 * of [daemon] admin_group; the bind password stays the daemon's). The
 * --json output is the daemon's answer as doc/protocol.md gives it.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common.h"
#include "email.h"

/* Prints s padded to width columns (code points, not bytes: "école"). */
static void
print_col(const char *s, int width)
{
	int cols = 0;

	for (const char *c = s; *c; c++)
		if (((unsigned char)*c & 0xc0) != 0x80)
			cols++;
	printf("%s%*s", s, width > cols ? width - cols : 0, "");
}

/* A child's field, "?" when the record lacks it (null in the answer). */
static const char *
field(json_t *child, const char *name)
{
	const char *v = json_string_value(json_object_get(child, name));

	return v != NULL ? v : "?";
}

int
cmd_gpi(struct cli *cli, int argc, char **argv)
{
	portail_error err = { { 0 } };
	struct cli_session s;
	json_t *resp = NULL, *kids, *c;
	bool known;
	size_t i;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", MSG(CLI_GPI_HELP));
		return EX_DONE;
	}
	if (argc != 3 || strcmp(argv[1], "lookup") != 0) {
		fprintf(stderr, "%s", MSG(CLI_GPI_USAGE));
		return EX_USAGE;
	}
	/* portaild would refuse it too: said here without a round trip */
	if (portail_email_check(argv[2], &err) != PORTAIL_OK) {
		fprintf(stderr, "%s%s\n", MSG(CLI_GPI_INVALID_ADDRESS), err.message);
		return EX_USAGE;
	}
	if ((rc = cli_session_open(cli, &s)) != EX_DONE)
		return rc;
	rc = cli_call(&s, json_pack("{s:s, s:s}", "op", "gpi.lookup", "email", argv[2]), &resp);
	if (rc != EX_DONE)
		goto out;
	known = json_is_true(json_object_get(resp, "known"));
	rc = known ? EX_DONE : EX_REFUSED;
	if (cli->json) {
		cli_print_json(json_incref(resp));
		goto out;
	}
	kids = json_object_get(resp, "children");
	if (json_array_size(kids) == 0) {
		printf("%s: %s\n", argv[2], MSG(CLI_GPI_NOT_ON_RECORD));
		goto out;
	}
	printf("%s: %s\n", argv[2], known ? MSG(CLI_GPI_KNOWN) : MSG(CLI_GPI_NOT_SUBSCRIBED));
	printf("  ");
	print_col(MSG(CLI_GPI_COL_STUDENT), 12);
	print_col(MSG(CLI_GPI_COL_SCHOOL), 9);
	print_col(MSG(CLI_GPI_COL_SUBSCRIBED), 11);
	printf("%s\n", MSG(CLI_GPI_COL_NAME));
	json_array_foreach(kids, i, c) {
		printf("  ");
		print_col(field(c, "student_id"), 12);
		print_col(field(c, "school"), 9);
		print_col(json_is_true(json_object_get(c, "subscribed")) ? MSG(CLI_YES) :
		    MSG(CLI_NO), 11);
		printf("%s\n", field(c, "name"));
	}
out:
	json_decref(resp);
	cli_session_close(&s);
	return rc;
}
