/* commands.h: the subcommands of pinspect, one entry point each.
 * argv[0] is the subcommand's name; the return value is the exit status. */
#ifndef PI_COMMANDS_H
#define PI_COMMANDS_H

int cmd_merge(int argc, char **argv);      /* merge.c */

#endif
