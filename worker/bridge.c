/* bridge: the `_akernel` built-in module that the Python runtime uses to
 * talk to the router over the worker's channel:
 *
 *   recv() -> list of tuples of bytes   every complete message waiting
 *   send(*parts)                         one event (str parts are UTF-8)
 *   stream(req, name, text)              queue stdout (1) / stderr (2) text
 *   flush()                              write everything queued now
 *   collect()                            queue pending C-level output, no write
 *   set_current(req)                     request whose code runs now
 *   fileno()                             the channel, for the event loop
 *   log(text)                            a line in the kernel's log
 *   record(req), take_record(req)        copy a request's iopub events
 *
 * recv raises EOFError when the router has closed the channel. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <sys/socket.h>

#include "common/chan.h"
#include "common/log.h"
#include "worker/bridge.h"
#include "worker/output.h"

static struct {
    int fd;
    struct buf in;
} channel = {.fd = -1};

void bridge_set_channel(int fd) { channel.fd = fd; }

/* Read all that is waiting; returns -1 at EOF or on error. */
static int read_available(void)
{
    for (;;) {
        if (buf_reserve(&channel.in, 65536) < 0) {
            errno = ENOMEM;
            return -1;
        }
        size_t room = channel.in.cap - channel.in.len;
        ssize_t n = recv(channel.fd, channel.in.data + channel.in.len, room, MSG_DONTWAIT);
        if (n > 0) {
            channel.in.len += (size_t)n;
            if ((size_t)n < room)
                return 0; /* drained (the loop polls again if not) */
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n == 0)
            errno = 0;
        return -1;
    }
}

static PyObject *message_tuple(const struct chan_msg *m)
{
    PyObject *t = PyTuple_New((Py_ssize_t)m->nparts);
    for (size_t i = 0; t && i < m->nparts; i++) {
        PyObject *b = PyBytes_FromStringAndSize(m->parts[i].data, (Py_ssize_t)m->parts[i].len);
        if (!b) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, b);
    }
    return t;
}

static PyObject *bridge_recv(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    int rc = read_available();
    PyObject *list = PyList_New(0);
    for (;;) {
        struct chan_msg m;
        size_t used;
        enum chan_status st = chan_decode(buf_head(&channel.in), buf_pending(&channel.in), &m, &used);
        if (st == CHAN_INCOMPLETE)
            break;
        if (st == CHAN_INVALID) {
            Py_XDECREF(list);
            PyErr_SetString(PyExc_RuntimeError, "corrupt message from the router");
            return NULL;
        }
        PyObject *t = message_tuple(&m);
        buf_consume(&channel.in, used);
        if (!t || !list || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_XDECREF(list);
            return NULL;
        }
        Py_DECREF(t);
    }
    if (rc < 0 && list && PyList_GET_SIZE(list) == 0) {
        Py_DECREF(list);
        if (errno)
            return PyErr_SetFromErrno(PyExc_OSError);
        PyErr_SetString(PyExc_EOFError, "the router closed the channel");
        return NULL;
    }
    return list;
}

/* Borrow the bytes of a str (as UTF-8) or bytes-like part. */
static int part_span(PyObject *o, struct span *s)
{
    Py_ssize_t len;
    if (PyUnicode_Check(o)) {
        s->data = PyUnicode_AsUTF8AndSize(o, &len);
    } else if (PyBytes_Check(o)) {
        s->data = PyBytes_AS_STRING(o);
        len = PyBytes_GET_SIZE(o);
    } else {
        PyErr_SetString(PyExc_TypeError, "event parts must be str or bytes");
        return -1;
    }
    if (!s->data)
        return -1;
    s->len = (size_t)len;
    return 0;
}

