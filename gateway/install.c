/* install: write a kernelspec so Jupyter (JupyterLab, nbclient, jupyter
 * console) can start this kernel: kernels/akernel[-MODE]/kernel.json under
 * the system data dir (as root), the user's (--user or not root) or a
 * prefix (--prefix P). With --attach, kernels/akernel-service[-MODE] runs
 * `akernel-gateway attach`, which hands the notebook to the shared service. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/modes.h"
#include "gateway/install.h"

static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static void data_dir(const char *prefix, bool user, char *out, size_t outlen)
{
    const char *jdd = getenv("JUPYTER_DATA_DIR"), *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (prefix)
        snprintf(out, outlen, "%s/share/jupyter", prefix);
    else if (!user)
        snprintf(out, outlen, "/usr/local/share/jupyter");
    else if (jdd && *jdd)
        snprintf(out, outlen, "%s", jdd);
    else if (xdg && *xdg)
        snprintf(out, outlen, "%s/jupyter", xdg);
    else
        snprintf(out, outlen, "%s/.local/share/jupyter", home ? home : ".");
}

/* A kernelspec that launches a kernel per notebook, or (attach) that hands
 * each notebook to the shared service on `socket`. */
static json_t *kernelspec(const char *self, const char *mode, bool attach, const char *socket)
{
    char display[160];
    snprintf(display, sizeof display, "Python 3 (akernel-gateway%s%s%s)", attach ? " service" : "",
             *mode ? ", " : "", mode);
    json_t *argv = json_pack("[s, s]", self, attach ? "attach" : "launch");
    if (attach && socket) {
        json_array_append_new(argv, json_string("--socket"));
        json_array_append_new(argv, json_string(socket));
    }
    if (*mode) {
        if (attach)
            json_array_append_new(argv, json_string("--mode"));
        json_array_append_new(argv, json_string(mode));
    }
    json_array_append_new(argv, json_string("-f"));
    json_array_append_new(argv, json_string("{connection_file}"));
    return json_pack("{s:o, s:s, s:s, s:s, s:{s:b}}", "argv", argv, "display_name", display,
                     "language", "python", "interrupt_mode", "message", "metadata", "debugger", 0);
}

static void usage(void)
{
    fprintf(stderr, "usage: akernel-gateway install [MODE] [--attach [--socket PATH]] [--user | --prefix PREFIX]\n"
                    "  writes the kernelspec akernel (or akernel-MODE, e.g. akernel-multi-concurrent);\n"
                    "  with --attach, akernel-service[-MODE]: notebooks run on `akernel-gateway serve`\n");
}

int install_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"user", no_argument, NULL, 'u'},
                                             {"prefix", required_argument, NULL, 'p'},
                                             {"attach", no_argument, NULL, 'a'},
                                             {"socket", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    bool user = geteuid() != 0, attach = false;
    const char *prefix = NULL, *socket = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'u')
            user = true;
        else if (c == 'p')
            prefix = optarg;
        else if (c == 'a')
            attach = true;
        else if (c == 's')
            socket = optarg;
        else {
            usage();
            return 2;
        }
    }
    unsigned modes = 0;
    char mode[80], err[256];
    if (optind < argc && modes_parse(argv[optind++], &modes, err, sizeof err) < 0) {
        fprintf(stderr, "akernel-gateway: %s\n", err);
        return 2;
    }
    if (optind < argc) {
        usage();
        return 2;
    }
    modes_format(modes, mode, sizeof mode);
    char self[PATH_MAX], dir[PATH_MAX + 256], file[PATH_MAX + 300];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        perror("akernel-gateway: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    char base[PATH_MAX];
    data_dir(prefix, user, base, sizeof base);
    const char *name = attach ? "akernel-service" : "akernel";
    snprintf(dir, sizeof dir, "%s/kernels/%s%s%s", base, name, *mode ? "-" : "", mode);
    snprintf(file, sizeof file, "%s/kernel.json", dir);
    json_t *spec = kernelspec(self, mode, attach, socket);
    if (make_dirs(dir) < 0 || !spec || json_dump_file(spec, file, JSON_INDENT(2)) < 0) {
        fprintf(stderr, "akernel-gateway: cannot write %s: %s\n", file, strerror(errno));
        json_decref(spec);
        return 1;
    }
    json_decref(spec);
    printf("Installed kernelspec %s%s%s in %s\n", name, *mode ? "-" : "", mode, dir);
    return 0;
}
