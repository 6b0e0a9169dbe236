#!/usr/bin/env python3
"""The peer: what an Ansible-templated netboot setup (netboot.xyz style) does.

Loads the YAML fleet (PyYAML, C loader when available), renders every machine's iPXE
script with Jinja2 (StrictUndefined, the same whitespace options and template as
netbootc's built-in machine.ipxe.j2), and writes it into OUT:

    machines/by-name/<name>.ipxe          the script (one file per machine)
    machines/by-mac/<aa-bb-..>.ipxe       symlinks to it
    machines/by-uuid/<uuid>.ipxe          symlinks to it

A fair, reasonably efficient implementation: one process, each template compiled once
and reused, the environment built once, no validation, no linting, no hashing.

    peer_render.py FLEET_DIR OUT [--verify NETBOOTC_OUT [--verify-only]]

--verify checks, after rendering, that every by-name script has exactly the bytes of the
object netbootc's manifest routes `machines/by-name/<name>.ipxe` to, i.e. both sides did
the same work.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys

import jinja2
import yaml


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fleet", help="directory with fleet.yml and machine.ipxe.j2")
    ap.add_argument("out", help="output directory (replaced)")
    ap.add_argument("--verify", metavar="NETBOOTC_OUT", help="compare with netbootc's output after rendering")
    ap.add_argument("--verify-only", action="store_true", help="do not render; only compare an existing OUT")
    args = ap.parse_args()

    with open(os.path.join(args.fleet, "fleet.yml")) as f:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        fleet = yaml.load(f, Loader=loader)
    if args.verify_only:
        if not args.verify:
            sys.exit("peer_render: --verify-only needs --verify NETBOOTC_OUT")
        verify(fleet, args.out, args.verify)
        return

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(args.fleet),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    machine_template = env.get_template("machine.ipxe.j2")
    site = fleet["site"]
    profiles = {}
    for name, p in fleet["profiles"].items():
        profiles[name] = {
            "value": {"name": name, "arch": p["arch"]},
            "images": p["images"],
            "vars": p.get("vars") or {},
            "cmdline": [env.from_string(piece) for piece in p["cmdline"]],
        }

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    by_name = os.path.join(args.out, "machines", "by-name")
    by_mac = os.path.join(args.out, "machines", "by-mac")
    by_uuid = os.path.join(args.out, "machines", "by-uuid")
    for d in (by_name, by_mac, by_uuid):
        os.makedirs(d)

    for m in fleet["machines"]:
        p = profiles[m["profile"]]
        vars_ = dict(p["vars"])
        vars_.update(m.get("vars") or {})
        macs = m["macs"]
        ctx = {
            "site": site,
            "profile": p["value"],
            "images": p["images"],
            "machine": {
                "name": m["name"],
                "macs": macs,
                "mac": macs[0] if macs else None,
                "uuid": m.get("uuid"),
                "profile": m["profile"],
            },
            "vars": vars_,
        }
        ctx["cmdline"] = " ".join(t.render(ctx).strip() for t in p["cmdline"])
        text = machine_template.render(ctx)
        file = m["name"] + ".ipxe"
        with open(os.path.join(by_name, file), "w") as f:
            f.write(text)
        target = os.path.join("..", "by-name", file)
        for mac in macs:
            os.symlink(target, os.path.join(by_mac, mac + ".ipxe"))
        if m.get("uuid"):
            os.symlink(target, os.path.join(by_uuid, m["uuid"] + ".ipxe"))

    if args.verify:
        verify(fleet, args.out, args.verify)


def verify(fleet, out, netbootc_out):
    with open(os.path.join(netbootc_out, "manifest.json")) as f:
        routes = json.load(f)["routes"]
    bad = 0
    for m in fleet["machines"]:
        route = f"machines/by-name/{m['name']}.ipxe"
        with open(os.path.join(out, route), "rb") as f:
            ours = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        if routes[route]["object"] != ours:
            bad += 1
            if bad <= 3:
                print(f"peer_render: {route}: netbootc {routes[route]['object']}, peer {ours}", file=sys.stderr)
    if bad:
        sys.exit(f"peer_render: {bad} of {len(fleet['machines'])} scripts differ from netbootc's")
    print(f"peer_render: all {len(fleet['machines'])} scripts byte-identical to netbootc's", file=sys.stderr)


if __name__ == "__main__":
    main()
