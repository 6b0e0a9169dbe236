#!/usr/bin/env python3
"""Generate a synthetic netboot fleet for the benchmark.

Writes, under OUT:

    config/profiles/site.kdl            the site node (via-proxy, mirror on)
    config/profiles/fleet.kdl           P profiles (Flatcar-like x86_64, one extending
                                        another with cmdline-append, an arm64 one, ...)
    config/profiles/images/<p>/...      small local images, pinned by sha256
    config/machines/fleet-NNN.kdl       N machines, --per-file per file
    fleet.yml                           the same fleet as an Ansible-style YAML inventory
    machine.ipxe.j2                     the peer's template (same shape as netbootc's
                                        built-in compiler/compile/src/templates/machine.ipxe.j2)

The YAML carries exactly the context netbootc builds for its templates (site, profile,
images with their final URLs, machine, vars, cmdline pieces), so the peer renders the very
same bytes. Output is deterministic: same arguments, same files.
"""

import argparse
import hashlib
import os
import random
import shutil
import sys

ORIGIN = "https://boot.example.com"
PROXY = "http://10.0.0.2:8080"
BASE_URL = PROXY  # via-proxy: scripts fetch through the Pi

# The peer renders netbootc's own built-in machine template, so both sides produce the
# same bytes (checked by peer_render.py --verify).
MACHINE_TEMPLATE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "compiler", "compile", "src", "templates", "machine.ipxe.j2"
)
# Profile kinds, cycled to make P profiles. `extends` points at the previous profile of
# kind "flatcar" (always the one just before it).
KINDS = [
    {
        "kind": "flatcar",
        "arch": "x86_64",
        "cmdline": "flatcar.first_boot=1 console=ttyS0,115200n8 "
        "ignition.config.url={{ vars.ignition_base }}/{{ machine.name }}.ign "
        "flatcar.oem.id={{ vars.oem }}",
        "vars": {"ignition_base": "https://ignition.example.com/fleet", "oem": "metal"},
        "images": ["flatcar_production_pxe.vmlinuz", "flatcar_production_pxe_image.cpio.gz"],
    },
    {"kind": "debug", "append": "flatcar.autologin systemd.log_level=debug"},
    {
        "kind": "talos",
        "arch": "arm64",
        "cmdline": "talos.platform=metal console=ttyAMA0,115200 init_on_alloc=1 "
        "slab_nomerge pti=on talos.config=https://config.example.com/talos/"
        "{{ machine.name }}.yaml talos.hostname={{ machine.name }}",
        "vars": {},
        "images": ["vmlinuz-arm64", "initramfs-arm64.xz"],
    },
    {
        "kind": "worker",
        "arch": "x86_64",
        "cmdline": "console=tty0 console=ttyS1,115200n8 ip=dhcp "
        "hostname={{ machine.name }} role={{ vars.role }} root={{ vars.disk }} "
        "rack={{ vars.rack }}",
        "vars": {"disk": "/dev/sda"},
        "images": ["vmlinuz", "initrd.img"],
    },
]


def image_bytes(profile, name, size):
    rng = random.Random(f"{profile}/{name}")
    return rng.randbytes(size)


