/* host: main of akernel-gateway-worker, the zygote.
 *
 * Started by the router (never by hand) with its control socket on fd 3.
 * It initialises Python and imports the runtime once, then forks a worker
 * for each "spawn ID UID GID MEMORY" command, handing it the channel fd
 * that came with the command; the worker becomes that user (as root, the
 * service runs each user's notebooks as that user) under that memory
 * limit. It reports "spawned ID PID" and, when a worker ends, "exited PID
 * STATUS". It has no threads when it forks. It dies with the router
 * (PR_SET_PDEATHSIG) and so do its workers, which die with it. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/bridge.h"
#include "worker/embed.h"
#include "worker/output.h"

#define CONTROL_FD 3

struct zygote_args {
    pid_t router;
    const char *modes, *preload;
    int log_level;
};

static int parse_args(int argc, char **argv, struct zygote_args *a)
{
    static const struct option longopts[] = {
        {"zygote", no_argument, NULL, 'z'},          {"router-pid", required_argument, NULL, 'r'},
        {"modes", required_argument, NULL, 'm'},     {"preload", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    bool zygote = false;
    int c;
    *a = (struct zygote_args){.modes = "default", .preload = "", .log_level = LOG_LEVEL_INFO};
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'z': zygote = true; break;
        case 'r': a->router = (pid_t)atoi(optarg); break;
        case 'm': a->modes = optarg; break;
        case 'p': a->preload = optarg; break;
        case 'l': a->log_level = atoi(optarg); break;
        default: return -1;
        }
    }
    return zygote && a->router > 0 ? 0 : -1;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    char text[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (send(CONTROL_FD, text, (size_t)n, MSG_NOSIGNAL) < 0)
        log_error("cannot report to the router: %s", strerror(errno));
}

/* Die with `parent`, even if it already died before this call. */
static void die_with(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
}

/* What a worker is to run as, from the spawn command. */
struct worker_spec {
    unsigned id;
    uid_t uid;
    gid_t gid;
    size_t memory; /* address-space limit in bytes, 0: none */
};

/* Become the notebook's user: its groups, gid, uid (which leaves no
 * capability), home and environment. Dies rather than run as the wrong user. */
static void become_user(const struct worker_spec *spec, pid_t zygote)
{
    if (spec->uid == getuid())
        return;
    struct passwd *pw = getpwuid(spec->uid);
    if (!pw || initgroups(pw->pw_name, spec->gid) < 0 || setgid(spec->gid) < 0 || setuid(spec->uid) < 0 ||
        setuid(0) == 0) {
        log_error("worker %u: cannot become uid %u: %s", spec->id, (unsigned)spec->uid, strerror(errno));
        _exit(1);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); /* no setuid programs either */
    die_with(zygote); /* changing credentials cleared the parent-death signal */
    if (chdir(pw->pw_dir) < 0 && chdir("/") < 0)
        _exit(1);
    const char *env[][2] = {{"HOME", pw->pw_dir}, {"USER", pw->pw_name}, {"LOGNAME", pw->pw_name},
                            {"SHELL", pw->pw_shell}};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        embed_setenv(env[i][0], env[i][1]);
}

static void become_worker(const struct worker_spec *spec, pid_t zygote, int sigfd, int channel)
{
    die_with(zygote);
    close(CONTROL_FD);
    close(sigfd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    log_setup("akernel-worker", log_get_level());
    become_user(spec, zygote);
    struct rlimit limit = {spec->memory, spec->memory};
    if (spec->memory && setrlimit(RLIMIT_AS, &limit) < 0)
        log_warn("worker %u: cannot limit memory: %s", spec->id, strerror(errno));
    if (output_start(channel) < 0)
        _exit(1);
    bridge_set_channel(channel);
    _exit(embed_run_worker());
}

/* Receive "spawn ID" and its fd; fork the worker. Returns -1 at EOF. */
static int on_command(int sigfd)
{
    char text[64];
    int fd = -1;
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = {text, sizeof text - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space};
    ssize_t n = recvmsg(CONTROL_FD, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return n < 0 && errno == EINTR ? 0 : -1;
    text[n] = '\0';
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg && cmsg->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    struct worker_spec spec;
    unsigned uid, gid;
    if (sscanf(text, "spawn %u %u %u %zu", &spec.id, &uid, &gid, &spec.memory) != 4 || fd < 0) {
        log_error("zygote: bad command \"%s\"", text);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    spec.uid = (uid_t)uid;
    spec.gid = (gid_t)gid;
    pid_t zygote = getpid();
    embed_before_fork();
    pid_t pid = fork();
    if (pid == 0)
        become_worker(&spec, zygote, sigfd, fd);
    embed_after_fork_parent();
    close(fd);
    if (pid < 0)
        log_error("zygote: fork failed: %s", strerror(errno));
    else
        report("spawned %u %d", spec.id, (int)pid);
    return 0;
}

static void reap_workers(int sigfd)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == sizeof si)
        ;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        report("exited %d %d", (int)pid, status);
}

static int serve(void)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        log_error("zygote: signalfd: %s", strerror(errno));
        return 1;
    }
    report("ready");
    for (;;) {
        struct pollfd fds[] = {{CONTROL_FD, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            return 1;
        if (fds[1].revents)
            reap_workers(sigfd);
        if (fds[0].revents && on_command(sigfd) < 0)
            return 0; /* the router closed the socket */
    }
}

int main(int argc, char **argv)
{
    struct zygote_args a;
    if (parse_args(argc, argv, &a) < 0) {
        fprintf(stderr, "akernel-gateway-worker is started by akernel-gateway, not by hand\n");
        return 2;
    }
    log_setup("akernel-zygote", (enum log_level)a.log_level);
    die_with(a.router);
    setpgid(0, 0); /* a terminal's Ctrl-C and killpg reach the router only */
    char err[1024];
    if (embed_init(a.modes, a.preload, err, sizeof err) < 0) {
        log_error("%s", err);
        return 1;
    }
    signal(SIGINT, SIG_IGN); /* interrupts are for workers; they set their own handler */
    return serve();
}
