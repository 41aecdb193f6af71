# Warm sandbox worker. Runs as pid 1 of a long-lived bwrap sandbox (started by the host with
# `python3 -I -B -c <this> <work dir bytes>`) and never touches a run's data itself, so nothing of one run can be found
# in the memory the next run is forked from. Per request:
#   zygote (pid 1, holds CAP_SYS_ADMIN/NET_ADMIN/SETPCAP of the sandbox's user namespace, never runs untrusted code)
#   └─ supervisor: reads the request, unshares fresh pid, IPC, mount and network namespaces, enforces the wall clock
#      │           and the output caps, replies, exits
#      └─ run init (pid 1 of the run's namespaces, like the shell of a cold run): mounts a fresh /proc and /tmp,
#         │         brings up loopback, drops every capability, waits for the program
#         └─ program (pid 2): runs /sandbox/main.py as `python3 main.py` would
# When the run init dies the kernel kills everything left in the run's pid namespace, and the run's /tmp, SysV IPC,
# message queues and sockets go with its namespaces. Only the user keyrings outlive it; the supervisor clears them.
# After the supervisor has exited the zygote writes "KZOK", so the host knows the worker is back to its idle state.
# Protocol (little-endian) on fds 0/1 of the sandbox: see ZygoteProtocol.cs.
import sys

_BASE_MODULES = set(sys.modules)

import ctypes
import gc
import os
import resource  # loaded once here rather than in every run (each run still drops it from sys.modules)
import select
import signal
import struct
import time

REQUEST = struct.Struct('<4sQ16sIIIQQIIII')
RESPONSE = struct.Struct('<4sQBiIII')
INIT_REPORT = struct.Struct('<iI')
EXITED, TIMED_OUT, OUTPUT_LIMIT, INTERNAL_ERROR = 0, 1, 2, 3
IDLE = b'KZOK'
PROGRAM = '/sandbox/main.py'
WORK_DIR = '/tmp'
WORK_DIR_BYTES = int(sys.argv[1])
PLACEHOLDER = b'KLEAR_SANDBOX_ZYG=' + b'0' * 16
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x08000000, 0x40000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 0x4000, 0x40000
KEYCTL, KEYCTL_CLEAR, KEYCTL_JOIN_SESSION_KEYRING = 250, 7, 1
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5

libc = ctypes.CDLL(None, use_errno=True)
# Every process of a run has our uid: without this it could ptrace the run init or the supervisor, or open their
# /proc/<pid>/mem and fd/*. Non-dumpable makes those root-owned and ptrace need CAP_SYS_PTRACE; forks inherit it, and
# only the program turns it back off for itself.
if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
    sys.stderr.write('zygote: prctl(PR_SET_DUMPABLE, 0) failed\n')
    sys.exit(2)
# Python's SIGINT handler would make pid 1 (of the sandbox, and of each run) interruptible from inside.
signal.signal(signal.SIGINT, signal.SIG_DFL)

WORK_DIR_MODE = os.stat(WORK_DIR).st_mode & 0o7777
CTL_IN = os.dup(0)
CTL_OUT = os.dup(1)
_null = os.open('/dev/null', os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)
os.close(_null)


def check(result, what):
    if result != 0:
        raise OSError(ctypes.get_errno(), what)


def read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(CTL_IN, n - len(buf))
        if not chunk:
            os._exit(3)  # the host closed the pipe: the zygote shuts down
        buf += chunk
    return bytes(buf)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def drop_capabilities():
    for cap in range(64):
        if libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # PR_CAPBSET_DROP; EINVAL past the last
            break
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    check(libc.capset(header, (ctypes.c_uint32 * 6)()), 'capset')
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL


def mark_run(run_id):
    """Renames our inherited KLEAR_SANDBOX_ZYG env string to KLEAR_SANDBOX_RUN=<id> in place, so /proc/<pid>/environ
    of this run's processes names the run, as in a cold run (the host and the tests find leftovers by it)."""
    with open('/proc/self/stat', 'rb') as f:
        fields = f.read().rsplit(b')', 1)[1].split()
    start, end = int(fields[47]), int(fields[48])
    with open('/proc/self/mem', 'r+b', buffering=0) as mem:
        mem.seek(start)
        env = mem.read(end - start)
        at = env.find(PLACEHOLDER)
        if at >= 0:
            mem.seek(start + at)
            mem.write(b'KLEAR_SANDBOX_RUN=' + run_id)
    os.environ.pop('KLEAR_SANDBOX_ZYG', None)
    os.environ['KLEAR_SANDBOX_RUN'] = run_id.decode()


def exit_code(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + '\n')
    except Exception:
        pass
    return 1


