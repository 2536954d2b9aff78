/* zsock: the router's ZMQ sockets, spoken natively (ZMTP 3.0 over TCP or
 * Unix sockets) instead of through libzmq: ROUTER (shell, control, stdin),
 * XPUB (iopub) and REP (heartbeat), as Jupyter's clients (libzmq 4 DEALER,
 * SUB and REQ sockets) expect them.
 *
 * Why not libzmq: it keeps 40-60 KiB of buffers per connection whether or
 * not anything is in flight (a notebook opens four or five connections), and
 * every message crosses its I/O thread, a thread wake-up in each direction.
 * Here a connection at rest is a few hundred bytes, and a message is read,
 * handled and answered in the router's own thread.
 *
 * All sockets share one epoll set, the hub; the router polls zhub_fd() and
 * calls zhub_run() when it is readable, and zhub_flush() at the end of each
 * loop iteration, which writes what was queued (one write per connection,
 * however many messages). Semantics follow libzmq's defaults: a ROUTER
 * names peers by the Identity they send or a generated one, a new peer with
 * a known identity takes it over (ZMQ_ROUTER_HANDOVER), messages to an
 * unknown peer are dropped; an XPUB sends each message to every subscriber
 * whose subscription prefixes its first frame; a peer that reads too slowly
 * loses messages once max_queued bytes wait for it (the high-water mark),
 * and no one else notices. */
#ifndef AKG_ZSOCK_H
#define AKG_ZSOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

enum zsock_type { ZSOCK_ROUTER, ZSOCK_XPUB, ZSOCK_REP };

struct zhub;
struct zsock;

/* A whole message from a peer of a ROUTER socket; frames[0] is the peer's
 * identity. The frames are valid during the call only. size counts every
 * byte sent; frames past options.max_message were skipped (left empty). */
typedef void (*zsock_handler)(void *owner, int tag, const struct span *frames, size_t nframes,
                              size_t size, bool too_many_frames);

struct zsock_options {
    const char *name;    /* for the log, e.g. "shell" */
    size_t max_message;  /* bytes; 0: no limit */
    size_t max_frames;   /* frames kept per message */
    size_t max_queued;   /* bytes waiting for one peer before it loses messages */
    zsock_handler handler;
    void *owner;
    int tag;
};

struct zhub *zhub_new(void);
/* Closes every socket still open. */
void zhub_free(struct zhub *h);
/* Readable when a socket or connection has something to do. */
int zhub_fd(const struct zhub *h);
/* Accept, read and write whatever is ready, without blocking. */
void zhub_run(struct zhub *h);
/* Write what has been queued to each connection since the last flush. */
void zhub_flush(struct zhub *h);
/* Close connections whose ZMTP handshake has not come within the timeout
 * (default 30 s, as libzmq). Returns ms until the next may expire, or -1. */
long zhub_expire(struct zhub *h);
void zhub_set_handshake_timeout(struct zhub *h, long ms);

/* Listen on "tcp://HOST:PORT" (port 0: any) or "ipc://PATH". */
struct zsock *zsock_bind(struct zhub *h, enum zsock_type type, const char *endpoint,
                         const struct zsock_options *o, char *err, size_t errlen);
/* The TCP port bound, or 0. */
int zsock_port(const struct zsock *s);
/* Sends what each connection still has queued (without waiting), then
 * closes them and the listening socket. Not from inside a handler. */
void zsock_close(struct zsock *s);
/* Queue one multipart message. ROUTER: frames[0] names the peer (dropped,
 * as ZMQ does, when no such peer is connected). XPUB: frames[0] is the
 * topic. Returns 0, or -1 with errno EAGAIN when a peer's queue was full
 * (the message is dropped for that peer) or ENOMEM. */
int zsock_send(struct zsock *s, const struct span *frames, size_t nframes);

#endif
