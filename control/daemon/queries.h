/* SPDX-License-Identifier: BSD-2-Clause */
/* Read-only requests of the control protocol, shared by zonewalld and by
 * zonectl --state DIR (private to control/). Each returns a complete
 * response object ({"ok":true,...} or an error response). */
#ifndef ZONEWALL_CONTROL_QUERIES_H
#define ZONEWALL_CONTROL_QUERIES_H

#include <jansson.h>

#include "journal.h"

/* Largest day count a request may carry (since_days, deleted_within_days,
 * older_than_days), as zonectl accepts: more is a malformed request
 * (status 2), never an overflow. */
#define ZW_Q_MAX_DAYS 100000

/* {"since_days":N, "flow":ID} -> {"count","entries":[content + "hash"]} */
json_t *zw_q__journal(struct zw_journal *j, const json_t *req);
/* {"anchors":[[seq,hash],...]} (optional: from a syslog copy) ->
 * {"intact","entries","archived","head_seq","head_hash","bad_seq",
 * "bad_version","checkpoint_seq","anchors_checked","problem"}: the chain,
 * its head against the checkpoint file and the anchors, and the stored
 * versions against the journal. */
json_t *zw_q__verify(struct zw_journal *j, const json_t *req);
/* -> {"active","versions":[...]} */
json_t *zw_q__versions(struct zw_journal *j);
/* {"deleted_within_days":N} -> {"rules":[...]} */
json_t *zw_q__rules(struct zw_journal *j, const json_t *req);

#endif
