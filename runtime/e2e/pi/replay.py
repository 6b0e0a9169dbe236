#!/usr/bin/env python3
"""A Raspberry Pi 4 / 5 EEPROM bootloader's network boot, replayed packet by packet.

Run inside a network namespace on the test LAN (pi-boot.sh). For one board it does what
the Raspberry Pi documentation and nobodd's notes describe the bootloader doing:

1. DHCP: a DISCOVER from the board's MAC with vendor class
   PXEClient:Arch:00000:UNDI:002001 (option 93 = 0), broadcast; it takes the router's
   OFFER (its address) and needs, from the router or a proxyDHCP server, option 43 naming
   "Raspberry Pi Boot" and the TFTP server (option 66, else the server identifier). It
   REQUESTs the router's address and takes it (ip addr add).
2. TFTP from that server, under <serial>/: config.txt; on a Pi 4 start4.elf, fixup4.dat
   and config.txt again; the model's device tree; each overlay config.txt names;
   cmdline.txt; the kernel (kernel=) and initramfs (initramfs ...). Every request first
   asks tsize=0 and blksize, and aborts on the OACK (the bootloader sizes its buffer
   first), then asks again and takes the file.

Every file's bytes are compared with the bundle's object for route tftp/<serial>/<file>
(manifest.json of the bundle directory). Each check prints "PASS ..." or "FAIL ...";
the exit status is 1 if anything failed. A PC's BIOS PXE ROM sending the same vendor
class (--pc-mac) must get no "Raspberry Pi Boot" from anyone.

Usage: replay.py --bundle OUT --model pi4|pi5 --mac MAC --serial HEX --router IP
                 --tftp IP --iface eth0 --save DIR [--pc-mac MAC] [--unknown-serial HEX]
"""
import argparse
import hashlib
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time

VENDOR_CLASS = b"PXEClient:Arch:00000:UNDI:002001"
MENU_ENTRY = b"Raspberry Pi Boot"
MAGIC = bytes([99, 130, 83, 99])
WAIT = 20.0  # seconds for any one answer: a deadline, not a pause
BLKSIZE = 1024
FAILED = []


def check(ok, what):
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)
    return ok


# ---------------------------------------------------------------- DHCP
def dhcp_packet(mac, xid, msg_type, extra):
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                       bytes(4), bytes(4), bytes(4), bytes(4), mac.ljust(16, b"\0"),
                       bytes(64), bytes(128))
    opts = bytes([53, 1, msg_type])
    opts += bytes([60, len(VENDOR_CLASS)]) + VENDOR_CLASS
    opts += bytes([93, 2, 0, 0])  # client system architecture 0, as the class says
    opts += bytes([55, 7, 1, 3, 43, 54, 60, 66, 67])
    for code, value in extra:
        opts += bytes([code, len(value)]) + value
    return head + MAGIC + opts + b"\xff"


def parse_dhcp(data):
    if len(data) < 240 or data[236:240] != MAGIC:
        return None
    xid = struct.unpack("!I", data[4:8])[0]
    yiaddr = socket.inet_ntoa(data[16:20])
    siaddr = socket.inet_ntoa(data[20:24])
    opts, at = {}, 240
    while at < len(data) and data[at] != 255:
        if data[at] == 0:
            at += 1
            continue
        code, length = data[at], data[at + 1]
        opts[code] = data[at + 2:at + 2 + length]
        at += 2 + length
    return {"op": data[0], "xid": xid, "yiaddr": yiaddr, "siaddr": siaddr, "opts": opts}


def dhcp_socket(iface):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("0.0.0.0", 68))
    return s


