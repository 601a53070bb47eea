/* SPDX-License-Identifier: Apache-2.0 */
/* Includes and small definitions every routec program shares. */
#ifndef ROUTEC_LIB_COMMON_H
#define ROUTEC_LIB_COMMON_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* From <linux/socket.h>, which needs libc headers the BPF target lacks. */
#define AF_INET 2
#define AF_INET6 10

/* The IPv4 address a.b.c.d in network order, usable in constant initialisers. */
#define IPV4(a, b, c, d) \
	((__be32)bpf_htonl(((__u32)(a) << 24) | ((__u32)(b) << 16) | ((__u32)(c) << 8) | (__u32)(d)))

#endif
