# Warm sandbox worker ("zygote"). Runs as pid 1 of a bwrap sandbox, started by the host with `python3 -I -B -c`.
# Per request it forks a child that runs /sandbox/main.py as `python3 main.py` would, enforces the wall clock and the
# output caps, then kills every other process of the namespace and wipes all run state before it replies.
# Being pid 1 matters: signals from inside the namespace (kill(-1), kill(getppid())) never reach it, orphans are
# reparented to it, and its kill(-1) reaches every other process of the namespace.
# Protocol (little-endian) on fds 0/1 of the sandbox, see ZygoteProtocol.cs.
import sys

_BASE_MODULES = set(sys.modules)

import ctypes
import gc
import os
import select
import signal
import struct
import time

REQUEST = struct.Struct('<4sQ16sIIIQQIIII')
RESPONSE = struct.Struct('<4sQBiIII')
EXITED, TIMED_OUT, OUTPUT_LIMIT, INTERNAL_ERROR = 0, 1, 2, 3
PROGRAM = '/sandbox/main.py'
WORK_DIR = '/tmp'
PLACEHOLDER = b'KLEAR_SANDBOX_ZYG=' + b'0' * 16
KEYCTL, KEYCTL_CLEAR, KEYCTL_JOIN_SESSION_KEYRING = 250, 7, 1
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5

libc = ctypes.CDLL(None, use_errno=True)
# A run's process has our uid: without this it could ptrace us or open /proc/1/mem and /proc/1/fd/* (our control
# pipes) and forge a later run's result. Non-dumpable makes /proc/1/* root-owned and ptrace need CAP_SYS_PTRACE.
if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
    sys.stderr.write('zygote: prctl(PR_SET_DUMPABLE, 0) failed\n')
    sys.exit(2)
# Python's SIGINT handler would let a child interrupt us (pid 1 only ignores signals it has no handler for).
signal.signal(signal.SIGINT, signal.SIG_DFL)

WORK_DIR_MODE = os.stat(WORK_DIR).st_mode & 0o7777
CTL_IN = os.dup(0)
CTL_OUT = os.dup(1)
_null = os.open('/dev/null', os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)
os.close(_null)


def read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(CTL_IN, n - len(buf))
        if not chunk:
            os._exit(0)  # the host closed the pipe: shut down
        buf += chunk
    return bytes(buf)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def kill_all():
    """SIGKILLs every process of the namespace but us and reaps them; returns how many there were."""
    n = 0
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(-1, 0)
            n += 1
        except ChildProcessError:
            return n


def wipe(path):
    for entry in os.scandir(path):
        p = entry.path
        if entry.is_dir(follow_symlinks=False):
            os.chmod(p, 0o700)  # a run may have made its dirs unreadable; it cannot make them not ours
            wipe(p)
            os.rmdir(p)
        else:
            os.unlink(p)


def clear_ipc():
    # The IPC namespace outlives runs: SysV objects would carry data from one run to the next.
    for kind, rm in (('shm', lambda i: libc.shmctl(i, 0, None)), ('sem', lambda i: libc.semctl(i, 0, 0)),
                     ('msg', lambda i: libc.msgctl(i, 0, None))):
        with open('/proc/sysvipc/' + kind) as f:
            lines = f.read().splitlines()[1:]
        for line in lines:
            rm(int(line.split()[1]))
    # So would keys in the user keyrings (per user namespace, and ours lives as long as we do).
    libc.syscall(KEYCTL, KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING)
    libc.syscall(KEYCTL, KEYCTL_CLEAR, KEY_SPEC_USER_SESSION_KEYRING)


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


