/* cmd_live.h: `pinspect live` (capture an interface, watch the verdicts),
 * and the replay of a capture file into the same view (`analyze --tui`). */
#ifndef PI_CMD_LIVE_H
#define PI_CMD_LIVE_H

#include "pipeline.h"
#include "ranking/rank.h"

/* pinspect live [options] [FILTER...]; argv[0] is "live". cmd_live loads
 * the knowledge base itself (--kb FILE, else kb_default_path()). With
 * cmd_live_ex the caller gives the engine and ranking options it built for
 * analyze (certificate diagnosis, knowledge base...; either may be NULL);
 * the command line's --no-ndpi and --kb apply on top. Exit status: 0 ok,
 * 2 usage, 3 cannot open the interface or the -w file, 5 internal (capture
 * or write failure, out of memory). */
int cmd_live(int argc, char **argv);
int cmd_live_ex(int argc, char **argv, const struct engine_opts *eo, const struct rank_opts *ro);

/* Replay a capture file through the engine into the live view, at full
 * speed or, with realtime, at the pace of its timestamps (gaps over 5 s
 * are shortened to 5 s). Without a terminal it prints verdict lines and
 * the summary, as `live --no-tui` does. eo and ro may be NULL.
 * color: -1 auto (a TTY and NO_COLOR unset), 0 never, 1 always.
 * Returns an exit status: 0 read whole, 3 unreadable, 4 damaged (read up
 * to the damage), 5 internal. */
int tui_replay_file(const char *path, int realtime, const struct engine_opts *eo, const struct rank_opts *ro,
                    int color);

#endif
