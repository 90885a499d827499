#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# A stand-in collector for the telemetry tests (no root, no capture):
#   collector.py udp PORT OUT.pcap   every datagram into a pcap (raw IPv4
#                                    + UDP headers) that tshark decodes
#   collector.py tcp PORT OUT.bin    accept, append every byte received
# Runs until killed.
import socket, struct, sys, time

mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lo = socket.inet_aton("127.0.0.1")
if mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    f = open(out, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    f.flush()
    while True:
        d, a = s.recvfrom(65535)
        udp = struct.pack("!HHHH", a[1], port, 8 + len(d), 0) + d
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0,
                         64, 17, 0, lo, lo)
        c = sum(struct.unpack("!10H", ip))
        c = (c & 0xFFFF) + (c >> 16)
        c = (c & 0xFFFF) + (c >> 16)
        ip = ip[:10] + struct.pack("!H", ~c & 0xFFFF) + ip[12:]
        t = time.time()
        pkt = ip + udp
        f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(pkt),
                            len(pkt)) + pkt)
        f.flush()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4)
    f = open(out, "ab")
    while True:
        c, _ = s.accept()
        while True:
            d = c.recv(65536)
            if not d:
                break
            f.write(d)
            f.flush()
        c.close()
