/* output: ordered, batched worker output with fd capture; see output.h. */
#include "worker/output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/chan.h"
#include "common/jstr.h"
#include "common/log.h"

#define FLUSH_MS 50
#define MAX_TAPES 16 /* cells being recorded at once (cache mode) */
#define FLUSH_BYTES (64u << 10) /* write at once past this much (and stream messages stay this small) */

struct chunk {
    uint64_t req;
    int name;
    struct buf text;
};

static struct {
    pthread_mutex_t lock;
    int channel;  /* -1 in a process forked by user code */
    int pipes[3]; /* read ends for fd 1 and 2, by stream name */
    int timer;    /* timerfd: wakes the helper thread FLUSH_MS after output is queued */
    struct chunk *chunks;
    size_t nchunks, cap;
    struct buf queue;      /* encoded events waiting to be written */
    struct tape {          /* a recording of one request's iopub events */
        char id[24];
        struct buf events; /* encoded as on the channel */
    } tapes[MAX_TAPES];
    size_t pending;        /* bytes in chunks and queue */
    struct timespec first; /* when the oldest pending byte arrived */
    uint64_t current;
    struct buf json;
} out = {.lock = PTHREAD_MUTEX_INITIALIZER, .channel = -1, .pipes = {-1, -1, -1}, .timer = -1};

/* Wake the helper thread `ms` from now (arming a timer wakes no one now). */
static void arm_timer(long ms)
{
    struct itimerspec when = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
    if (out.timer >= 0 && timerfd_settime(out.timer, 0, &when, NULL) < 0)
        log_debug("timerfd_settime: %s", strerror(errno));
}

static void note_pending_locked(size_t bytes)
{
    if (out.pending == 0 && bytes > 0) {
        clock_gettime(CLOCK_MONOTONIC, &out.first);
        arm_timer(FLUSH_MS);
    }
    out.pending += bytes;
}

static struct tape *tape_of(struct span id)
{
    for (int i = 0; i < MAX_TAPES; i++)
        if (out.tapes[i].id[0] && strlen(out.tapes[i].id) == id.len && memcmp(out.tapes[i].id, id.data, id.len) == 0)
            return &out.tapes[i];
    return NULL;
}

static void queue_locked(const struct span *parts, size_t nparts)
{
    size_t before = out.queue.len;
    if (chan_encode(&out.queue, parts, nparts) < 0) {
        log_error("an event of %zu parts could not be encoded: dropped", nparts);
        return;
    }
    note_pending_locked(out.queue.len - before);
    struct tape *tape = nparts > 1 && chan_part_is(&parts[0], "iopub") ? tape_of(parts[1]) : NULL;
    if (tape && buf_append(&tape->events, out.queue.data + before, out.queue.len - before) < 0)
        log_error("out of memory recording request %s", tape->id);
}

static void queue_stream_locked(uint64_t req, int name, const char *text, size_t len)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)req);
    buf_reset(&out.json);
    buf_append(&out.json, name == STREAM_STDERR ? "{\"name\":\"stderr\",\"text\":"
                                                : "{\"name\":\"stdout\",\"text\":", 24);
    if (jstr_append(&out.json, text, len) < 0 || buf_append(&out.json, "}", 1) < 0)
        return;
    struct span parts[] = {span_str("iopub"), span_str(id), span_str("stream"),
                           {buf_head(&out.json), buf_pending(&out.json)}, span_str("")};
    queue_locked(parts, 5);
}

/* The first len bytes of a chunk, as stream messages of at most
 * FLUSH_BYTES of text each (cut between UTF-8 sequences). */
static void queue_chunk_locked(struct chunk *c, size_t len)
{
    const char *text = buf_head(&c->text);
    while (len > 0) {
        size_t piece = len;
        if (piece > FLUSH_BYTES) {
            piece = jstr_complete_prefix(text, FLUSH_BYTES);
            if (piece == 0)
                piece = FLUSH_BYTES;
        }
        queue_stream_locked(c->req, c->name, text, piece);
        text += piece;
        len -= piece;
    }
}

