/* SPDX-License-Identifier: Apache-2.0 */
/* Per-node values as load-time constants: the loader sets them by name in
 * .rodata before loading (aya `EbpfLoader::set_global`), so one object serves
 * every node. The node's node_config.h lists the same values as ROUTEC_<NAME>
 * defines; building with `-include node_config.h` bakes them in instead. */
#ifndef ROUTEC_LIB_CONFIG_H
#define ROUTEC_LIB_CONFIG_H

#include "lib/common.h"

#ifndef ROUTEC_NODE_IPV4
#define ROUTEC_NODE_IPV4 0
#endif
#ifndef ROUTEC_ROUTER_IPV4
#define ROUTEC_ROUTER_IPV4 0
#endif
#ifndef ROUTEC_ROUTER_IPV6
#define ROUTEC_ROUTER_IPV6 { 0, 0, 0, 0 }
#endif
#ifndef ROUTEC_OVERLAY_IFINDEX
#define ROUTEC_OVERLAY_IFINDEX 0
#endif
#ifndef ROUTEC_OVERLAY_PORT
#define ROUTEC_OVERLAY_PORT 0
#endif
#ifndef ROUTEC_VNI
#define ROUTEC_VNI 0
#endif
#ifndef ROUTEC_POD_MTU
#define ROUTEC_POD_MTU 0
#endif
#ifndef ROUTEC_DEVICE_IFINDEX
#define ROUTEC_DEVICE_IFINDEX 0
#endif
#ifndef ROUTEC_NATIVE_ROUTING
#define ROUTEC_NATIVE_ROUTING 0
#endif

/* The node's underlay address, network order. */
const volatile __be32 NODE_IPV4 = ROUTEC_NODE_IPV4;
/* The pods' gateway address (on cilium_host), network order. */
const volatile __be32 ROUTER_IPV4 = ROUTEC_ROUTER_IPV4;
/* The pods' IPv6 gateway (on cilium_host), network order; all zero on a
 * node without an IPv6 pod-cidr, which then answers no neighbour
 * solicitation. */
const volatile __be32 ROUTER_IPV6[4] = ROUTEC_ROUTER_IPV6;
/* ifindex of cilium_vxlan in the node's network namespace. */
const volatile __u32 OVERLAY_IFINDEX = ROUTEC_OVERLAY_IFINDEX;
/* UDP port of the overlay (the device's dstport; kept for inspection). */
const volatile __u16 OVERLAY_PORT = ROUTEC_OVERLAY_PORT;
/* Tunnel id put on the wire and required on receive. */
const volatile __u32 VNI = ROUTEC_VNI;
/* MTU of the pods' interfaces (kept for inspection). */
const volatile __u32 POD_MTU = ROUTEC_POD_MTU;
/* ifindex of the node's underlay device (its `device`) in its namespace. */
const volatile __u32 DEVICE_IFINDEX = ROUTEC_DEVICE_IFINDEX;
/* 1 under native routing (`overlay none`): pods on other nodes are reached
 * through DEVICE_IFINDEX with their node as next hop, not through the
 * overlay. A constant, so the verifier prunes the mode a node does not use. */
const volatile __u32 NATIVE_ROUTING = ROUTEC_NATIVE_ROUTING;

#endif
