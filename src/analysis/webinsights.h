/* webinsights.h: ZIA Web Insights log exports (CSV): failed client SSL handshakes per host, as evidence.
 *
 * An administrator downloads the Web Insights logs (Analytics > Web
 * Insights > Logs) as CSV; only the columns shown in the portal are
 * exported, in the order the administrator left them, so columns are found
 * from the header, never by position. The header is the first row (within
 * WI_MAX_PREAMBLE rows: a title or time-frame block may come first) that
 * has a "Policy Action" (or "Action") column. Other columns, matched case-
 * and space-insensitively, first name listed wins:
 *   URL       "URL", "Request URL", "Host", "Hostname", "Server Name"
 *   user      "User", "User Name", "Username", "Login"
 *   time      "Logged Time", "Event Time", "Time", "Date/Time", "Datetime", "Timestamp"
 *   location  "Location", "Location Name"
 *
 * A row whose Policy Action contains "failed client SSL handshake" (the
 * portal writes "Dropped due to failed client SSL handshake") is evidence
 * for its URL's host (scheme, user-info, port, path and a trailing dot
 * removed; lower-cased). Other actions are counted by name, not used.
 *
 * Parsing is libcsv's (RFC 4180 quoting: delimiters, quotes and newlines
 * inside quoted fields). Input is taken leniently: UTF-8 with or without a
 * BOM, UTF-16LE/BE with a BOM (or UTF-16LE told from "x\0"), comma, tab or
 * semicolon delimiters (told from the header line), CRLF or LF. Bounded: a
 * field over WI_MAX_FIELD bytes ends that input (counted), users and
 * locations per host are kept up to a cap (an overflow flag says more were
 * seen), hosts up to WI_MAX_HOSTS.
 *
 * Times: ISO ("2024-07-17 18:16:30", offset optional), the portal's
 * "Wednesday, July 17, 2024 6:16:30 PM", "Wed Jul 17 18:16:30 2024" and
 * "7/17/2024 18:16" (month first). A time without a zone (the portal writes
 * the administrator's time zone without naming it) is taken as UTC and
 * counted in stats.time_no_zone; the text as written is kept as well.
 */
#ifndef PI_WEBINSIGHTS_H
#define PI_WEBINSIGHTS_H

#include <stddef.h>
#include <stdint.h>

#define WI_MAX_HOSTS      100000u
#define WI_MAX_USERS      16u        /* distinct users kept per host */
#define WI_MAX_LOCATIONS  8u         /* distinct locations kept per host */
#define WI_MAX_ACTIONS    64u        /* distinct other actions counted by name */
#define WI_MAX_FIELD      (64u * 1024u) /* largest field; over it the input stops */
#define WI_MAX_PREAMBLE   50u        /* rows looked at for the header */
#define WI_MAX_COLUMNS    1024u      /* columns looked at per row */
#define WI_FAILED_ACTION  "Dropped due to failed client SSL handshake"

struct webins_host {
	char host[256];
	uint64_t failed;           /* failed client SSL handshake rows */
	uint32_t nusers;           /* distinct users kept */
	uint8_t users_overflow;    /* more than WI_MAX_USERS were seen */
	char users[WI_MAX_USERS][128];
	uint32_t nlocations;
	uint8_t locations_overflow;
	char locations[WI_MAX_LOCATIONS][64];
	uint64_t first_ns, last_ns; /* parsed row times, ns UTC; 0 unknown */
	char first_time[64], last_time[64]; /* the same rows' time text as written */
};

struct webins_action {
	char action[96];
	uint64_t rows;
};

struct webins_stats {
	uint64_t inputs;           /* inputs ended with webins_end() */
	uint64_t bytes;
	uint64_t inputs_no_header; /* inputs without a recognisable header */
	uint64_t inputs_failed;    /* inputs stopped by a field over the cap */
	uint64_t utf16_inputs;
	uint64_t rows;             /* data rows after a header */
	uint64_t preamble_rows;    /* rows before the header (or of a header-less input) */
	uint64_t failed_rows;      /* rows with the failed-handshake action */
	uint64_t other_rows;       /* rows with another action */
	uint64_t bad_rows;         /* failed-handshake rows without a usable host, or short rows */
	uint64_t time_unparsed;    /* failed-handshake rows whose time could not be read */
	uint64_t time_no_zone;     /* failed-handshake rows whose time had no zone */
	uint64_t hosts_dropped;    /* rows not kept: host table full */
	uint64_t actions_other_overflow; /* rows of actions past WI_MAX_ACTIONS names */
	char delimiter;            /* of the last input: ',', '\t' or ';' */
};

struct webins;
struct jw;

/* Returns a new, empty set, or NULL when out of memory. */
struct webins *webins_new(void);
void webins_free(struct webins *w);

/* Feed len bytes of the current input (one CSV file), in chunks of any size.
 * The first bytes tell the encoding, the header line the delimiter. */
void webins_feed(struct webins *w, const char *data, size_t len);

/* End the current input (its last row may lack a newline); the next feed
 * starts a new file with its own header. */
void webins_end(struct webins *w);

/* Hosts in the order first seen; NULL past the end. Owned by w, valid
 * until the next feed/end. */
size_t webins_host_count(const struct webins *w);
const struct webins_host *webins_host(const struct webins *w, size_t i);
const struct webins_host *webins_find(const struct webins *w, const char *host);

/* Other actions, by name, in the order first seen. */
size_t webins_action_count(const struct webins *w);
const struct webins_action *webins_action(const struct webins *w, size_t i);

const struct webins_stats *webins_stats(const struct webins *w);

/* Write one JSON object value (the caller wrote the key):
 * {"kind":"web_insights", stats..., "other_actions":[...], "hosts":[...]}
 * hosts sorted by failed rows (descending), then name. */
void webins_write_json(const struct webins *w, struct jw *jw);

/* The host of a URL ("https://user@Host.Example:443/path?q" ->
 * "host.example"), in out (NUL-terminated). Returns 1, or 0 when there is
 * none (empty, spaces, too long). Exposed for tests. */
int webins_url_host(const char *url, char *out, size_t outlen);

/* Parse one of the time forms above; returns 1 with *ns (UTC) and
 * *has_zone, or 0. Exposed for tests. */
int webins_parse_time(const char *s, uint64_t *ns, int *has_zone);

#endif