/* Turn stream chunks into events; the last may keep an incomplete UTF-8
 * tail until the rest of it arrives. */
static void queue_chunks_locked(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < out.nchunks; i++) {
        struct chunk *c = &out.chunks[i];
        size_t len = buf_pending(&c->text);
        if (i + 1 == out.nchunks)
            len = jstr_complete_prefix(buf_head(&c->text), len);
        if (len > 0)
            queue_chunk_locked(c, len); /* adds the event before the text is subtracted */
        out.pending -= len;
        buf_consume(&c->text, len);
        if (buf_pending(&c->text) > 0) { /* the held-back tail */
            out.chunks[0] = *c;
            kept = 1;
        } else {
            buf_free(&c->text);
        }
    }
    out.nchunks = kept;
}

static void write_queue_locked(void)
{
    const char *data = buf_head(&out.queue);
    size_t len = buf_pending(&out.queue);
    out.pending -= len;
    while (len > 0) {
        ssize_t n = send(out.channel, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* the router is gone: nothing to work for */
            log_error("the channel to the router failed (%s): exiting", strerror(errno));
            _exit(1);
        }
        data += n;
        len -= (size_t)n;
    }
    buf_reset(&out.queue);
}

static void append_locked(uint64_t req, int name, const char *text, size_t len)
{
    if (req == OUTPUT_CURRENT)
        req = out.current;
    if (req == 0 || len == 0)
        return; /* no cell to show it in (or a silent one) */
    struct chunk *last = out.nchunks ? &out.chunks[out.nchunks - 1] : NULL;
    if (!last || last->req != req || last->name != name) {
        if (out.nchunks == out.cap) {
            size_t cap = out.cap ? out.cap * 2 : 8;
            struct chunk *chunks = realloc(out.chunks, cap * sizeof *chunks);
            if (!chunks)
                return;
            out.chunks = chunks;
            out.cap = cap;
        }
        last = &out.chunks[out.nchunks++];
        *last = (struct chunk){.req = req, .name = name};
    }
    if (buf_append(&last->text, text, len) == 0)
        note_pending_locked(len);
}

/* Move what the fd pipes hold into chunks of the current request. */
static void drain_pipes_locked(void)
{
    struct pollfd fds[] = {{out.pipes[STREAM_STDOUT], POLLIN, 0}, {out.pipes[STREAM_STDERR], POLLIN, 0}};
    if (out.pipes[STREAM_STDOUT] < 0 || poll(fds, 2, 0) <= 0)
        return;
    char data[65536];
    for (int name = STREAM_STDOUT; name <= STREAM_STDERR; name++) {
        if (!(fds[name - 1].revents & POLLIN))
            continue;
        ssize_t n;
        while ((n = read(out.pipes[name], data, sizeof data)) > 0)
            append_locked(OUTPUT_CURRENT, name, data, (size_t)n);
    }
}

static void flush_locked(void)
{
    drain_pipes_locked();
    queue_chunks_locked();
    if (out.channel >= 0)
        write_queue_locked();
    clock_gettime(CLOCK_MONOTONIC, &out.first);
}

static long ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void *helper_thread(void *unused)
{
    (void)unused;
    for (;;) {
        struct pollfd fds[] = {{out.pipes[STREAM_STDOUT], POLLIN, 0},
                               {out.pipes[STREAM_STDERR], POLLIN, 0},
                               {out.timer, POLLIN, 0}};
        poll(fds, 3, -1);
        uint64_t expirations;
        if (read(out.timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
            log_debug("timerfd read: %s", strerror(errno));
        pthread_mutex_lock(&out.lock);
        drain_pipes_locked();
        if (out.pending) {
            long age = ms_since(&out.first);
            if (age >= FLUSH_MS || out.pending >= FLUSH_BYTES)
                flush_locked();
            else
                arm_timer(FLUSH_MS - age);
        }
        pthread_mutex_unlock(&out.lock);
    }
    return NULL;
}

/* In a child forked by user code (multiprocessing, os.fork) the helper
 * thread does not exist and the channel is the parent's: the child writes
 * stream text to fds 1 and 2, which the parent captures. */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&out.lock, NULL);
    out.channel = -1;
    out.nchunks = out.pending = 0;
    buf_reset(&out.queue);
}

