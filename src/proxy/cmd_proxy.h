/* cmd_proxy.h: the proxy's subcommands (src/cmd_proxy.c). argv[0] is the
 * subcommand's name; each returns the process exit status. */
#ifndef PI_PROXY_CMD_PROXY_H
#define PI_PROXY_CMD_PROXY_H

int cmd_ca(int argc, char **argv);     /* pinspect ca init DIR */
int cmd_proxy(int argc, char **argv);  /* pinspect proxy --ca DIR ... */
int cmd_verify(int argc, char **argv); /* pinspect verify --ca DIR ... NAME... */

#endif
