/* SPDX-License-Identifier: Apache-2.0 */
/* Why a program forwarded or dropped a packet: the index into routec_counters.
 * These codes are stable and equal `Reason` in compiler/src/layout.rs (a test
 * compares them). Forward reasons are 1..127, drop reasons 128..255. */
#ifndef ROUTEC_LIB_REASONS_H
#define ROUTEC_LIB_REASONS_H

#define FWD_LOCAL_DELIVERY 1
#define FWD_TUNNEL_ENCAP 2
#define FWD_TO_STACK 3
#define FWD_ARP_REPLY 4
#define FWD_OVERLAY_DELIVERY 5
#define FWD_HOST_DELIVERY 6
#define FWD_NDP_REPLY 7
#define FWD_NATIVE_FORWARD 8
#define FWD_NETDEV_DELIVERY 9

#define DROP_INVALID_PACKET 128
#define DROP_UNKNOWN_L3 129
#define DROP_UNKNOWN_SOURCE 130
#define DROP_TTL_EXCEEDED 131
#define DROP_NO_ROUTE 132
#define DROP_NO_TUNNEL_ENDPOINT 133
#define DROP_NO_ENDPOINT 134
#define DROP_ARP_UNSUPPORTED 135
#define DROP_WRONG_VNI 136
#define DROP_OVERLAY_PORT 137
#define DROP_UNKNOWN_TUNNEL_SOURCE 138
#define DROP_INNER_SOURCE_MISMATCH 139
#define DROP_FRAGMENT 140
#define DROP_IPV6_EXT_HEADERS 141
#define DROP_IPV6_LINK_LOCAL 142

#endif
