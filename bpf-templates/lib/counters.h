/* SPDX-License-Identifier: Apache-2.0 */
/* Every decision bumps exactly one routec_counters slot: these helpers count
 * and return the tc verdict in one step, so no path can forget to count. */
#ifndef ROUTEC_LIB_COUNTERS_H
#define ROUTEC_LIB_COUNTERS_H

#include "lib/maps.h"
#include "lib/reasons.h"

/* Counts one packet of `len` bytes, its length at the hook. */
static __always_inline void count_len(__u32 reason, __u32 len)
{
	/* Per-CPU slots: tc programs run with migration disabled, so plain
	 * increments are exact. */
	struct counter *slot = bpf_map_lookup_elem(&routec_counters, &reason);

	if (slot) {
		slot->packets += 1;
		slot->bytes += len;
	}
}

static __always_inline void count(const struct __sk_buff *skb, __u32 reason)
{
	count_len(reason, skb->len);
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

/* forward() for a packet the program resized: `len` is skb->len as it was
 * at the hook, which the counters report. */
static __always_inline int forward_resized(__u32 len, __u32 reason, int verdict)
{
	count_len(reason, len);
	return verdict;
}

#endif
