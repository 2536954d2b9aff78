/* zmtp: the ZeroMQ message transport protocol (ZMTP 3.0, NULL security
 * mechanism) as spoken by the side that accepts connections.
 *
 *   greeting   64 bytes: 0xFF, 8 bytes of padding, 0x7F, version 3.0,
 *              mechanism "NULL" padded to 20 bytes, as-server, filler
 *   handshake  each side sends a READY command with its Socket-Type (and,
 *              from DEALER or REQ peers, maybe an Identity)
 *   frames     flags (bit 0 MORE, bit 1 LONG, bit 2 COMMAND), a 1- or
 *              8-byte big-endian size, the bytes
 *
 * The decoder turns a byte stream, fed in pieces of any size, into events:
 * the peer's READY, a whole multipart message, or another command. Frames
 * that take a message past its size limit are skipped as they arrive (their
 * place is kept, empty), so an oversized message is never held. This file
 * only encodes and decodes; zsock.c gives the messages their meaning. */
#ifndef AKG_ZMTP_H
#define AKG_ZMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define ZMTP_GREETING_LEN 64
/* Commands (READY, SUBSCRIBE, PING...) are small; a larger one is an error. */
#define ZMTP_MAX_COMMAND 65536

/* Append our greeting and a READY command naming our socket type. */
int zmtp_write_handshake(struct buf *out, const char *socket_type);
/* Append one frame (a message part, or a command's body). */
int zmtp_write_frame(struct buf *out, struct span payload, bool more, bool command);
/* Append a whole multipart message. */
int zmtp_write_message(struct buf *out, const struct span *frames, size_t nframes);
/* Append a command: its name, then its data. */
int zmtp_write_command(struct buf *out, const char *name, struct span data);

enum zmtp_event_kind {
    ZMTP_READY,   /* socket_type and identity are set */
    ZMTP_MESSAGE, /* frames, nframes, size, too_many_frames are set */
    ZMTP_COMMAND, /* another command: name and data are set */
};

struct zmtp_event {
    enum zmtp_event_kind kind;
    struct span socket_type, identity; /* ZMTP_READY */
    struct span name, data;            /* ZMTP_COMMAND */
    /* ZMTP_MESSAGE: frames[-1] also exists and is the caller's to fill
     * (a ROUTER socket puts the peer's identity there). */
    struct span *frames;
    size_t nframes;
    size_t size;          /* bytes of all frames, skipped ones included */
    bool too_many_frames; /* frames past max_frames were dropped */
};

struct zmtp_frame_ref {
    size_t off, len; /* in body */
};

struct zmtp_decoder {
    enum { ZMTP_DEC_GREETING, ZMTP_DEC_FLAGS, ZMTP_DEC_SIZE, ZMTP_DEC_BODY } state;
    unsigned char head[ZMTP_GREETING_LEN]; /* greeting, then a frame's size */
    size_t have, need;
    unsigned char flags;
    uint64_t left;     /* bytes of the current frame still to come */
    bool keep;         /* the current frame's bytes are kept */
    bool ready;        /* the peer's READY was seen */
    bool emitted;      /* the last event's storage is released on the next call */
    struct buf body;   /* kept bytes of the current message or command */
    struct zmtp_frame_ref *refs;
    struct span *spans; /* built when a message is complete; spans[0] is spare */
    size_t nframes, cap, dropped_frames;
    size_t msg_size;
    size_t size_limit; /* 0: none */
    size_t max_frames;
};

void zmtp_decoder_init(struct zmtp_decoder *d, size_t size_limit, size_t max_frames);
void zmtp_decoder_free(struct zmtp_decoder *d);

enum zmtp_status {
    ZMTP_NEED_MORE, /* all of the input was used; no event yet */
    ZMTP_EVENT,     /* *ev is set; *used bytes were read; call again for the rest */
    ZMTP_ERROR,     /* the stream is invalid: *error says why; close it */
};

/* Decode from data[0..len). The event's spans stay valid until the next
 * call. */
enum zmtp_status zmtp_decode(struct zmtp_decoder *d, const char *data, size_t len, size_t *used,
                             struct zmtp_event *ev, const char **error);

#endif
