#!/usr/bin/env python3
"""Builds the small disk images of the LAN boot matrix (row 7: booting the local disk).

  make-disks.py bios OUT.img MARKER          a 1 MiB disk whose MBR boot code prints MARKER on
                                             COM1 (only: SeaBIOS copies the screen to the serial
                                             port, which would interleave), then exits QEMU through
                                             isa-debug-exit at port 0xf4 (hlt loop without it)
  make-disks.py efi-app ARCH OUT.efi MARKER  a tiny UEFI application (ARCH x86_64 or arm64)
                                             that prints MARKER with ConOut->OutputString
                                             (OVMF and AAVMF copy ConOut to the serial port),
                                             then calls ResetSystem(EfiResetShutdown)
  make-disks.py esp OUT.img FILE.efi [NAME]  a disk (MBR) with one FAT EFI system partition
                                             holding FILE.efi as \\EFI\\BOOT\\NAME (default
                                             BOOTX64.EFI): what the firmware boots as removable
                                             media (also the "USB stick" of the direct row)

Tools: GNU as/ld/objcopy for the host (x86) and aarch64-linux-gnu-as/objcopy (Debian's
binutils-aarch64-linux-gnu, pulled in by gcc-aarch64-linux-gnu) and mtools. The UEFI
applications are position-independent machine code wrapped in a hand-written PE32+ header
(no relocations needed), so no gnu-efi or cross libc is involved.
"""
import os
import struct
import subprocess
import sys
import tempfile


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def assemble(arch, source):
    """Assembles SOURCE for ARCH and returns the raw bytes of its .text section."""
    prefix = {"x86_64": "", "i8086": "", "arm64": "aarch64-linux-gnu-"}[arch]
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, out = (os.path.join(tmp, n) for n in ("a.S", "a.o", "a.bin"))
        with open(src, "w") as f:
            f.write(source)
        asflags = ["--32"] if arch == "i8086" else []
        run(prefix + "as", *asflags, "-o", obj, src)
        if arch == "i8086":
            # Linked at 0x7c00, where the BIOS loads a boot sector.
            linked = os.path.join(tmp, "a.elf")
            run("ld", "-m", "elf_i386", "-Ttext", "0x7c00", "-e", "0x7c00", "-o", linked, obj)
            obj = linked
        run(prefix + "objcopy", "-O", "binary", "-j", ".text", obj, out)
        with open(out, "rb") as f:
            return f.read()


def utf16_shorts(text):
    return ", ".join(str(c) for c in struct.unpack("<%dH" % len(text), text.encode("utf-16-le"))) + ", 0"


def bios_boot_sector(marker):
    msg = ", ".join(str(b) for b in (marker + "\r\n").encode("ascii")) + ", 0"
    code = assemble("i8086", f"""
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov $msg, %si
next:
    lodsb
    test %al, %al
    jz done
    mov %al, %bl
    mov $0x3fd, %dx          # COM1 line status: wait for an empty transmit register
wait:
    in %dx, %al
    test $0x20, %al
    jz wait
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp next
done:
    mov $0x31, %al           # isa-debug-exit: QEMU exits with status (0x31 << 1) | 1 = 99
    out %al, $0xf4
halt:
    cli
    hlt
    jmp halt
msg:
    .byte {msg}
    .org 510
    .byte 0x55, 0xaa
""")
    assert len(code) == 512, len(code)
    return code