static int capture_fd(int fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0 || dup2(p[1], fd) < 0)
        return -1;
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    return p[0];
}

int output_start(int channel)
{
    int saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
    if (saved_stderr >= 0)
        log_set_fd(saved_stderr);
    out.channel = channel;
    out.pipes[STREAM_STDOUT] = capture_fd(STDOUT_FILENO);
    out.pipes[STREAM_STDERR] = capture_fd(STDERR_FILENO);
    out.timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (out.pipes[STREAM_STDOUT] < 0 || out.pipes[STREAM_STDERR] < 0 || out.timer < 0) {
        log_error("cannot capture stdout/stderr: %s", strerror(errno));
        return -1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* C printf shows up line by line */
    pthread_atfork(NULL, NULL, after_fork_in_child);
    /* The thread blocks every signal, so SIGINT (an interrupt) always
     * reaches the main thread, where it can stop a cell. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, helper_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("cannot start the output thread");
        return -1;
    }
    pthread_detach(thread);
    return 0;
}

int output_send(const struct span *parts, size_t nparts)
{
    pthread_mutex_lock(&out.lock);
    if (out.channel < 0) {
        pthread_mutex_unlock(&out.lock);
        return -1;
    }
    drain_pipes_locked(); /* output written before this event goes first */
    queue_chunks_locked();
    queue_locked(parts, nparts);
    if (out.pending >= FLUSH_BYTES)
        flush_locked();
    pthread_mutex_unlock(&out.lock);
    return 0;
}

void output_stream(uint64_t req, int name, const char *text, size_t len)
{
    pthread_mutex_lock(&out.lock);
    if (out.channel >= 0) {
        append_locked(req, name, text, len);
        if (out.pending >= FLUSH_BYTES)
            flush_locked();
        pthread_mutex_unlock(&out.lock);
        return;
    }
    pthread_mutex_unlock(&out.lock);
    ssize_t n = write(name == STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO, text, len);
    (void)n;
}

void output_flush(void)
{
    fflush(NULL); /* C stdio buffers of extension code */
    pthread_mutex_lock(&out.lock);
    flush_locked();
    pthread_mutex_unlock(&out.lock);
}

int output_record(uint64_t req)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)req);
    pthread_mutex_lock(&out.lock);
    struct tape *tape = tape_of(span_str(id));
    for (int i = 0; !tape && i < MAX_TAPES; i++)
        if (!out.tapes[i].id[0])
            tape = &out.tapes[i];
    if (tape) {
        memcpy(tape->id, id, sizeof id);
        buf_reset(&tape->events);
    }
    pthread_mutex_unlock(&out.lock);
    return tape ? 0 : -1;
}

struct buf output_take_record(uint64_t req)
{
    char id[24];
    struct buf events = {0};
    snprintf(id, sizeof id, "%llu", (unsigned long long)req);
    fflush(NULL);
    pthread_mutex_lock(&out.lock);
    drain_pipes_locked(); /* everything it wrote is on the tape */
    queue_chunks_locked();
    struct tape *tape = tape_of(span_str(id));
    if (tape) {
        events = tape->events;
        tape->events = (struct buf){0};
        tape->id[0] = '\0';
    }
    pthread_mutex_unlock(&out.lock);
    return events;
}

void output_collect(void)
{
    fflush(NULL);
    pthread_mutex_lock(&out.lock);
    drain_pipes_locked();
    pthread_mutex_unlock(&out.lock);
}

void output_set_current(uint64_t req)
{
    pthread_mutex_lock(&out.lock);
    if (req != out.current)
        drain_pipes_locked(); /* what was written so far belongs to the old one */
    out.current = req;
    pthread_mutex_unlock(&out.lock);
}
