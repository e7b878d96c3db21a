/*
 * fipscheck-helper: fipscheck's own program inside the containers it probes.
 *
 *   fipscheck-helper wait SECONDS
 *       The keepalive: PID 1 of fipscheck's container for an image. Reaps the processes
 *       orphaned to it and exits after SECONDS (a lease: a container left behind by a run
 *       killed outright stops, and the engine removes it, since fipscheck creates it with
 *       AutoRemove). Nothing of the image is used to keep the container alive.
 *   fipscheck-helper run SECONDS MAX_BYTES -- CMD ARGS...
 *       Runs CMD (searched in $PATH when it has no slash) in a process group of its own with
 *       a deadline and a cap on its output (stdout and stderr together). Past either, the
 *       group is killed, the last line of stderr is "fipscheck-helper: limit: ..." and the
 *       exit code is 125. Otherwise CMD's exit code (128 + signal when killed). Every command
 *       fipscheck runs in a container goes through this, so a probe that loads a hostile
 *       library which blocks or floods ends here, not in the container forever.
 *   fipscheck-helper remove PATH...
 *       Unlinks the files fipscheck copied into a container that is not its own, and their
 *       directories when empty: works in images without `rm`.
 *
 * Written without a C library on purpose: it must start in every image (FROM scratch,
 * distroless, musl, any glibc), so it is a static freestanding executable of a few KiB
 * making a dozen system calls itself. No libc-free library is packaged for Debian (the
 * kernel's nolibc lives only in its source tree), and a static glibc would be 800 KiB.
 * Built for x86-64 and aarch64 (see the Makefile).
 */

typedef unsigned long size_t;
typedef long ssize_t;

#if defined(__x86_64__)
enum {
    SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_rt_sigprocmask = 14, SYS_clone = 56,
    SYS_execve = 59, SYS_wait4 = 61, SYS_kill = 62, SYS_setpgid = 109, SYS_clock_gettime = 228,
    SYS_clock_nanosleep = 230, SYS_exit_group = 231, SYS_unlinkat = 263, SYS_ppoll = 271,
    SYS_dup3 = 292, SYS_pipe2 = 293,
};

static long syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                     "r"(r9) : "rcx", "r11", "memory");
    return ret;
}

__asm__(".text\n.global _start\n_start:\n"
        "  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call helper_start\n  hlt\n");
#elif defined(__aarch64__)
enum {
    SYS_dup3 = 24, SYS_unlinkat = 35, SYS_pipe2 = 59, SYS_close = 57, SYS_read = 63,
    SYS_write = 64, SYS_ppoll = 73, SYS_exit_group = 94, SYS_clock_gettime = 113,
    SYS_clock_nanosleep = 115, SYS_kill = 129, SYS_rt_sigprocmask = 135, SYS_setpgid = 154,
    SYS_clone = 220, SYS_execve = 221, SYS_wait4 = 260,
};

static long syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}

__asm__(".text\n.global _start\n_start:\n"
        "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  and sp, x0, #-16\n  bl helper_start\n"
        "  brk #0\n");
#else
#error "fipscheck-helper: only x86-64 and aarch64"
#endif

#define sys1(n, a) syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#define EINTR 4
#define ECHILD 10
#define ENOENT 2
#define SIGKILL 9
#define SIGCHLD 17
#define O_CLOEXEC 02000000
#define AT_FDCWD (-100)
#define AT_REMOVEDIR 0x200
#define WNOHANG 1
#define POLLIN 0x001
#define CLOCK_MONOTONIC 1
#define LIMIT_EXIT 125
#define EXEC_FAILED_EXIT 127

struct timespec { long tv_sec; long tv_nsec; };
struct pollfd { int fd; short events; short revents; };

/* The compiler may emit calls to these for struct copies and zeroing. */
void *memset(void *dest, int c, size_t n)
{
    unsigned char *d = dest;
    while (n--)
        *d++ = (unsigned char)c;
    return dest;
}