def kdl_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_str(s):
    # Always double-quoted: safe for every value we generate.
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_profiles(p, root):
    """Returns [(name, spec)] with spec holding everything the KDL and YAML need."""
    profiles = []
    last_flatcar = None
    for i in range(p):
        kind = KINDS[i % len(KINDS)]
        round_ = i // len(KINDS)
        suffix = "" if round_ == 0 else f"-{round_}"
        if kind["kind"] == "debug":
            if last_flatcar is None:
                kind = KINDS[0]
            else:
                base = last_flatcar[1]
                name = f"flatcar-debug{suffix}"
                spec = {
                    "arch": base["arch"],
                    "extends": last_flatcar[0],
                    "append": kind["append"],
                    "cmdline": base["cmdline"] + [kind["append"]],
                    "vars": dict(base["vars"]),
                    "images": base["images"],
                }
                profiles.append((name, spec))
                continue
        name = {
            "flatcar": "flatcar-stable",
            "talos": "talos-arm64",
            "worker": "ubuntu-worker",
        }[kind["kind"]] + suffix
        images = []
        for role, file in zip(["kernel", "initrd"], kind["images"]):
            # Small but not tiny: 64 KiB kernels, 192 KiB initrds.
            data = image_bytes(name, file, 64 * 1024 if role == "kernel" else 192 * 1024)
            rel = f"images/{name}/{file}"
            path = os.path.join(root, "profiles", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            images.append((role, rel, hashlib.sha256(data).hexdigest()))
        spec = {
            "arch": kind["arch"],
            "cmdline": [kind["cmdline"]],
            "vars": dict(kind["vars"]),
            "images": images,
        }
        profiles.append((name, spec))
        if kind["kind"] == "flatcar":
            last_flatcar = (name, spec)
    return profiles


def make_machines(n, profiles):
    rng = random.Random(1234)
    roles = ["worker", "worker", "worker", "control-plane", "storage"]
    disks = ["/dev/nvme0n1", "/dev/sda", "/dev/vda"]
    machines = []
    for i in range(n):
        name = f"node-{i:05d}"
        # Locally administered MACs, unique by construction; every 8th machine has 2 NICs.
        macs = [f"52:54:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}:01"]
        if i % 8 == 7:
            macs.append(f"52:54:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}:02")
        # Most machines have a SMBIOS UUID; some (cheap boards) do not.
        uuid = None
        if i % 5 != 4:
            h = rng.getrandbits(128)
            x = f"{h:032x}"
            uuid = f"{x[0:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"
        profile = profiles[i % len(profiles)][0]
        vars_ = {
            "role": roles[i % len(roles)],
            "disk": disks[i % len(disks)],
            "rack": f"r{i // 40:03d}",
        }
        machines.append({"name": name, "macs": macs, "uuid": uuid, "profile": profile, "vars": vars_})
    return machines


def write_kdl(root, profiles, machines, per_file):
    with open(os.path.join(root, "profiles", "site.kdl"), "w") as f:
        f.write(
            "// Generated by bench/gen_fleet.py.\n"
            "site {\n"
            f"    origin {kdl_str(ORIGIN)}\n"
            f"    chain \"via-proxy\" proxy={kdl_str(PROXY)}\n"
            "    mirror #true\n"
            "}\n"
        )
    with open(os.path.join(root, "profiles", "fleet.kdl"), "w") as f:
        f.write("// Generated by bench/gen_fleet.py.\n")
        for name, spec in profiles:
            if "extends" in spec:
                f.write(f"profile {kdl_str(name)} extends={kdl_str(spec['extends'])} {{\n")
                f.write(f"    cmdline-append {kdl_str(spec['append'])}\n")
                f.write("}\n\n")
                continue
            f.write(f"profile {kdl_str(name)} {{\n")
            f.write(f"    arch {kdl_str(spec['arch'])}\n")
            for role, rel, sha in spec["images"]:
                f.write(f"    {role} path={kdl_str(rel)} sha256={kdl_str(sha)}\n")
            f.write(f"    cmdline {kdl_str(spec['cmdline'][0])}\n")
            if spec["vars"]:
                props = " ".join(f"{k}={kdl_str(v)}" for k, v in spec["vars"].items())
                f.write(f"    var {props}\n")
            f.write("}\n\n")
    mdir = os.path.join(root, "machines")
    for start in range(0, len(machines), per_file):
        chunk = machines[start : start + per_file]
        lines = [f"// Generated by bench/gen_fleet.py: machines {start}..{start + len(chunk) - 1}.\n"]
        for m in chunk:
            lines.append(f"machine {kdl_str(m['name'])} {{\n")
            lines.append("    mac " + " ".join(kdl_str(mac) for mac in m["macs"]) + "\n")
            if m["uuid"]:
                lines.append(f"    uuid {kdl_str(m['uuid'])}\n")
            lines.append(f"    profile {kdl_str(m['profile'])}\n")
            props = " ".join(f"{k}={kdl_str(v)}" for k, v in m["vars"].items())
            lines.append(f"    var {props}\n")
            lines.append("}\n\n")
        with open(os.path.join(mdir, f"fleet-{start // per_file:03d}.kdl"), "w") as f:
            f.write("".join(lines))


def write_yaml(out, profiles, machines):
    """The Ansible-style inventory: group vars (site, profiles) and one entry per host."""
    lines = [
        "# Generated by bench/gen_fleet.py: the same fleet as config/, for the Jinja2 peer.\n",
        "site:\n",
        f"  origin: {yaml_str(ORIGIN)}\n",
        "  chain: via-proxy\n",
        f"  proxy: {yaml_str(PROXY)}\n",
        f"  base_url: {yaml_str(BASE_URL)}\n",
        "  mirror: true\n",
        "profiles:\n",
    ]
    for name, spec in profiles:
        lines.append(f"  {name}:\n")
        lines.append(f"    arch: {spec['arch']}\n")
        lines.append("    cmdline:\n")
        for piece in spec["cmdline"]:
            lines.append(f"      - {yaml_str(piece)}\n")
        lines.append("    vars:" + (" {}\n" if not spec["vars"] else "\n"))
        for k, v in spec["vars"].items():
            lines.append(f"      {k}: {yaml_str(v)}\n")
        lines.append("    images:\n")
        for role, _rel, sha in spec["images"]:
            lines.append(f"      {role}:\n")
            lines.append(f"        role: {role}\n")
            lines.append(f"        url: {yaml_str(f'{BASE_URL}/objects/sha256/{sha}')}\n")
            lines.append(f"        sha256: {yaml_str(sha)}\n")
            lines.append(f"        digest: {yaml_str('sha256:' + sha)}\n")
    lines.append("machines:\n")
    for m in machines:
        macs = ", ".join(yaml_str(mac.replace(":", "-")) for mac in m["macs"])
        lines.append(f"  - name: {m['name']}\n")
        lines.append(f"    macs: [{macs}]\n")
        lines.append(f"    uuid: {yaml_str(m['uuid']) if m['uuid'] else 'null'}\n")
        lines.append(f"    profile: {m['profile']}\n")
        lines.append(
            "    vars: {" + ", ".join(f"{k}: {yaml_str(v)}" for k, v in m["vars"].items()) + "}\n"
        )
    with open(os.path.join(out, "fleet.yml"), "w") as f:
        f.write("".join(lines))
    shutil.copyfile(MACHINE_TEMPLATE, os.path.join(out, "machine.ipxe.j2"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output directory (replaced)")
    ap.add_argument("-n", "--machines", type=int, default=1000)
    ap.add_argument("-p", "--profiles", type=int, default=4)
    ap.add_argument("--per-file", type=int, default=250, help="machines per KDL file")
    args = ap.parse_args()
    if args.machines < 1 or args.profiles < 1 or args.per_file < 1:
        sys.exit("gen_fleet.py: --machines, --profiles and --per-file must be positive")

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    root = os.path.join(args.out, "config")
    os.makedirs(os.path.join(root, "profiles"))
    os.makedirs(os.path.join(root, "machines"))
    profiles = make_profiles(args.profiles, root)
    machines = make_machines(args.machines, profiles)
    write_kdl(root, profiles, machines, args.per_file)
    write_yaml(args.out, profiles, machines)


if __name__ == "__main__":
    main()
