/* SPDX-License-Identifier: Apache-2.0 */
/* Every decision bumps exactly one routec_counters slot: these helpers count
 * and return the tc verdict in one step, so no path can forget to count. */
#ifndef ROUTEC_LIB_COUNTERS_H
#define ROUTEC_LIB_COUNTERS_H

#include "lib/maps.h"
#include "lib/reasons.h"

static __always_inline void count(const struct __sk_buff *skb, __u32 reason)
{
	/* Per-CPU slots: tc programs run with migration disabled, so plain
	 * increments are exact. */
	struct counter *slot = bpf_map_lookup_elem(&routec_counters, &reason);

	if (slot) {
		slot->packets += 1;
		slot->bytes += skb->len;
	}
}

static __always_inline int drop(const struct __sk_buff *skb, __u32 reason)
{
	count(skb, reason);
	return TC_ACT_SHOT;
}

/* Counts a forward decision and returns the verdict the caller computed. */
static __always_inline int forward(const struct __sk_buff *skb, __u32 reason, int verdict)
{
	count(skb, reason);
	return verdict;
}

#endif
