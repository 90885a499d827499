#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Test agent run inside one lab host namespace (ip netns exec NS agent.py).

Reads one JSON command per line on stdin, answers one JSON line on stdout:
  {"op": "listen", "tcp": [..], "udp": [..], "raw": [protos]}
      echo servers on every address (IPv4 and IPv6)
  {"op": "probe", "timeout": s, "probes": [{"id", "kind", "dst", "port", "l7"}]}
      kind tcp|udp|icmp|raw; all at once; result per id: ok|timeout|refused|error
      (ok = the request reached the server AND its answer came back)
  {"op": "hold", "id", "dst", "port", "l7"} / {"op": "ping_held", "id", "timeout"}

A TCP connection to a service with `inspect:` (docs/l7.md) must start
with that protocol in both directions or the engine cuts it: "l7" (ssh,
tls or http; absent: by port, L7_PORTS) makes the client open with that
protocol's first message carrying the probe's tag; the TCP server knows
the protocol from those bytes (whatever the port) and answers with the
protocol's reply carrying the tag back; then both echo lines as before.
  {"op": "craft", "flags": "A"|"S"|"SA", "dst", "port", "timeout"}
      one hand-made TCP segment (scapy); answered|silent
  {"op": "craft6", "dst", "port", "packets": [{"kind", "marker"}]}
      one IPv6 TCP SYN per packet, carrying MARKER, with
      extension headers of KIND (see EXT6); {"sent": n}
  {"op": "sniff_start", "markers": [hex]} / {"op": "sniff_stop"}
      watch every frame arriving at this host from now on; stop: the
      markers seen in them, {"seen": [..]}
  {"op": "quit"}
"""
import asyncio
import json
import os
import socket
import struct
import sys

held = {}

# The ports of the `inspect:` services of the built-in catalogue
# (matrix/catalogue.c) and of the examples, for callers that do not say.
L7_PORTS = {22: "ssh", 830: "ssh", 80: "http", 443: "tls", 465: "tls", 636: "tls",
            993: "tls", 5986: "tls", 6514: "tls", 8006: "tls"}


def l7_of(p):
    return p["l7"] if "l7" in p else L7_PORTS.get(p.get("port"))


def tls_hello(hs_type, tag):
    """A TLS 1.2 record with a ClientHello (1) or ServerHello (2) whose
    random carries @tag (at most 32 bytes)."""
    rnd = tag[:32].ljust(32, b".")
    if hs_type == 1:  # no session id, one cipher suite, null compression
        body = b"\x03\x03" + rnd + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00"
    else:
        body = b"\x03\x03" + rnd + b"\x00" + b"\x13\x01" + b"\x00" + b"\x00\x00"
    hs = bytes([hs_type]) + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


async def read_http_head(reader):
    """The lines up to the blank one (request or response head)."""
    lines = []
    while True:
        line = await reader.readline()
        if not line or line in (b"\r\n", b"\n"):
            return lines
        lines.append(line)


async def l7_open(r, w, proto, tag, timeout):
    """Client side: open with @proto's first message carrying @tag; True
    when the server's reply carries it back."""
    if proto == "ssh":
        line = b"SSH-2.0-zwlab_" + tag.strip().replace(b" ", b"_") + b"\r\n"
        w.write(line)
        return await asyncio.wait_for(r.readline(), timeout) == line
    if proto == "http":
        w.write(b"GET /" + tag.strip().replace(b" ", b"_") + b" HTTP/1.1\r\n"
                b"Host: lab\r\n\r\n")
        head = await asyncio.wait_for(read_http_head(r), timeout)
        n = next((int(h.split(b":")[1]) for h in head
                  if h.lower().startswith(b"content-length:")), 0)
        body = await asyncio.wait_for(r.readexactly(n), timeout)
        return bool(head) and head[0].startswith(b"HTTP/1.1 200 ") and body == tag
    if proto == "tls":
        w.write(tls_hello(1, tag))
        hdr = await asyncio.wait_for(r.readexactly(5), timeout)
        rec = await asyncio.wait_for(r.readexactly(int.from_bytes(hdr[3:5], "big")), timeout)
        return hdr[0] == 0x16 and rec[0] == 2 and rec[6:38] == tls_hello(2, tag)[11:43]
    raise ValueError(f"no client for inspect: {proto}")