def program(limits):
    """Never returns: becomes the run's main process, as close to a fresh `python3 -I -B /sandbox/main.py` as a fork
    can be."""
    run_id, cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc = limits
    os.chdir(WORK_DIR)
    libc.prctl(4, 1, 0, 0, 0)  # dumpable again, as a fresh python3 is: the flag guards the run init, not the run
    mark_run(run_id)
    # A fresh anonymous session keyring: the inherited one is shared with every earlier run.
    libc.syscall(KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
    R = resource
    for lim, soft, hard in ((R.RLIMIT_CPU, cpu_soft, cpu_hard), (R.RLIMIT_AS, as_bytes, as_bytes),
                            (R.RLIMIT_FSIZE, fsize, fsize), (R.RLIMIT_NOFILE, nofile, nofile),
                            (R.RLIMIT_NPROC, nproc, nproc), (R.RLIMIT_CORE, 0, 0)):
        R.setrlimit(lim, (soft, hard))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # What a fresh interpreter would have loaded, and nothing of ours.
    for name in list(sys.modules):
        if name not in _BASE_MODULES:
            del sys.modules[name]
    import builtins
    main = type(sys)('__main__')
    main.__annotations__ = {}  # the interpreter's own __main__ starts with one
    main.__file__ = PROGRAM
    main.__builtins__ = builtins
    main.__cached__ = None
    main.__loader__ = sys.modules['_frozen_importlib_external'].SourceFileLoader('__main__', PROGRAM)
    sys.modules['__main__'] = main
    sys.argv[:] = [PROGRAM]
    sys.orig_argv[:] = [sys.executable, '-I', '-B', PROGRAM]
    # Tells the supervisor the run's setup is done: from here on, any exit is the program's own.
    os.write(3, b'R')
    os.close(3)
    code = 0
    interrupted = False
    try:
        with open(PROGRAM, 'rb') as f:
            source = f.read()
        compiled = compile(source, PROGRAM, 'exec', dont_inherit=True)
        source = None
        exec(compiled, main.__dict__)
    except SystemExit as e:
        code = exit_code(e)
    except BaseException as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        tb = e.__traceback__
        # Our own frame is not the program's: drop it so the traceback reads as python3 main.py prints it.
        if tb is not None and tb.tb_frame.f_code is program.__code__:
            tb = tb.tb_next
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        code = 1
    try:
        threading = sys.modules.get('threading')
        if threading is not None:
            threading._shutdown()
        __import__('atexit')._run_exitfuncs()
    except BaseException:
        pass
    try:
        sys.stdout.flush()
    except BaseException:
        code = 120
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def run_init(limits, fds):
    """Never returns: pid 1 of the run's namespaces. Sets them up, starts the program, reaps, and reports the
    program's wait status (and how many processes it left) on fd 3 before exiting, which ends every one of them."""
    stdin_r, out_w, err_w, report_w = fds
    try:
        os.dup2(stdin_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(report_w, 3)
        os.closerange(4, 1 << 20)  # fork copies every fd: the control pipes and the run's other pipe ends go here
        os.setsid()
        check(libc.mount(None, b'/', None, MS_REC | MS_PRIVATE, None), 'make / private')
        check(libc.mount(b'proc', b'/proc', b'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, None), 'mount /proc')
        check(libc.mount(b'tmpfs', WORK_DIR.encode(), b'tmpfs', MS_NOSUID | MS_NODEV,
                         b'size=%d,mode=%o' % (WORK_DIR_BYTES, WORK_DIR_MODE)), 'mount /tmp')
        # As bwrap does for the sandbox's own /proc: what a process could write to there, read-only.
        for sub in (b'/proc/sys', b'/proc/sysrq-trigger', b'/proc/irq', b'/proc/bus'):
            if os.path.exists(sub):
                check(libc.mount(sub, sub, None, MS_BIND | MS_REC, None), 'bind ' + sub.decode())
                check(libc.mount(sub, sub, None, MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
                      'read-only ' + sub.decode())
        sock = libc.socket(2, 2, 0)  # AF_INET, SOCK_DGRAM: only to bring the new namespace's loopback up
        ifreq = ctypes.create_string_buffer(struct.pack('16sH22x', b'lo', 0x1 | 0x40), 40)  # IFF_UP | IFF_RUNNING
        check(libc.ioctl(sock, 0x8914, ifreq), 'loopback up')  # SIOCSIFFLAGS
        os.close(sock)
        drop_capabilities()
        pid = os.fork()
    except BaseException as e:
        os.write(2, ('sandbox worker: run setup failed: %s: %s\n' % (type(e).__name__, e)).encode())
        os._exit(126)
    if pid == 0:
        try:
            program(limits)
        except BaseException as e:
            os.write(2, ('sandbox worker: program setup failed: %s: %s\n' % (type(e).__name__, e)).encode())
        finally:
            os._exit(127)
    status = None
    while status is None:
        reaped, st = os.waitpid(-1, 0)
        if reaped == pid:
            status = st
    left = sum(1 for d in os.listdir('/proc') if d.isdigit() and d != '1')
    os.write(3, INIT_REPORT.pack(status, left))
    os._exit(0)


def supervise(init, stdin_w, stdin_data, out_r, err_r, timeout, cap):
    """Returns (outcome, init's exit status or None when killed here, stdout, stderr)."""
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(init)
    poller = select.poll()
    captured = {out_r: bytearray(), err_r: bytearray()}
    for fd in captured:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    view, pos = memoryview(stdin_data), 0
    if view:
        os.set_blocking(stdin_w, False)
        poller.register(stdin_w, select.POLLOUT)
    else:
        os.close(stdin_w)
        stdin_w = -1

    def take(fd, data):
        buf = captured[fd]
        keep = cap - len(buf)
        buf += data[:keep]
        return len(data) > keep

    status = None
    try:
        while status is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TIMED_OUT, None, captured[out_r], captured[err_r]
            for fd, events in poller.poll(max(1, int(remaining * 1000) + 1)):
                if fd == pidfd:
                    status = os.waitpid(init, 0)[1]
                elif fd == stdin_w:
                    try:
                        pos += os.write(stdin_w, view[pos:pos + 65536])
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:  # the program closed its stdin: its business
                        pos = len(view)
                    if pos >= len(view):
                        poller.unregister(stdin_w)
                        os.close(stdin_w)
                        stdin_w = -1
                else:
                    data = os.read(fd, 65536)
                    if not data:
                        poller.unregister(fd)
                    elif take(fd, data):
                        return OUTPUT_LIMIT, None, captured[out_r], captured[err_r]
        # The run's namespace is gone: whatever its processes wrote is in the pipes, and nothing writes any more.
        for fd in captured:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                if take(fd, data):
                    return OUTPUT_LIMIT, status, captured[out_r], captured[err_r]
        return EXITED, status, captured[out_r], captured[err_r]
    finally:
        os.close(pidfd)
        if stdin_w >= 0:
            os.close(stdin_w)


def supervisor():
    """Never returns: serves one request. Its memory (the request and the output) dies with it."""
    seq = 0
    try:
        header = REQUEST.unpack(read_exact(REQUEST.size))
        magic, seq, run_id, timeout_ms, cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc, cap, stdin_len = header
        if magic != b'KZRQ':
            sys.stderr.write('zygote: bad request frame\n')
            os._exit(4)
        stdin_data = read_exact(stdin_len)
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        report_r, report_w = os.pipe()
        check(libc.unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWNET), 'unshare')
        init = os.fork()
        if init == 0:
            run_init((run_id, cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc), (stdin_r, out_w, err_w, report_w))
        for fd in (stdin_r, out_w, err_w, report_w):
            os.close(fd)
        drop_capabilities()
        try:
            outcome, status, out, err = supervise(init, stdin_w, stdin_data, out_r, err_r, timeout_ms / 1000, cap)
        finally:
            try:
                os.kill(init, signal.SIGKILL)  # the run's pid 1: the kernel takes its whole namespace down with it
                os.waitpid(init, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        report = os.read(report_r, 1 + INIT_REPORT.size)
        if report[:1] != b'R':  # the run's setup failed: a fault of ours, not the program's
            outcome = INTERNAL_ERROR
        if len(report) == 1 + INIT_REPORT.size:
            wait_status, survivors = INIT_REPORT.unpack(report[1:])
            code = 128 + os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else os.WEXITSTATUS(wait_status)
        else:  # killed here at the timeout or the output cap
            survivors = 0
            code = 128 + signal.SIGKILL
        # Keys in the user keyrings belong to the sandbox's user namespace, which outlives the run.
        libc.syscall(KEYCTL, KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING)
        libc.syscall(KEYCTL, KEYCTL_CLEAR, KEY_SPEC_USER_SESSION_KEYRING)
        if outcome == INTERNAL_ERROR:
            out, err = b'', b'zygote: the run did not start: ' + bytes(err[-2000:])
        reply = RESPONSE.pack(b'KZRS', seq, outcome, code, survivors, len(out), len(err)) + bytes(out) + bytes(err)
    except Exception as e:
        message = ('zygote: %s: %s' % (type(e).__name__, e)).encode()
        reply = RESPONSE.pack(b'KZRS', seq, INTERNAL_ERROR, 0, 0, 0, len(message)) + message
    write_all(CTL_OUT, reply)
    os._exit(0)


gc.freeze()  # the forks share our pages; collections in them should not touch (and copy) ours
write_all(CTL_OUT, RESPONSE.pack(b'KZRS', 0, EXITED, 0, 0, 0, 0) + IDLE)  # ready
poller = select.poll()
poller.register(CTL_IN, select.POLLIN)
while True:
    poller.poll()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            supervisor()
        finally:
            os._exit(5)
    status = os.waitpid(pid, 0)[1]
    if status != 0:
        # 3: the host closed the pipe. Anything else: the supervisor broke (OOM, a bug) and may have left half a
        # frame; only the host can sort that out, by ending this worker and re-running the request cold.
        os._exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3 else 6)
    write_all(CTL_OUT, IDLE)