def answers(sock, xid, want, servers):
    """Replies to `xid` of type `want` until each server in `servers` answered (or the
    deadline): {server id: reply}."""
    got, deadline = {}, time.monotonic() + WAIT
    while set(servers) - set(got) and time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], deadline - time.monotonic())
        if not ready:
            break
        reply = parse_dhcp(sock.recv(4096))
        if not reply or reply["op"] != 2 or reply["xid"] != xid:
            continue
        if reply["opts"].get(53) != bytes([want]):
            continue
        server = socket.inet_ntoa(reply["opts"].get(54, bytes(4)))
        got.setdefault(server, reply)
    return got


def pi_menu(reply):
    return MENU_ENTRY in reply["opts"].get(43, b"")


def tftp_server_of(reply):
    named = reply["opts"].get(66)
    if named:
        return named.rstrip(b"\0").decode()
    return socket.inet_ntoa(reply["opts"][54])


# ---------------------------------------------------------------- TFTP
def rrq(name):
    return (struct.pack("!H", 1) + name.encode() + b"\0octet\0tsize\0" + b"0\0blksize\0"
            + str(BLKSIZE).encode() + b"\0")


def oack_options(data):
    fields = data[2:].split(b"\0")
    return {fields[i].decode().lower(): fields[i + 1].decode() for i in range(0, len(fields) - 1, 2)}


