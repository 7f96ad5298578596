"""Run a command under the unit's /proc, system call filter and write-execute ban.

``python unit_sandbox.py [--deny @group ...] -- COMMAND ...`` runs COMMAND

* with a /proc of its own that shows only its own processes and no kernel
  files (``ProtectProc=invisible``, ``ProcSubset=pid``), in an unprivileged
  user, mount and PID namespace (the user id stays the same);
* forbidden writable-and-executable memory, as ``MemoryDenyWriteExecute=``
  (``PR_SET_MDWE``, Linux 6.3);
* allowed only the system calls of ``@system-service`` minus the denied
  groups, read from ``systemd-analyze syscall-filter`` (the very sets systemd
  applies), every other call answered with EPERM (``SystemCallErrorNumber=``).
  It needs libseccomp, which systemd itself links.

COMMAND runs as a child (PID 1 of the new namespace); this process forwards
SIGTERM and SIGINT to it and exits with its status; the child dies with it.
``--check`` only says (exit 0) whether this machine can do all that.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
PR_SET_PDEATHSIG = 1
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 1 << 18
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


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _enter_namespaces() -> None:
    """A user namespace mapping only our own ids, so that the mounts below are
    allowed without privileges, and mount and PID namespaces for a new /proc."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc().unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _mount_unit_proc() -> None:
    """In the child (PID 1 of the new namespace): /proc as the unit sees it."""
    libc = _libc()
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    options = b"subset=pid,hidepid=invisible"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _check(libc.mount(b"proc", b"/proc", b"proc", flags, options), "mount /proc")


def _refuse_write_execute() -> None:
    _check(_libc().prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0), "PR_SET_MDWE")


def available() -> bool:
    """Whether this machine has systemd-analyze, libseccomp, PR_SET_MDWE and
    unprivileged namespaces: a trial run of ``true`` in the sandbox."""
    if sys.platform != "linux" or _libseccomp() is None:
        return False
    try:
        syscall_groups()
    except (OSError, subprocess.CalledProcessError):
        return False
    probe = subprocess.run(
        [sys.executable, __file__, "--", "/bin/true"], capture_output=True, check=False
    )
    return probe.returncode == 0


def _run_child(command: list[str], calls: set[str], seccomp: ctypes.CDLL) -> None:
    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    _mount_unit_proc()
    _refuse_write_execute()
    _load_filter(seccomp, calls)
    os.execv(command[0], command)


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
    _enter_namespaces()
    child = os.fork()
    if child == 0:
        try:
            _run_child(args.command, calls, seccomp)
        finally:
            os._exit(127)  # only when the set-up or execv failed (the traceback shows why)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: os.kill(child, received))
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