async def l7_answer(reader, writer, first):
    """Server side: @first is the first byte the client sent. Answers an
    HTTP request or a TLS ClientHello in kind; an SSH banner (or anything
    else) is a line, echoed as before (an SSH banner is one both ways).
    Returns the line to echo, if any."""
    if first == b"\x16":
        hdr = first + await reader.readexactly(4)
        rec = await reader.readexactly(int.from_bytes(hdr[3:5], "big"))
        writer.write(tls_hello(2, rec[6:38]))
        return None
    line = first + await reader.readline()
    if line.split(b" ")[0] in (b"GET", b"HEAD", b"POST") and b" HTTP/1." in line:
        await read_http_head(reader)
        body = line.split(b" ")[1].lstrip(b"/").replace(b"_", b" ") + b"\n"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        return None
    return line


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)


async def tcp_echo(reader, writer):
    try:
        first = await reader.read(1)
        if not first:
            return
        line = await l7_answer(reader, writer, first)
        if line:
            writer.write(line)
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


def raw_echo(fam, proto):
    """Answer every packet of protocol @proto with 'R' + its payload."""
    s = socket.socket(fam, socket.SOCK_RAW, proto)
    s.setblocking(False)
    loop = asyncio.get_running_loop()

    def readable():
        try:
            data, addr = s.recvfrom(65535)
        except OSError:
            return
        if fam == socket.AF_INET:
            data = data[(data[0] & 15) * 4:]
        if data.startswith(b"P"):
            try:
                s.sendto(b"R" + data, addr)
            except OSError:
                pass
    loop.add_reader(s.fileno(), readable)
    return s


async def listen(cmd):
    failed = []
    keep = []
    for p in cmd.get("tcp", []):
        try:
            srv = await asyncio.start_server(tcp_echo, host=None, port=p, reuse_address=True)
            keep.append(srv)
        except OSError as e:
            failed.append(f"tcp/{p}: {e}")
    loop = asyncio.get_running_loop()
    for p in cmd.get("udp", []):
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", p))
            t, _ = await loop.create_datagram_endpoint(UdpEcho, sock=s)
            keep.append(t)
        except OSError as e:
            failed.append(f"udp/{p}: {e}")
    for proto in cmd.get("raw", []):
        for fam in (socket.AF_INET, socket.AF_INET6):
            try:
                keep.append(raw_echo(fam, proto))
            except OSError as e:
                failed.append(f"raw/{proto}: {e}")
    listen.keep = getattr(listen, "keep", []) + keep
    return {"ok": not failed, "failed": failed}


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


async def probe_tcp(p, timeout):
    tag = f"ping {p['id']}\n".encode()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(p["dst"], p["port"]), timeout)
    except asyncio.TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"error {e.strerror}"
    try:
        proto = l7_of(p)
        if proto:
            return "ok" if await l7_open(r, w, proto, tag, timeout) else "error bad answer"
        w.write(tag)
        line = await asyncio.wait_for(r.readline(), timeout)
        return "ok" if line == tag else "error bad echo"
    except asyncio.IncompleteReadError:
        return "error closed"
    except asyncio.TimeoutError:
        return "timeout"
    except OSError as e:
        return f"error {e.strerror}"
    finally:
        w.close()


async def datagram_probe(sock, send, match, timeout):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def readable():
        try:
            data, addr = sock.recvfrom(65535)
        except OSError:
            return
        if match(data) and not fut.done():
            fut.set_result("ok")
    loop.add_reader(sock.fileno(), readable)
    try:
        send()
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        return "timeout"
    except OSError as e:
        return f"error {e.strerror}"
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()