def tftp_get(server, name):
    """The file's bytes, as the bootloader takes them: sized first (aborted), then read.
    None and the server's error message if it refused."""
    for attempt in ("size", "read"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        s.sendto(rrq(name), (server, 69))
        data, peer = s.recvfrom(65536)
        opcode = struct.unpack("!H", data[:2])[0]
        if opcode == 5:
            return None, data[4:].split(b"\0")[0].decode(errors="replace")
        if opcode != 6:
            raise RuntimeError(f"{name}: expected an OACK, got opcode {opcode}")
        options = oack_options(data)
        if attempt == "size":
            size = int(options["tsize"])
            s.sendto(struct.pack("!HH", 5, 0) + b"buffer sized\0", peer)
            s.close()
            continue
        blksize = int(options.get("blksize", 512))
        s.sendto(struct.pack("!HH", 4, 0), peer)
        out, expected = bytearray(), 1
        while True:
            data, _ = s.recvfrom(65536)
            opcode, block = struct.unpack("!HH", data[:4])
            if opcode == 5:
                raise RuntimeError(f"{name}: error during transfer: {data[4:]!r}")
            if block == expected & 0xFFFF:
                out += data[4:]
                expected += 1
            s.sendto(struct.pack("!HH", 4, block), peer)
            if len(data) - 4 < blksize and block == (expected - 1) & 0xFFFF:
                break
        s.close()
        check(len(out) == size, f"{name}: {len(out)} bytes, as tsize said ({size})")
        return bytes(out), None
    raise AssertionError("unreachable")


def named_by_config(text):
    """kernel=, initramfs and dtoverlay= of a config.txt, as the firmware reads them."""
    kernel, initramfs, overlays = None, None, []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("initramfs "):
            initramfs = line.split()[1]
        elif line.startswith("kernel="):
            kernel = line.split("=", 1)[1].strip()
        elif line.startswith("dtoverlay="):
            overlays.append("overlays/" + line.split("=", 1)[1].split(",")[0].strip() + ".dtbo")
    return kernel, initramfs, overlays


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--bundle", "--model", "--mac", "--serial", "--router", "--tftp", "--iface", "--save"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--pc-mac")
    ap.add_argument("--unknown-serial")
    a = ap.parse_args()
    manifest = json.load(open(os.path.join(a.bundle, "manifest.json")))
    mac = bytes.fromhex(a.mac.replace(":", ""))
    board = f"{a.model} {a.serial}"
    sock = dhcp_socket(a.iface)

    # 1. DHCP: the router's lease; the Pi answer from the router (dhcp-config) and from the
    # proxy (proxyDHCP) both.
    xid = random.getrandbits(32)
    sock.sendto(dhcp_packet(mac, xid, 1, []), ("255.255.255.255", 67))
    offers = answers(sock, xid, 2, [a.router, a.tftp])
    check(a.router in offers, f"{board}: the router offered an address")
    for server, offer in sorted(offers.items()):
        who = "router (netbootc dhcp-config)" if server == a.router else "proxyDHCP"
        check(pi_menu(offer), f"{board}: the {who}'s OFFER carries option 43 with \"Raspberry Pi Boot\"")
        check(tftp_server_of(offer) == a.tftp,
              f"{board}: the {who}'s OFFER names TFTP server {tftp_server_of(offer)} (want {a.tftp})")
    check(a.tftp in offers, f"{board}: the proxy answered as proxyDHCP")
    if a.router not in offers:
        return 1
    lease = offers[a.router]
    xid2 = random.getrandbits(32)
    sock.sendto(dhcp_packet(mac, xid2, 3, [(50, socket.inet_aton(lease["yiaddr"])),
                                           (54, socket.inet_aton(a.router))]),
                ("255.255.255.255", 67))
    acks = answers(sock, xid2, 5, [a.router])
    if not check(a.router in acks, f"{board}: the router ACKed {lease['yiaddr']}"):
        return 1
    subprocess.run(["ip", "addr", "add", lease["yiaddr"] + "/24", "dev", a.iface], check=True)
    server = tftp_server_of(offers[a.router])

    # 2. TFTP, in the bootloader's order, every file against the bundle.
    def fetch(name):
        data, error = tftp_get(server, f"{a.serial}/{name}")
        route = f"tftp/{a.serial}/{name}"
        entry = manifest["routes"].get(route)
        if data is None:
            check(False, f"{board}: TFTP {a.serial}/{name} refused: {error}")
            return None
        want = entry["object"].split(":", 1)[1] if entry else "(no route)"
        got = hashlib.sha256(data).hexdigest()
        check(got == want, f"{board}: TFTP {a.serial}/{name}: sha256 {got[:16]}…, the bundle's {route} is {want[:16]}…")
        os.makedirs(os.path.dirname(os.path.join(a.save, name)), exist_ok=True)
        with open(os.path.join(a.save, name), "wb") as f:
            f.write(data)
        return data

    order = []
    config = fetch("config.txt")
    order.append("config.txt")
    if config is None:
        return 1
    if a.model == "pi4":
        for name in ("start4.elf", "fixup4.dat", "config.txt"):
            fetch(name)
            order.append(name)
    kernel, initramfs, overlays = named_by_config(config.decode())
    dtb = {"pi4": "bcm2711-rpi-4-b.dtb", "pi5": "bcm2712-rpi-5-b.dtb"}[a.model]
    for name in [dtb] + overlays + ["cmdline.txt", kernel] + ([initramfs] if initramfs else []):
        fetch(name)
        order.append(name)
    print(f"ORDER {board}: {' '.join(order)}", flush=True)

    if a.unknown_serial:
        data, error = tftp_get(server, f"{a.unknown_serial}/config.txt")
        check(data is None, f"an unknown serial's {a.unknown_serial}/config.txt is refused ({error})")

    # 3. A PC's BIOS PXE ROM with the very same vendor class: no Pi menu from anyone.
    if a.pc_mac:
        pc = bytes.fromhex(a.pc_mac.replace(":", ""))
        xid3 = random.getrandbits(32)
        sock.sendto(dhcp_packet(pc, xid3, 1, []), ("255.255.255.255", 67))
        pc_offers = answers(sock, xid3, 2, [a.router, a.tftp])
        check(len(pc_offers) == 2, f"PC {a.pc_mac}: offers from {sorted(pc_offers)}")
        for server_id, offer in sorted(pc_offers.items()):
            check(not pi_menu(offer) and 66 not in offer["opts"],
                  f"PC {a.pc_mac} with the Pi's vendor class: {server_id}'s OFFER has no Pi menu or option 66")
    subprocess.run(["ip", "addr", "flush", "dev", a.iface], check=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
