/*
 * flow-int.h — what flow.c lends the other files of the flows (oauth.c);
 * not a contract for anything outside lib/.
 */
#ifndef PORTAIL_FLOW_INT_H
#define PORTAIL_FLOW_INT_H

#include "flow.h"

/* The flow's dependencies (borrowed). */
const struct portail_flow_deps *pt_flow_deps(const portail_flow *f);

/*
 * An identity its provider gave us, into the social flow exactly as
 * social.begin enters it: SIGNED_IN when (provider, subject) is linked and
 * the access check passes (a token with label), else LINK with a link
 * ticket. out zeroed by the caller; on failure cleared but provider_us.
 */
portail_status pt_flow_social_enter(portail_flow *f, const struct portail_identity *id,
    const char *label, int64_t now, struct portail_social_result *out, portail_error *err);

#endif
