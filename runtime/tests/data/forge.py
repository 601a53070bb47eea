# Sends hand-built packets for runtime/tests/lab_security.rs. Run inside a lab
# namespace (nsenter --net=...):
#
#   forge.py vxlan DST INNER_SRC INNER_DST PORT PAYLOAD [--tci N] [--as-nobody]
#                  [--vni N] [--no-udp-checksum]
#       a VXLAN packet (VNI 0, or N) to DST:8472 through a plain UDP socket,
#       its inner frame an IPv4/UDP datagram INNER_SRC -> INNER_DST:PORT; with
#       --no-udp-checksum its outer UDP checksum is zero (SO_NO_CHECK), as
#       routec's own encapsulation sends it, so the receiving node's device
#       decapsulates it rather than its VXLAN socket;
#   forge.py raw DEV DST_MAC SRC INNER_DST PORT PAYLOAD [--tci N]
#       an Ethernet frame through an AF_PACKET socket on DEV (to DST_MAC,
#       from DEV's own MAC), optionally 802.1Q-tagged with TCI N.
#
# --as-nobody drops to uid/gid 65534 before the socket exists, as an
# unprivileged process in a pod would be.
import os
import socket
import struct
import sys

ETH_P_IP = 0x0800
ETH_P_8021Q = 0x8100
VXLAN_PORT = 8472
SO_NO_CHECK = 11  # <asm-generic/socket.h>


def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(src, dst, port, payload):
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + udp


def ethernet(dst_mac, src_mac, tci, body):
    tag = b"" if tci is None else struct.pack("!HH", ETH_P_8021Q, tci)
    return dst_mac + src_mac + tag + struct.pack("!H", ETH_P_IP) + body


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def main(argv):
    def option(name):
        if name not in argv:
            return None
        i = argv.index(name)
        value = int(argv[i + 1])
        del argv[i:i + 2]
        return value

    def flag(name):
        present = name in argv
        if present:
            argv.remove(name)
        return present

    tci = option("--tci")
    vni = option("--vni") or 0
    no_udp_checksum = flag("--no-udp-checksum")
    if flag("--as-nobody"):
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    mode = argv[0]
    if mode == "vxlan":
        dst, inner_src, inner_dst, port, payload = argv[1:6]
        inner = ethernet(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"), tci,
                         ipv4_udp(inner_src, inner_dst, int(port), payload.encode()))
        vxlan = struct.pack("!II", 0x08000000, vni << 8)  # flags: VNI valid
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            if no_udp_checksum:
                sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
            sock.sendto(vxlan + inner, (dst, VXLAN_PORT))
    elif mode == "raw":
        dev, dst_mac, src, inner_dst, port, payload = argv[1:7]
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((dev, 0))
            # The device's MAC from the socket, not /sys: nsenter --net keeps
            # the caller's /sys, which shows another namespace's devices.
            own_mac = sock.getsockname()[4]
            sock.send(ethernet(mac(dst_mac), own_mac, tci, ipv4_udp(src, inner_dst, int(port), payload.encode())))
    else:
        sys.exit("unknown mode %s" % mode)


main(sys.argv[1:])