void *memcpy(void *dest, const void *src, size_t n)
{
    unsigned char *d = dest;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dest;
}

static __attribute__((noreturn)) void exit_now(int code)
{
    for (;;)
        sys1(SYS_exit_group, code);
}

static size_t length(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static void write_all(int fd, const char *data, size_t n)
{
    while (n > 0) {
        long done = sys3(SYS_write, fd, data, n);
        if (done == -EINTR)
            continue;
        if (done <= 0)
            return; /* the reader went away: nothing more to say */
        data += done;
        n -= (size_t)done;
    }
}

static void say(const char *a, const char *b, const char *c)
{
    write_all(2, "fipscheck-helper: ", 18);
    write_all(2, a, length(a));
    write_all(2, b, length(b));
    write_all(2, c, length(c));
    write_all(2, "\n", 1);
}

/* A decimal argument; -1 when it is not one. */
static long number(const char *s)
{
    long n = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > 1000000000000L)
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n;
}

static void decimal(long n, char *out)
{
    char digits[24];
    int i = 0;
    do
        digits[i++] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    while (i > 0)
        *out++ = digits[--i];
    *out = 0;
}

static long now_ms(void)
{
    struct timespec t;
    sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &t, 0);
}

/* ---- wait: the keepalive ---------------------------------------------------------------- */

static int keepalive(long seconds)
{
    long end = now_ms() + seconds * 1000;
    for (;;) {
        while (sys4(SYS_wait4, -1, 0, WNOHANG, 0) > 0)
            ; /* reap orphans of exec'd commands */
        long left = end - now_ms();
        if (left <= 0)
            return 0;
        sleep_ms(left < 1000 ? left : 1000);
    }
}

/* ---- run: a command with a deadline and an output cap ----------------------------------- */

static const char *getenv_in(char **envp, const char *name)
{
    size_t n = length(name);
    for (; *envp; envp++) {
        const char *e = *envp;
        size_t i = 0;
        while (i < n && e[i] == name[i])
            i++;
        if (i == n && e[n] == '=')
            return e + n + 1;
    }
    return 0;
}

