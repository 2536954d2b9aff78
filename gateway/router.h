/* router: lifecycle of the gateway (init, run the poll loop, clean up). */
#ifndef AKG_ROUTER_H
#define AKG_ROUTER_H

#include <stddef.h>

struct gateway;
struct gateway_options;

/* Starts the zygote, then the socket hub. Returns -1 with a reason in err. */
int gateway_init(struct gateway *gw, const struct gateway_options *opts, char *err, size_t errlen);
/* Fork the workers the options ask for. */
int gateway_start_workers(struct gateway *gw);
/* Serve until a shutdown request or SIGTERM. */
void gateway_run(struct gateway *gw);
void gateway_cleanup(struct gateway *gw);

#endif