# UEFI: SystemTable->ConOut at offset 64, ->RuntimeServices at 88; ConOut->OutputString at 8;
# RuntimeServices->ResetSystem at 104 (24-byte header + 10 pointers).
EFI_CODE = {
    "x86_64": """
    .text
    .globl _start
_start:
    sub $40, %rsp             # shadow space; 16-byte aligned stack for the calls
    mov %rdx, %rbx            # SystemTable
    mov 64(%rbx), %rcx        # ConOut
    lea msg(%rip), %rdx
    call *8(%rcx)             # ConOut->OutputString(ConOut, msg)
    mov 88(%rbx), %rax        # RuntimeServices
    mov $2, %ecx              # EfiResetShutdown
    xor %edx, %edx
    xor %r8d, %r8d
    xor %r9d, %r9d
    call *104(%rax)           # ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL)
1:  hlt
    jmp 1b
    .balign 2
msg:
    .short {msg}
""",
    "arm64": """
    .text
    .globl _start
_start:
    stp x29, x30, [sp, #-32]!
    mov x29, sp
    str x19, [sp, #16]
    mov x19, x1               // SystemTable
    ldr x0, [x19, #64]        // ConOut
    ldr x8, [x0, #8]          // ->OutputString
    adr x1, msg
    blr x8
    ldr x8, [x19, #88]        // RuntimeServices
    ldr x9, [x8, #104]        // ->ResetSystem
    mov x0, #2                // EfiResetShutdown
    mov x1, #0
    mov x2, #0
    mov x3, #0
    blr x9
1:  wfi
    b 1b
    .balign 2
msg:
    .short {msg}
""",
}


def pe32plus(machine, code):
    """A PE32+ EFI application: one RX section holding CODE, entry point at its start."""
    file_align, sect_align, rva = 0x200, 0x1000, 0x1000
    raw = code + b"\0" * (-len(code) % file_align)
    image_size = rva + ((len(code) + sect_align - 1) // sect_align) * sect_align
    dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", machine, 1, 0, 0, 0, 240,
                       0x0002 | 0x0020 | 0x0200)  # executable, large-address aware, no debug
    opt = struct.pack("<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
                      0x20B, 0, 0, len(raw), 0, 0, rva, rva, 0x10000000,
                      sect_align, file_align, 0, 0, 0, 0, 0, 0, 0, image_size, file_align,
                      0, 10, 0,  # subsystem 10: EFI application
                      0x10000, 0x1000, 0x10000, 0x1000, 0, 16)
    opt += b"\0" * (16 * 8)  # data directories: none (no imports, no relocations needed)
    section = struct.pack("<8sIIIIIIHHI", b".text", len(code), rva, len(raw), file_align,
                          0, 0, 0, 0, 0x60000020)  # code, execute, read
    header = dos + coff + opt + section
    assert len(header) <= file_align
    return header + b"\0" * (file_align - len(header)) + raw


def efi_app(arch, marker):
    code = assemble(arch, EFI_CODE[arch].format(msg=utf16_shorts(marker + "\r\n")))
    return pe32plus({"x86_64": 0x8664, "arm64": 0xAA64}[arch], code)


def esp_disk(out, efi_file, name):
    size_mib, start = 40, 2048  # the partition starts at 1 MiB
    sectors = (size_mib << 20) // 512 - start
    # An MBR with one partition of type 0xEF (EFI system partition): every UEFI firmware
    # takes it, and it needs no partitioning tool.
    entry = struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", 0xEF, b"\xfe\xff\xff", start, sectors)
    mbr = b"\0" * 446 + entry + b"\0" * 48 + b"\x55\xaa"
    with open(out, "wb") as f:
        f.write(mbr)
        f.truncate(size_mib << 20)
    img = f"{out}@@{start * 512}"
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    run("mformat", "-i", img, "-T", str(sectors), "-F", "-v", "ESP", "::", env=env)
    run("mmd", "-i", img, "::/EFI", "::/EFI/BOOT", env=env)
    run("mcopy", "-i", img, efi_file, f"::/EFI/BOOT/{name}", env=env)


def main(argv):
    if len(argv) >= 3 and argv[0] == "bios":
        sector = bios_boot_sector(argv[2])
        with open(argv[1], "wb") as f:
            f.write(sector)
            f.truncate(1 << 20)
    elif len(argv) >= 4 and argv[0] == "efi-app":
        with open(argv[2], "wb") as f:
            f.write(efi_app(argv[1], argv[3]))
    elif len(argv) >= 3 and argv[0] == "esp":
        esp_disk(argv[1], argv[2], argv[3] if len(argv) > 3 else "BOOTX64.EFI")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