def child(req, fds):
    """Never returns: becomes the run's main process."""
    run_id, cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc = req
    stdin_r, out_w, err_w = fds
    os.dup2(stdin_r, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 1 << 20)  # fork copies every fd: the control pipes and the run's other pipe ends go here
    os.setsid()
    os.chdir(WORK_DIR)
    # Dumpable again, as a fresh python3 is: the flag guards us, not the run.
    libc.prctl(4, 1, 0, 0, 0)
    mark_run(run_id)
    # A fresh anonymous session keyring: the inherited one is shared with every earlier run.
    libc.syscall(KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
    R = __import__('resource')
    for lim, soft, hard in ((R.RLIMIT_CPU, cpu_soft, cpu_hard), (R.RLIMIT_AS, as_bytes, as_bytes),
                            (R.RLIMIT_FSIZE, fsize, fsize), (R.RLIMIT_NOFILE, nofile, nofile),
                            (R.RLIMIT_NPROC, nproc, nproc), (R.RLIMIT_CORE, 0, 0),
                            # POSIX message queues cannot be listed from inside to be wiped; none may be made.
                            (R.RLIMIT_MSGQUEUE, 0, 0)):
        R.setrlimit(lim, (soft, hard))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # What a fresh interpreter would have loaded, and nothing of ours.
    for name in list(sys.modules):
        if name not in _BASE_MODULES:
            del sys.modules[name]
    import builtins
    main = type(sys)('__main__')
    main.__file__ = PROGRAM
    main.__builtins__ = builtins
    main.__cached__ = None
    sys.modules['__main__'] = main
    sys.argv[:] = [PROGRAM]
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
        if tb is not None and tb.tb_frame.f_code is child.__code__:
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


def supervise(pid, stdin_w, stdin_data, out_r, err_r, timeout, cap):
    """Returns (kind, wait status or None, stdout, stderr)."""
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(pid)
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
                    status = os.waitpid(pid, 0)[1]
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
        # The main process is done: what it (or a leftover) already wrote is in the pipes.
        for fd in captured:
            os.set_blocking(fd, False)
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                if take(fd, data):
                    return OUTPUT_LIMIT, status, captured[out_r], captured[err_r]
        return EXITED, status, captured[out_r], captured[err_r]
    finally:
        os.close(pidfd)
        if stdin_w >= 0:
            os.close(stdin_w)


def serve(header):
    _, seq, run_id, timeout_ms, cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc, cap, stdin_len = header
    stdin_data = read_exact(stdin_len)
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            child((run_id, cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc), (stdin_r, out_w, err_w))
        except BaseException as e:
            # Before the program started: a setup failure of ours, reported on the run's stderr (fd 2 by now).
            os.write(2, ('zygote child: %s: %s\n' % (type(e).__name__, e)).encode())
        finally:
            os._exit(127)
    os.close(stdin_r)
    os.close(out_w)
    os.close(err_w)
    try:
        kind, status, out, err = supervise(pid, stdin_w, stdin_data, out_r, err_r, timeout_ms / 1000, cap)
    finally:
        os.close(out_r)
        os.close(err_r)
        survivors = kill_all()
    if status is None:  # we killed it (timeout or output cap), within kill_all
        survivors -= 1
        code = 128 + signal.SIGKILL
    elif os.WIFSIGNALED(status):
        code = 128 + os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    os.chmod(WORK_DIR, WORK_DIR_MODE)
    wipe(WORK_DIR)
    clear_ipc()
    return RESPONSE.pack(b'KZRS', seq, kind, code, survivors, len(out), len(err)) + bytes(out) + bytes(err)


gc.freeze()  # the children share our pages; collections in them should not touch (and copy) ours
write_all(CTL_OUT, RESPONSE.pack(b'KZRS', 0, EXITED, 0, 0, 0, 0))  # ready
while True:
    header = REQUEST.unpack(read_exact(REQUEST.size))
    if header[0] != b'KZRQ':
        sys.stderr.write('zygote: bad request frame\n')
        os._exit(3)
    try:
        reply = serve(header)
    except Exception as e:
        kill_all()
        message = ('zygote: %s: %s' % (type(e).__name__, e)).encode()
        reply = RESPONSE.pack(b'KZRS', header[1], INTERNAL_ERROR, 0, 0, 0, len(message)) + message
    write_all(CTL_OUT, reply)
