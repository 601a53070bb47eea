# Sends hand-built IPv6 frames for runtime/tests/lab_ipv6.rs. Run inside a
# pod's namespace (nsenter --net=...):
#
#   forge6.py udp DEV DST_MAC SRC DST PORT PAYLOAD [--ext N] [--fragment]
#       an Ethernet frame through an AF_PACKET socket on DEV (to DST_MAC,
#       from DEV's own MAC) holding IPv6 SRC -> DST, N destination-options
#       extension headers (padding only), optionally a fragment header (the
#       first fragment of a datagram), then UDP to PORT with PAYLOAD.
#
#   forge6.py ns DEV SRC TARGET
#       a neighbour solicitation from SRC for TARGET to TARGET's
#       solicited-node multicast address, without options: 78 bytes.
import socket
import struct
import sys

ETH_P_IPV6 = 0x86DD
NEXT_UDP = 17
NEXT_FRAGMENT = 44
NEXT_DEST_OPTS = 60
NEXT_ICMPV6 = 58
NEIGHBOUR_SOLICITATION = 135


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp6(src, dst, port, payload):
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!IxxxB", length, NEXT_UDP)
    udp = struct.pack("!HHHH", 40000, port, length, 0) + payload
    return udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]


def send(dev, dst_mac, packet):
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((dev, 0))
        # The device's MAC from the socket: nsenter --net keeps the caller's /sys.
        own_mac = sock.getsockname()[4]
        sock.send(dst_mac + own_mac + struct.pack("!H", ETH_P_IPV6) + packet)


def solicitation(dev, src, target):
    src6 = socket.inet_pton(socket.AF_INET6, src)
    target6 = socket.inet_pton(socket.AF_INET6, target)
    dst6 = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:0")[:13] + target6[13:]
    icmp = struct.pack("!BBH4x16s", NEIGHBOUR_SOLICITATION, 0, 0, target6)
    pseudo = src6 + dst6 + struct.pack("!IxxxB", len(icmp), NEXT_ICMPV6)
    icmp = icmp[:2] + struct.pack("!H", checksum(pseudo + icmp)) + icmp[4:]
    header = struct.pack("!IHBB16s16s", 6 << 28, len(icmp), NEXT_ICMPV6, 255, src6, dst6)
    send(dev, b"\x33\x33" + dst6[12:], header + icmp)


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def main(argv):
    ext = 0
    if "--ext" in argv:
        i = argv.index("--ext")
        ext = int(argv[i + 1])
        del argv[i:i + 2]
    fragment = "--fragment" in argv
    if fragment:
        argv.remove("--fragment")
    if argv[0] == "ns":
        solicitation(*argv[1:])
        return
    mode, dev, dst_mac, src, dst, port, payload = argv
    if mode != "udp":
        sys.exit("unknown mode %s" % mode)
    src6 = socket.inet_pton(socket.AF_INET6, src)
    dst6 = socket.inet_pton(socket.AF_INET6, dst)
    body = udp6(src6, dst6, int(port), payload.encode())
    # Headers from the innermost out: each names the one after it.
    nexthdr = NEXT_UDP
    if fragment:
        # Offset 0 with "more fragments": the first of two.
        body = struct.pack("!BBHI", nexthdr, 0, 1, 0x1234) + body
        nexthdr = NEXT_FRAGMENT
    for _ in range(ext):
        # 8 bytes: next header, length 0, one PadN option of 4 zero bytes.
        body = struct.pack("!BBBB4x", nexthdr, 0, 1, 4) + body
        nexthdr = NEXT_DEST_OPTS
    header = struct.pack("!IHBB16s16s", 6 << 28, len(body), nexthdr, 64, src6, dst6)
    send(dev, mac(dst_mac), header + body)


main(sys.argv[1:])
