"""Run a command under the unit's system call filter and write-execute ban.

``python unit_sandbox.py [--deny @group ...] -- COMMAND ...`` reads the
system call groups from ``systemd-analyze syscall-filter`` (the very sets
systemd applies), allows ``@system-service`` minus the denied groups, answers
every other call with EPERM (the unit's ``SystemCallErrorNumber=EPERM``),
forbids writable-and-executable memory as ``MemoryDenyWriteExecute=`` does
(``PR_SET_MDWE``, Linux 6.3), and executes COMMAND. Both restrictions are
inherited across exec. It needs libseccomp (systemd itself links it).

``--check`` only says (exit 0) whether this machine can do all that.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import subprocess
import sys

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
SCMP_ACT_ALLOW = 0x7FFF0000
EPERM = 1


def _scmp_act_errno(errno: int) -> int:
    return 0x00050000 | (errno & 0x0000FFFF)


def syscall_groups() -> dict[str, list[str]]:
    """Each ``@group`` of systemd's filter and its members (calls or groups)."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.split()[0])
    return groups


def expand(name: str, groups: dict[str, list[str]]) -> set[str]:
    if not name.startswith("@"):
        return {name}
    return {call for member in groups[name] for call in expand(member, groups)}


def allowed_calls(denied: list[str]) -> set[str]:
    groups = syscall_groups()
    calls = expand("@system-service", groups)
    for group in denied:
        calls -= expand(group, groups)
    return calls


def _libseccomp() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def _load_filter(seccomp: ctypes.CDLL, calls: set[str]) -> None:
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                         ctypes.c_uint]  # fmt: skip
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(_scmp_act_errno(EPERM))
    if not context:
        raise OSError("seccomp_init failed")
    for call in sorted(calls):
        number = seccomp.seccomp_syscall_resolve_name(call.encode())
        if number < 0:  # not a call of this architecture
            continue
        if seccomp.seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 0) != 0:
            raise OSError(f"seccomp_rule_add {call} failed")
    # seccomp_load sets no_new_privs itself, as the unit's NoNewPrivileges=yes.
    if seccomp.seccomp_load(context) != 0:
        raise OSError("seccomp_load failed")


def _refuse_write_execute() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE) failed")


def available() -> bool:
    """Whether this machine has systemd-analyze, libseccomp and PR_SET_MDWE."""
    if sys.platform != "linux" or _libseccomp() is None:
        return False
    try:
        syscall_groups()
    except (OSError, subprocess.CalledProcessError):
        return False
    probe = subprocess.run(
        [sys.executable, "-c", f"import ctypes; import sys; sys.exit(ctypes.CDLL(None).prctl("
         f"{PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0)"],
        check=False,
    )  # fmt: skip
    return probe.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deny", action="append", default=[])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    if args.check:
        return 0 if available() else 1
    seccomp = _libseccomp()
    if seccomp is None:
        raise OSError("libseccomp is not installed")
    calls = allowed_calls(args.deny)
    _refuse_write_execute()
    _load_filter(seccomp, calls)
    os.execv(args.command[0], args.command)
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