static PyObject *bridge_send(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    struct span parts[CHAN_MAX_PARTS];
    if (n > CHAN_MAX_PARTS) {
        PyErr_SetString(PyExc_ValueError, "too many parts");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (part_span(PyTuple_GET_ITEM(args, i), &parts[i]) < 0)
            return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = output_send(parts, (size_t)n);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_SetString(PyExc_OSError, "no channel to the router in this process");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *bridge_stream(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned long long req;
    int name;
    PyObject *text;
    if (!PyArg_ParseTuple(args, "KiU", &req, &name, &text))
        return NULL;
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &len);
    PyObject *encoded = NULL;
    if (!utf8) { /* lone surrogates: show a replacement character */
        PyErr_Clear();
        encoded = PyUnicode_AsEncodedString(text, "utf-8", "replace");
        if (!encoded)
            return NULL;
        utf8 = PyBytes_AS_STRING(encoded);
        len = PyBytes_GET_SIZE(encoded);
    }
    output_stream((uint64_t)req, name, utf8, (size_t)len);
    Py_XDECREF(encoded);
    Py_RETURN_NONE;
}

static PyObject *bridge_flush(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    Py_BEGIN_ALLOW_THREADS
    output_flush();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *bridge_collect(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    output_collect();
    Py_RETURN_NONE;
}

static PyObject *bridge_set_current(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long long req = PyLong_AsUnsignedLongLong(arg);
    if (req == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    output_set_current((uint64_t)req);
    Py_RETURN_NONE;
}

static PyObject *bridge_record(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long long req = PyLong_AsUnsignedLongLong(arg);
    if (req == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (output_record((uint64_t)req) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "too many cells are being recorded at once");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *bridge_take_record(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long long req = PyLong_AsUnsignedLongLong(arg);
    if (req == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    struct buf events = output_take_record((uint64_t)req);
    PyObject *list = PyList_New(0);
    size_t off = 0;
    while (list && off < events.len) {
        struct chan_msg m;
        size_t used;
        if (chan_decode(events.data + off, events.len - off, &m, &used) != CHAN_OK)
            break;
        PyObject *t = message_tuple(&m);
        if (!t || PyList_Append(list, t) < 0)
            Py_CLEAR(list);
        Py_XDECREF(t);
        off += used;
    }
    buf_free(&events);
    return list;
}

static PyObject *bridge_log(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *text = PyUnicode_AsUTF8(arg);
    if (!text)
        return NULL;
    log_warn("%s", text);
    Py_RETURN_NONE;
}

static PyObject *bridge_fileno(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    return PyLong_FromLong(channel.fd);
}

static PyMethodDef bridge_methods[] = {
    {"recv", bridge_recv, METH_NOARGS, "Every complete message from the router, as tuples of bytes."},
    {"send", bridge_send, METH_VARARGS, "Send one event to the router."},
    {"stream", bridge_stream, METH_VARARGS, "Queue stream text: stream(req, name, text)."},
    {"flush", bridge_flush, METH_NOARGS, "Write everything queued now."},
    {"collect", bridge_collect, METH_NOARGS, "Queue what C stdio buffers and fds 1, 2 hold (no write)."},
    {"set_current", bridge_set_current, METH_O, "Attribute fd-level output to this request."},
    {"log", bridge_log, METH_O, "Write a line to the kernel's log (not to a cell)."},
    {"record", bridge_record, METH_O, "Record the iopub events of request req (cache mode)."},
    {"take_record", bridge_take_record, METH_O, "Stop recording req: its events, as tuples of bytes."},
    {"fileno", bridge_fileno, METH_NOARGS, "The channel's file descriptor."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef bridge_module = {PyModuleDef_HEAD_INIT, "_akernel",
                                           "The worker's channel to the akernel-gateway router.",
                                           -1, bridge_methods, NULL, NULL, NULL, NULL};

static PyObject *bridge_init(void)
{
    PyObject *m = PyModule_Create(&bridge_module);
    if (m && PyModule_AddObject(m, "CURRENT", PyLong_FromUnsignedLongLong(OUTPUT_CURRENT)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

int bridge_register(void) { return PyImport_AppendInittab("_akernel", bridge_init); }