/* execve CMD, searching $PATH (Docker's default when unset) as execvp does. */
static long exec_command(char **argv, char **envp)
{
    const char *cmd = argv[0];
    for (const char *c = cmd; *c; c++)
        if (*c == '/')
            return sys3(SYS_execve, cmd, argv, envp);
    const char *path = getenv_in(envp, "PATH");
    if (!path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    long error = -ENOENT;
    char buffer[4096];
    size_t cmd_len = length(cmd);
    while (*path) {
        size_t dir_len = 0;
        while (path[dir_len] && path[dir_len] != ':')
            dir_len++;
        if (dir_len > 0 && dir_len + cmd_len + 2 <= sizeof buffer) {
            memcpy(buffer, path, dir_len);
            buffer[dir_len] = '/';
            memcpy(buffer + dir_len + 1, cmd, cmd_len + 1);
            long r = sys3(SYS_execve, buffer, argv, envp);
            if (r != -ENOENT)
                error = r;
        }
        path += dir_len + (path[dir_len] == ':');
    }
    return error;
}

static int run(long seconds, long max_bytes, char **argv, char **envp)
{
    int out[2], err[2];
    if (sys2(SYS_pipe2, out, O_CLOEXEC) < 0 || sys2(SYS_pipe2, err, O_CLOEXEC) < 0) {
        say("cannot make pipes", "", "");
        return EXEC_FAILED_EXIT;
    }
    long pid = sys5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        say("cannot start ", argv[0], "");
        return EXEC_FAILED_EXIT;
    }
    if (pid == 0) {
        sys2(SYS_setpgid, 0, 0);
        sys3(SYS_dup3, out[1], 1, 0);
        sys3(SYS_dup3, err[1], 2, 0);
        long error = exec_command(argv, envp);
        say("cannot execute ", argv[0], error == -ENOENT ? ": not found" : ": not executable");
        exit_now(EXEC_FAILED_EXIT);
    }
    sys2(SYS_setpgid, pid, pid); /* also here: no window where the group does not exist */
    sys1(SYS_close, out[1]);
    sys1(SYS_close, err[1]);

    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    long deadline = now_ms() + seconds * 1000, total = 0;
    const char *limit = 0;
    char buffer[65536];
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        long left = deadline - now_ms();
        if (left <= 0) {
            limit = "deadline";
            break;
        }
        struct timespec wait = {left / 1000, (left % 1000) * 1000000};
        long ready = sys4(SYS_ppoll, fds, 2, &wait, 0);
        if (ready < 0 && ready != -EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            long n = sys3(SYS_read, fds[i].fd, buffer, sizeof buffer);
            if (n == -EINTR)
                continue;
            if (n <= 0) {
                sys1(SYS_close, fds[i].fd);
                fds[i].fd = -1;
                continue;
            }
            if (total + n > max_bytes) {
                write_all(i + 1, buffer, (size_t)(max_bytes - total));
                total = max_bytes;
                limit = "output";
                break;
            }
            write_all(i + 1, buffer, (size_t)n);
            total += n;
        }
        if (limit)
            break;
    }
    int status = 0;
    if (limit)
        sys2(SYS_kill, -pid, SIGKILL);
    while (sys4(SYS_wait4, pid, &status, 0, 0) == -EINTR)
        ;
    sys2(SYS_kill, -pid, SIGKILL); /* whatever the command left running in its group */
    if (limit) {
        char amount[24];
        decimal(limit[0] == 'd' ? seconds : max_bytes, amount);
        write_all(2, "\n", 1);
        if (limit[0] == 'd')
            say("limit: deadline of ", amount, " s passed; the command was killed");
        else
            say("limit: output cap of ", amount, " bytes reached; the command was killed");
        return LIMIT_EXIT;
    }
    if ((status & 0x7f) == 0)
        return (status >> 8) & 0xff;
    return 128 + (status & 0x7f);
}

/* ---- remove: files copied into a container that is not ours ----------------------------- */

static int remove_files(char **paths)
{
    int failed = 0;
    for (char **p = paths; *p; p++) {
        long r = sys3(SYS_unlinkat, AT_FDCWD, *p, 0);
        if (r < 0 && r != -ENOENT) {
            say("cannot remove ", *p, "");
            failed = 1;
        }
    }
    for (char **p = paths; *p; p++) { /* then their directories, if now empty */
        char dir[4096];
        size_t n = length(*p), slash = 0;
        if (n >= sizeof dir)
            continue;
        memcpy(dir, *p, n + 1);
        for (size_t i = 0; i < n; i++)
            if (dir[i] == '/')
                slash = i;
        if (slash > 0) {
            dir[slash] = 0;
            sys3(SYS_unlinkat, AT_FDCWD, dir, AT_REMOVEDIR);
        }
    }
    return failed;
}

static int usage(void)
{
    say("usage: fipscheck-helper wait SECONDS | run SECONDS MAX_BYTES -- CMD ARGS... | "
        "remove PATH...", "", "");
    return 2;
}

__attribute__((used, noreturn)) void helper_start(long *stack)
{
    long argc = stack[0];
    char **argv = (char **)(stack + 1);
    char **envp = argv + argc + 1;
    if (argc >= 3 && same(argv[1], "wait") && number(argv[2]) >= 0)
        exit_now(keepalive(number(argv[2])));
    if (argc >= 6 && same(argv[1], "run") && number(argv[2]) > 0 && number(argv[3]) > 0
        && same(argv[4], "--"))
        exit_now(run(number(argv[2]), number(argv[3]), argv + 5, envp));
    if (argc >= 3 && same(argv[1], "remove"))
        exit_now(remove_files(argv + 2));
    exit_now(usage());
}