async def probe_udp(p, timeout):
    tag = f"ping {p['id']}".encode()
    s = socket.socket(family(p["dst"]), socket.SOCK_DGRAM)
    s.setblocking(False)
    return await datagram_probe(s, lambda: s.sendto(tag, (p["dst"], p["port"])),
                                lambda d: d == tag, timeout)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


async def probe_udp_closed(p, timeout):
    """A datagram to a port nobody listens on: the destination answers
    with an ICMP port unreachable, which must come back (an ICMP error
    about an allowed exchange) as ECONNREFUSED on the connected socket."""
    s = socket.socket(family(p["dst"]), socket.SOCK_DGRAM)
    s.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        s.connect((p["dst"], p["port"]))
        s.send(b"anybody there?")
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                s.recv(100)
                return "error answered"
            except BlockingIOError:
                await asyncio.sleep(0.02)
            except ConnectionRefusedError:
                return "refused"
        return "timeout"
    except OSError as e:
        return f"error {e.strerror}"
    finally:
        s.close()


async def probe_icmp(p, timeout):
    v6 = ":" in p["dst"]
    ident = (int(p["id"]) * 7 + 1) & 0xffff
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.setblocking(False)
    payload = f"zonewall {p['id']}".encode()
    typ = 128 if v6 else 8
    hdr = struct.pack("!BBHHH", typ, 0, 0, ident, 1)
    pkt = hdr + payload
    if not v6:  # the kernel computes ICMPv6 checksums itself
        pkt = struct.pack("!BBHHH", typ, 0, csum(pkt), ident, 1) + payload

    def match(d):
        if not v6:
            d = d[(d[0] & 15) * 4:]
        return len(d) >= 8 and d[0] == (129 if v6 else 0) and \
            struct.unpack("!H", d[4:6])[0] == ident and d[8:] == payload
    return await datagram_probe(s, lambda: s.sendto(pkt, (p["dst"], 0)), match, timeout)


async def probe_raw(p, timeout):
    fam = family(p["dst"])
    s = socket.socket(fam, socket.SOCK_RAW, p["port"])
    s.setblocking(False)
    tag = f"P{p['id']}".encode()

    def match(d):
        if fam == socket.AF_INET:
            d = d[(d[0] & 15) * 4:]
        return d == b"R" + tag
    return await datagram_probe(s, lambda: s.sendto(tag, (p["dst"], 0)), match, timeout)


async def probe(cmd):
    timeout = cmd.get("timeout", 1.5)
    kinds = {"tcp": probe_tcp, "udp": probe_udp, "icmp": probe_icmp, "raw": probe_raw,
             "udp_closed": probe_udp_closed}
    sem = asyncio.Semaphore(400)

    async def one(p):
        async with sem:
            return await kinds[p["kind"]](p, timeout)
    res = await asyncio.gather(*(one(p) for p in cmd["probes"]))
    return {"results": {str(p["id"]): r for p, r in zip(cmd["probes"], res)}}


async def hold(cmd):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(cmd["dst"], cmd["port"]),
                                      cmd.get("timeout", 2))
    except (asyncio.TimeoutError, OSError) as e:
        return {"ok": False, "error": str(e) or "timeout"}
    proto = l7_of(cmd)
    if proto:
        try:
            if not await l7_open(r, w, proto, f"open {cmd['id']}\n".encode(),
                                 cmd.get("timeout", 2)):
                return {"ok": False, "error": f"bad {proto} answer"}
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError) as e:
            return {"ok": False, "error": str(e) or "timeout"}
    held[str(cmd["id"])] = (r, w)
    return await ping_held({"id": cmd["id"], "timeout": cmd.get("timeout", 2)})


async def ping_held(cmd):
    c = held.get(str(cmd["id"]))
    if not c:
        return {"ok": False, "error": "no such connection"}
    r, w = c
    tag = f"held {cmd['id']} {os.urandom(4).hex()}\n".encode()
    try:
        w.write(tag)
        line = await asyncio.wait_for(r.readline(), cmd.get("timeout", 2))
        return {"ok": line == tag, "error": "" if line == tag else "closed"}
    except (asyncio.TimeoutError, OSError) as e:
        return {"ok": False, "error": str(e) or "timeout"}


