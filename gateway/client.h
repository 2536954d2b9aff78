/* client: the command-line clients of serve's control socket. */
#ifndef AKG_CLIENT_H
#define AKG_CLIENT_H

int attach_main(int argc, char **argv);
int status_main(int argc, char **argv);
/* The socket a client uses by default: the user's own service if one
 * listens in $XDG_RUNTIME_DIR, else the system one in /run. */
void client_default_socket(char *out, size_t outlen);

#endif
