/* embed: Python initialisation for the zygote and the handover to the
 * runtime package (worker/runtime/akernel_runtime) in each worker. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/bridge.h"
#include "worker/embed.h"

#define SYSTEM_PYTHON L"/usr/bin/python3"

/* The runtime package: AKERNEL_GATEWAY_RUNTIME, else installed next to the
 * binary (../share/akernel-gateway/runtime), else the source tree. */
static void runtime_dir(char *out, size_t outlen)
{
    const char *env = getenv("AKERNEL_GATEWAY_RUNTIME");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return;
    }
    char self[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    struct stat st;
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        snprintf(out, outlen, "%s/../share/akernel-gateway/runtime", self);
        if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
            return;
    }
    snprintf(out, outlen, "%s", AKG_RUNTIME_SOURCE_DIR);
}

static void python_error(char *err, size_t errlen, const char *what)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *text = value ? PyObject_Str(value) : NULL;
    const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
    snprintf(err, errlen, "%s: %s", what, msg ? msg : "unknown Python error");
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}

static int start_interpreter(char *err, size_t errlen)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    config.install_signal_handlers = 1;
    wchar_t *argv[] = {L""};
    PyStatus st = PyConfig_SetString(&config, &config.program_name, SYSTEM_PYTHON);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&config, &config.executable, SYSTEM_PYTHON);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetArgv(&config, 1, argv);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "cannot start Python: %s", st.err_msg ? st.err_msg : "unknown error");
        return -1;
    }
    return 0;
}

int embed_init(const char *modes, const char *preload, char *err, size_t errlen)
{
    if (bridge_register() < 0 || start_interpreter(err, errlen) < 0)
        return -1;
    char dir[PATH_MAX];
    runtime_dir(dir, sizeof dir);
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *entry = PyUnicode_FromString(dir);
    if (!path || !entry || PyList_Insert(path, 0, entry) < 0) {
        Py_XDECREF(entry);
        python_error(err, errlen, "cannot extend sys.path");
        return -1;
    }
    Py_DECREF(entry);
    PyObject *zygote = PyImport_ImportModule("akernel_runtime.zygote");
    PyObject *r = zygote ? PyObject_CallMethod(zygote, "prepare", "ss", modes, preload) : NULL;
    Py_XDECREF(zygote);
    if (!r) {
        python_error(err, errlen, "cannot prepare the runtime");
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

void embed_setenv(const char *name, const char *value)
{
    PyObject *os = PyImport_ImportModule("os");
    PyObject *environ = os ? PyObject_GetAttrString(os, "environ") : NULL;
    PyObject *v = PyUnicode_DecodeFSDefault(value);
    if (!environ || !v || PyMapping_SetItemString(environ, name, v) < 0) /* also putenv()s */
        PyErr_Clear();
    Py_XDECREF(v);
    Py_XDECREF(environ);
    Py_XDECREF(os);
}

void embed_before_fork(void) { PyOS_BeforeFork(); }
void embed_after_fork_parent(void) { PyOS_AfterFork_Parent(); }

int embed_run_worker(void)
{
    PyOS_AfterFork_Child();
    PyObject *worker = PyImport_ImportModule("akernel_runtime.worker");
    PyObject *r = worker ? PyObject_CallMethod(worker, "main", NULL) : NULL;
    Py_XDECREF(worker);
    if (!r) {
        PyErr_Print();
        return 1;
    }
    Py_DECREF(r);
    return 0;
}
