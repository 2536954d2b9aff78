/* suites: the check suites of the common/ unit tests, one per module, and
 * the zsock test helpers (defined in test_zsock.c) that test_jmsg.c shares. */
#ifndef AKG_TEST_SUITES_H
#define AKG_TEST_SUITES_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/zsock.h"

Suite *buf_suite(void);
Suite *chan_suite(void);
Suite *auth_suite(void);
Suite *jmsg_suite(void);
Suite *connfile_suite(void);
Suite *modes_suite(void);
Suite *jstr_suite(void);
Suite *zmtp_suite(void);
Suite *zsock_suite(void);

/* How long a test waits for something that should happen. */
#define ZTEST_TIMEOUT_MS 5000
#define ZTEST_MAX_MSGS 64

/* A message, with copies of its frames. */
struct ztest_msg {
    struct span *frames;
    size_t nframes;
    size_t size;
    bool too_many_frames;
    int tag;
};

/* What a zsock handler (ztest_handler, owner: a ztest_record) received. */
struct ztest_record {
    struct ztest_msg msgs[ZTEST_MAX_MSGS];
    size_t n;
};

void ztest_handler(void *owner, int tag, const struct span *frames, size_t nframes, size_t size,
                   bool too_many_frames);
void ztest_msg_free(struct ztest_msg *m);
void ztest_record_free(struct ztest_record *r);

/* Run and flush the hub, waiting on its fd (and on a libzmq socket when
 * zmq_socket is not NULL), until done(arg) holds; false after
 * ZTEST_TIMEOUT_MS. */
bool ztest_drive(struct zhub *h, void *zmq_socket, bool (*done)(void *), void *arg);
/* Drive the hub until the handler has recorded n messages in all. */
bool ztest_wait_handler(struct zhub *h, struct ztest_record *r, size_t n);
/* Send a multipart message on a libzmq socket. */
void ztest_zmq_send(void *zmq_socket, const struct span *frames, size_t nframes);
/* Drive the hub until the libzmq socket has a message, and read it. */
bool ztest_zmq_recv(struct zhub *h, void *zmq_socket, struct ztest_msg *m);
/* Read a message waiting on a libzmq socket; false if none is. */
bool ztest_zmq_try_recv(void *zmq_socket, struct ztest_msg *m);

#endif
