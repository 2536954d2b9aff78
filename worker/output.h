/* output: everything a worker writes to the router, in order.
 *
 * Events (replies, display data, ...) and stream text share one lock and
 * one queue, so a print before a display() reaches the frontend before it.
 * Nothing is written at once: the queue goes out in one write when the
 * Python loop has handled what it read (output_flush), or, for a cell that
 * blocks the loop, from a helper thread at most FLUSH_MS after the first
 * queued byte. Stream text is kept as an ordered list of chunks, one per
 * run of writes to the same (request, stdout|stderr), and turned into
 * events when the queue is written. The helper thread also reads fds 1 and
 * 2, which are pipes, so output from C code and subprocesses reaches the
 * cell running at the time. It never touches Python, so it runs while a
 * cell holds the GIL. */
#ifndef AKG_OUTPUT_H
#define AKG_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum { STREAM_STDOUT = 1, STREAM_STDERR = 2 };
#define OUTPUT_CURRENT UINT64_MAX /* "the request running now" */

/* Route fds 1 and 2 through pipes, keep the original stderr for logs, and
 * start the helper thread. `channel` is the socket to the router. */
int output_start(int channel);
/* Queue one event (chan.h parts), after any pending stream text. Returns
 * -1 in a process with no channel (one forked by user code). */
int output_send(const struct span *parts, size_t nparts);
/* Queue stream text for request `req` (OUTPUT_CURRENT: the running one). */
void output_stream(uint64_t req, int name, const char *text, size_t len);
/* Take what the fd pipes hold and write everything queued now. */
void output_flush(void);
/* Queue what C stdio buffers and the fd pipes hold, without writing: a
 * cell's last output, before its reply. */
void output_collect(void);
/* Keep a copy of every iopub event of request req (cache mode records
 * what a cell shows). Returns -1 when too many are being recorded. */
int output_record(uint64_t req);
/* Stop recording req; its events, encoded as on the channel (the caller
 * frees the buffer). */
struct buf output_take_record(uint64_t req);
/* The request whose code runs now: fd-level output is attributed to it. */
void output_set_current(uint64_t req);

#endif
