/* main: the akernel-gateway command line.
 *
 *   akernel-gateway [serve] [MODE] [options]   the shared service (default)
 *   akernel-gateway launch [MODE] [-f FILE]    one kernel for one connection file
 *   akernel-gateway attach -f FILE             a notebook's kernel on the service
 *   akernel-gateway status [--json]            what the service is doing
 *   akernel-gateway install [MODE] [--attach]  write a kernelspec
 *   akernel-gateway cache stats|clear          cache mode's store
 *
 * `launch` is what a plain kernelspec runs: it serves one connection file
 * until a shutdown request. Without -f it writes a connection file of its
 * own and prints how to connect to it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/cache_cli.h"
#include "gateway/client.h"
#include "gateway/gateway.h"
#include "gateway/install.h"
#include "gateway/router.h"

static void usage(void)
{
    fprintf(stderr, "usage: akernel-gateway [COMMAND] [...]\n"
                    "  serve [MODE] [options]   run the shared service (the default command)\n"
                    "  launch [MODE] [-f FILE]  run a kernel for one connection file\n"
                    "  attach -f FILE           attach a notebook to the service (kernelspecs run this)\n"
                    "  status [--json]          show the service's notebooks and workers\n"
                    "  install [MODE] [--attach] [--user | --prefix P]   write a kernelspec\n"
                    "  cache stats|clear [--cache-dir DIR]   cache mode's store\n"
                    "  --version                print the version\n"
                    "Run a command with --help for its options.\n");
}

/* Jupyter's runtime directory, created if needed (mode 0700). */
static int runtime_dir(char *out, size_t outlen)
{
    const char *env = getenv("JUPYTER_RUNTIME_DIR"), *home = getenv("HOME");
    if (env && *env)
        snprintf(out, outlen, "%s", env);
    else
        snprintf(out, outlen, "%s/.local/share/jupyter/runtime", home ? home : "/tmp");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", out);
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Write the frontend's connection file (with the ports actually bound). */
static int publish_connection_file(struct frontend *fe, const char *given, char *written, size_t len)
{
    char dir[PATH_MAX - 64], err[512];
    if (given) {
        snprintf(written, len, "%s", given);
    } else {
        if (runtime_dir(dir, sizeof dir) < 0) {
            log_error("cannot create the runtime directory %s: %s", dir, strerror(errno));
            return -1;
        }
        char id[JMSG_ID_LEN + 1];
        jmsg_new_id(id);
        snprintf(written, len, "%s/kernel-%s.json", dir, id);
    }
    if (connfile_save(written, &fe->cf, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

static bool any_port_unset(const struct connfile *cf)
{
    for (int ch = 0; ch < CH_COUNT; ch++)
        if (cf->ports[ch] == 0)
            return true;
    return false;
}

/* --help, or the options of a command: 0 to go on, else the exit status. */
static int read_options(enum gateway_command command, int argc, char **argv, struct gateway_options *opts)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        options_usage(command);
        return -1;
    }
    if (options_parse(command, argc, argv, opts) < 0)
        return 2;
    log_setup("akernel-gateway", opts->log_level);
    return 0;
}

static int launch_main(int argc, char **argv)
{
    struct gateway_options opts;
    int rc = read_options(CMD_LAUNCH, argc, argv, &opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    static struct gateway gw; /* big enough to keep off the stack */
    char err[1024], path[PATH_MAX];
    struct connfile cf = {0};
    int status = 1;
    if (gateway_init(&gw, &opts, err, sizeof err) < 0)
        goto fail;
    if (opts.connection_file ? connfile_load(opts.connection_file, &cf, err, sizeof err)
                             : connfile_init_default(&cf)) {
        if (!opts.connection_file)
            snprintf(err, sizeof err, "cannot make a key: no random bytes");
        goto fail;
    }
    bool must_write = !opts.connection_file || any_port_unset(&cf);
    struct frontend *fe = frontend_open(&gw, &cf, &gw.self, err, sizeof err);
    if (!fe)
        goto fail;
    if (must_write && publish_connection_file(fe, opts.connection_file, path, sizeof path) < 0)
        goto done;
    if (!opts.connection_file) {
        printf("akernel-gateway %s is running (mode: %s). Connect with:\n"
               "    jupyter console --existing %s\n",
               AKG_VERSION, opts.mode_name[0] ? opts.mode_name : "default", path);
        fflush(stdout);
    }
    if (gateway_start_workers(&gw) < 0)
        log_error("could not start the workers; cells will fail until one starts");
    gateway_run(&gw);
    status = 0;
    goto done;
fail:
    log_error("%s", err);
done:
    connfile_free(&cf);
    gateway_cleanup(&gw);
    if (!opts.connection_file && status == 0)
        unlink(path);
    return status;
}

static int serve_main(int argc, char **argv)
{
    struct gateway_options opts;
    int rc = read_options(CMD_SERVE, argc, argv, &opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    static struct gateway gw;
    char err[1024];
    int status = 1;
    if (gateway_init(&gw, &opts, err, sizeof err) < 0)
        goto fail;
    gw.listen_fd = systemd_listen_fd();
    gw.socket_activated = gw.listen_fd >= 0;
    if (control_listen(&gw, err, sizeof err) < 0)
        goto fail;
    if (gateway_start_workers(&gw) < 0)
        log_error("could not start the workers; notebooks will fail until one starts");
    log_info("serving %s as %s (mode %s, %d workers%s)", gw.socket_activated ? "a socket from systemd" : opts.socket_path,
             gw.self.name, opts.mode_name, opts.workers, opts.isolate ? ", one per session" : "");
    systemd_notify_ready(&gw);
    gateway_run(&gw);
    status = 0;
    goto done;
fail:
    log_error("%s", err);
done:
    gateway_cleanup(&gw);
    return status;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (cmd[0] == '-' && strcmp(cmd, "--help") != 0 && strcmp(cmd, "-h") != 0 && strcmp(cmd, "--version") != 0)
        return serve_main(argc, argv); /* options without a command: serve */
    if (argc < 2)
        return serve_main(argc, argv);
    if (strcmp(cmd, "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "launch") == 0)
        return launch_main(argc - 1, argv + 1);
    if (strcmp(cmd, "attach") == 0)
        return attach_main(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return status_main(argc - 1, argv + 1);
    if (strcmp(cmd, "install") == 0)
        return install_main(argc - 1, argv + 1);
    if (strcmp(cmd, "cache") == 0)
        return cache_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0) {
        printf("akernel-gateway %s\n", AKG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage();
        return 0;
    }
    fprintf(stderr, "akernel-gateway: unknown command \"%s\"\n", cmd);
    usage();
    return 2;
}