def craft(cmd):
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import IP, IPv6, TCP, conf, sr1
    conf.verb = 0
    l3 = IPv6(dst=cmd["dst"]) if ":" in cmd["dst"] else IP(dst=cmd["dst"])
    sport = cmd.get("sport", 40000 + os.getpid() % 20000)
    pkt = l3 / TCP(sport=sport, dport=cmd["port"], flags=cmd["flags"], seq=12345, ack=67890)
    ans = sr1(pkt, timeout=cmd.get("timeout", 1.5))
    if ans is None:
        return {"answer": "silent"}
    return {"answer": "answered", "flags": str(ans[TCP].flags) if TCP in ans else "?"}


# IPv6 extension chains for craft6: benign ones (the packet passes when its
# TCP SYN would) and ones every engine must drop whatever they carry.
EXT6 = ("plain", "dstopt", "hbh", "ah", "rh0", "hbh_late", "long")


def craft6(cmd):
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import (AH, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop,
                           IPv6ExtHdrRouting, TCP, Raw, conf, send)
    conf.verb = 0
    pkts = []
    for i, x in enumerate(cmd["packets"]):
        kind = x["kind"]
        if kind not in EXT6:
            return {"error": f"unknown kind {kind}"}
        # one connection per packet: none is another's reply
        sport = 30000 + (os.getpid() * 61 + i) % 30000
        # the TCP segment with its checksum over the plain IPv6 packet
        # (the same behind any chain: it covers addresses, not headers)
        plain = IPv6(dst=cmd["dst"]) / TCP(sport=sport, dport=cmd["port"], flags="S",
                                            seq=4242) / Raw(bytes.fromhex(x["marker"]))
        plain = IPv6(bytes(plain))
        seg = TCP(bytes(plain[TCP]))
        pkt = IPv6(src=plain.src, dst=cmd["dst"])
        for h in {
            "plain": [],
            "dstopt": [IPv6ExtHdrDestOpt()],
            "hbh": [IPv6ExtHdrHopByHop()],
            "ah": [AH(nh=6, payloadlen=4, spi=0x5a5a, seq=1, icv=b"\0" * 12)],
            "rh0": [IPv6ExtHdrRouting(type=0, addresses=[], segleft=0)],
            "hbh_late": [IPv6ExtHdrDestOpt(), IPv6ExtHdrHopByHop()],
            "long": [IPv6ExtHdrDestOpt() for _ in range(9)],
        }[kind]:
            pkt = pkt / h
        pkts.append(pkt / seg)
    send(pkts)
    return {"sent": len(pkts)}


sniffing = {}


def sniff_start(cmd):
    import threading
    markers = {bytes.fromhex(m): m for m in cmd["markers"]}
    seen = set()
    stop = threading.Event()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.settimeout(0.1)

    def watch():
        while not stop.is_set():
            try:
                frame = s.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            seen.update(m for b, m in markers.items() if b in frame)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    sniffing["now"] = (s, stop, t, seen)
    return {"ok": True}


def sniff_stop(cmd):
    if "now" not in sniffing:
        return {"error": "not sniffing"}
    s, stop, t, seen = sniffing.pop("now")
    stop.set()
    t.join()
    s.close()
    return {"seen": sorted(seen)}


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    ops = {"listen": listen, "probe": probe, "hold": hold, "ping_held": ping_held}
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "quit":
            break
        try:
            if op in ("craft", "craft6"):
                res = await loop.run_in_executor(
                    None, {"craft": craft, "craft6": craft6}[op], cmd)
            elif op in ("sniff_start", "sniff_stop"):
                res = {"sniff_start": sniff_start, "sniff_stop": sniff_stop}[op](cmd)
            elif op in ops:
                res = await ops[op](cmd)
            else:
                res = {"error": f"unknown op {op}"}
        except Exception as e:  # report, never die silently
            res = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the demo
        sys.exit(130)
