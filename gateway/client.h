/* client: the command-line clients of serve's control socket. */
#ifndef AKG_CLIENT_H
#define AKG_CLIENT_H

int attach_main(int argc, char **argv);
int status_main(int argc, char **argv);
#include <stddef.h>

#define SYSTEM_SOCKET "/run/akernel-gateway/gateway.sock"

/* Where `serve` listens by default: /run/akernel-gateway as root, else
 * $XDG_RUNTIME_DIR/akernel-gateway (or /tmp/akernel-gateway-UID). */
void service_socket_path(char *out, size_t outlen);
/* The socket a client uses by default: the user's own service if one
 * listens, else the system one. */
void client_default_socket(char *out, size_t outlen);

#endif
