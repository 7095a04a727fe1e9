/* certdiag.h: differential diagnosis of a failing name: a non-compliant
 * interception certificate, a tool with its own trust store, or pinning.
 *
 * Four parts, each usable alone:
 *  1. Interception recognition: is the chain a connection got forged by the
 *     inspecting proxy? By the CA the admin names (--inspection-ca: the
 *     issuer's key identifier and the signature, verified with OpenSSL), by
 *     a well-known inspection issuer (data/kb.conf [inspection-issuer]), or
 *     by the heuristic "one issuer forges many unrelated names" (struct
 *     issuer_stats, registrable domains through libpsl).
 *  2. The lint: per-certificate rules of each client platform, each with its
 *     source (Apple iOS 13 / macOS 10.15, Python 3.13 strict verification,
 *     Go, and the rules every mainstream stack enforces).
 *  3. The client guess: the JA3 of the ClientHello looked up in data/ja3.conf
 *     (TLS library stacks captured here). A JA3 names a TLS library and its
 *     settings, not a program: a match is a hint, never proof.
 *  4. The decision (certdiag_decide), in the order of issue #5:
 *     1 certificate, 2 trust-store, 3 known pinning app, 4 client evidence.
 *
 * struct certdiag ties them together for the engine: it is fed every
 * finished TLS connection (certdiag_observe) and answers, per name, the
 * input of the decision (certdiag_input). Memory is bounded (the CERTDIAG_MAX_
 * limits below); past them new names / clients / issuers are not tracked.
 */
#ifndef PI_CERTDIAG_H
#define PI_CERTDIAG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/limits.h"
#include "dissectors/tls_cert.h"
#include "ranking/rank.h"

struct kb;
struct kb_entry;
struct tls_certs;

/* ---- certificates from files ------------------------------------------- */

#define CERTDIAG_MAX_FILE_CERTS 64   /* certificates read from one file */
#define CERTDIAG_MAX_FILE_BYTES (4u << 20)

/* Read every certificate of a file: PEM (any number of CERTIFICATE blocks,
 * other blocks skipped) or DER (one or more concatenated). Up to max into
 * out[] (the caller frees each with X509_free). Returns the number read
 * (>= 1), or -1 with a one-line reason in err (unreadable, no certificate,
 * not a certificate). */
int certdiag_read_certs(const char *path, X509 **out, size_t max, char *err, size_t errlen);

/* cert_parse() of an X509 OpenSSL holds (through its DER). 0 or -1. */
int certdiag_cert_info(X509 *x, struct cert_info *out);

/* ---- 1. interception recognition -------------------------------------- */

#define CERTDIAG_MAX_CAS 64

struct inspect_ca {
	X509 *x;               /* owned */
	char subject[256];
	char ski_hex[65];      /* "" if the CA has no SKI */
	char spki_sha256[45];
	uint8_t self_signed;
};

/* The inspection CAs of --inspection-ca FILE (repeatable; each file PEM or
 * DER, one or more certificates). Zero-initialise, then load. */
struct inspect_cas {
	struct inspect_ca v[CERTDIAG_MAX_CAS];
	size_t n;
};

/* Append the certificates of path. Returns how many were added, -1 with a
 * message in err (unreadable file, no certificate, more than
 * CERTDIAG_MAX_CAS in all). */
int inspect_cas_load(struct inspect_cas *cas, const char *path, char *err, size_t errlen);
void inspect_cas_free(struct inspect_cas *cas);

/* How a certificate was recognised as an interception certificate. */
enum icpt_how {
	ICPT_NONE = 0,
	ICPT_CA_KEYID,      /* --inspection-ca: AKI = the CA's SKI, and its signature verifies */
	ICPT_CA_SIGNATURE,  /* --inspection-ca: the signature verifies with the CA's key (no AKI match) */
	ICPT_CA_ITSELF,     /* the chain carries an --inspection-ca certificate itself */
	ICPT_KB_ISSUER,     /* the issuer names a well-known inspection product (kb.conf) */
	ICPT_HEURISTIC,     /* one issuer forging many unrelated names in this capture */
};
/* "ca-keyid", "ca-signature", "ca-itself", "kb-issuer", "heuristic", "none". */
const char *icpt_how_name(enum icpt_how h);

/* The "same issuer forging many unrelated names" evidence: for each issuer
 * (issuer DN + AKI), the distinct registrable domains (libpsl) of the names
 * its leaves were presented for, and the distinct leaf keys. Bounded:
 * CERTDIAG_MAX_ISSUERS issuers, per issuer counts saturate at
 * CERTDIAG_ISSUER_DOMAINS. */
#define CERTDIAG_MAX_ISSUERS 1024
#define CERTDIAG_ISSUER_DOMAINS 64
#define CERTDIAG_MAX_DOMAINS 8192   /* distinct registrable domains seen in all */
/* The heuristic: an issuer is forging when its leaves cover at least
 * FORGE_MIN_DOMAINS registrable domains and at least FORGE_MIN_SHARE of
 * all those seen with a visible certificate, or when one leaf key is
 * reused for FORGE_KEY_REUSE_DOMAINS or more registrable domains (a
 * proxy that signs every forged leaf with one key, like mitmproxy). */
#define CERTDIAG_FORGE_MIN_DOMAINS 4
#define CERTDIAG_FORGE_MIN_SHARE 0.5
#define CERTDIAG_FORGE_KEY_REUSE_DOMAINS 3

struct issuer_stats;
struct issuer_stats *issuer_stats_new(void);
void issuer_stats_free(struct issuer_stats *st);
/* The 64-bit key of a leaf's issuer (issuer DN and AKI). */
uint64_t issuer_key(const struct cert_info *leaf);
/* A leaf was presented for name (what the client asked for; the SNI). */
void issuer_stats_add(struct issuer_stats *st, const struct cert_info *leaf, const char *name);
/* Registrable domains seen for this issuer key (saturating), and in all. */
size_t issuer_stats_domains(const struct issuer_stats *st, uint64_t ikey);
size_t issuer_stats_total_domains(const struct issuer_stats *st);
/* Is the issuer forging (see above)? why (may be NULL) says on what. */
int issuer_stats_forging(const struct issuer_stats *st, uint64_t ikey, char *why, size_t wl);

/* Is one certificate an interception certificate? cert: the certificate
 * (may be NULL: then only the kb and the heuristic are tried); ci: its
 * fields. cas, kb, st may each be NULL. label (may be NULL) gets the CA's
 * subject, the kb entry, or the heuristic's evidence. */
enum icpt_how certdiag_is_interception(const struct inspect_cas *cas, const struct kb *kb,
                                       const struct issuer_stats *st, X509 *cert,
                                       const struct cert_info *ci, char *label, size_t ll);

/* A server chain (TLS <= 1.2: struct tls_certs), parsed. */
struct certdiag_chain {
	size_t n;
	struct cert_info ci[PI_TLS_MAX_CERTS];
	X509 *x[PI_TLS_MAX_CERTS];
};
/* Parse the kept certificates (DER) of a chain; unparsable ones end it.
 * Returns the number parsed. Free with certdiag_chain_free. */
size_t certdiag_chain_from_der(struct certdiag_chain *ch, const uint8_t *const *der, const size_t *len, size_t n);
size_t certdiag_chain_from_tls(struct certdiag_chain *ch, const struct tls_certs *certs);
void certdiag_chain_free(struct certdiag_chain *ch);
/* The chain is an interception chain when any certificate of it is
 * recognised (the best way wins: CA > kb > heuristic); *which (may be
 * NULL) gets its index. */
enum icpt_how certdiag_chain_interception(const struct inspect_cas *cas, const struct kb *kb,
                                          const struct issuer_stats *st, const struct certdiag_chain *ch,
                                          size_t *which, char *label, size_t ll);

/* ---- 2. the lint -------------------------------------------------------- */

enum lint_platform {
	LINT_GENERIC = 0, /* rules every mainstream stack enforces (OpenSSL, NSS, Java, Go, Apple...) */
	LINT_APPLE,       /* iOS 13 / macOS 10.15 (support.apple.com/103769, HT210176) */
	LINT_PYTHON313,   /* Python 3.13+: VERIFY_X509_STRICT by default (OpenSSL RFC 5280 checks) */
	LINT_GO,          /* Go crypto/x509 (1.15+: no CommonName; 1.18+: no SHA-1) */
	LINT_PLATFORMS
};
#define LINT_MASK(p) (1u << (p))
#define LINT_ALL ((1u << LINT_PLATFORMS) - 1u)
/* "generic", "apple", "python313", "go". */
const char *lint_platform_name(enum lint_platform p);
/* Parse "apple", "python313", "generic", "go", "all" or a comma list into a
 * mask. 0 on success, -1 if a word is unknown. */
int lint_platform_parse(const char *s, unsigned *mask);

enum lint_severity { LINT_INFO = 0, LINT_WARNING, LINT_ERROR };
/* "info", "warning", "error". */
const char *lint_severity_name(enum lint_severity s);

struct lint_finding {
	const char *rule;        /* "apple.rsa_2048": platform.rule, stable (static) */
	enum lint_platform platform;
	enum lint_severity severity;
	const char *field;       /* the certificate field: "subjectPublicKeyInfo"... (static) */
	char value[160];         /* what the certificate holds there */
	const char *message;     /* what the rule requires (static) */
	const char *source;      /* where the rule comes from (static) */
	const char *remedy;      /* how to fix the certificate (static) */
	int cert;                /* index in the chain (0 = leaf), -1 for the chain as a whole */
};

/* Lint one certificate for one platform. is_ca: it is used as a CA (a
 * chain position above the leaf, or a CA file). at_time: seconds since the
 * epoch for the validity checks (0: skip them). sni: the name the client
 * asked for (NULL or "": skip the name checks). Writes up to max findings
 * (cert = 0; the caller sets the index) and returns how many there are
 * (may exceed max, like snprintf). */
int cert_lint(const struct cert_info *ci, int is_ca, int64_t at_time, const char *sni,
              enum lint_platform platform, struct lint_finding *out, size_t max);

/* Lint a chain (leaf first) for the platforms of mask: every certificate
 * (position 0 as the leaf, the others as CAs) plus the chain rules (order,
 * missing intermediate: only decidable when cas names the anchors). Returns
 * the number of findings (may exceed max). */
int cert_lint_chain(const struct cert_info *ci, size_t n, int64_t at_time, const char *sni, unsigned mask,
                    const struct inspect_cas *cas, struct lint_finding *out, size_t max);

/* The worst finding of the list for the platforms of mask: errors first;
 * a specific platform's rule before a generic one unless mask is LINT_ALL;
 * the leaf before CAs. NULL if none at min_sev or above. */
const struct lint_finding *lint_worst(const struct lint_finding *f, size_t n, unsigned mask,
                                      enum lint_severity min_sev);

/* ---- 3. the client guess ----------------------------------------------- */

struct ja3_lib {
	char *name;              /* "Python (ssl / urllib, OpenSSL)" */
	char **ja3;              /* MD5 hex strings */
	size_t nja3;
	unsigned platforms;      /* lint platforms of this stack (LINT_MASK bits) */
	int general;             /* a general-purpose library stack (usually its own CA bundle) */
	char *tool;              /* kb.conf [tool NAME] it most likely is, or NULL */
	char *source, *note;
};
struct ja3_db {
	struct ja3_lib *v;
	size_t n;
};
#define JA3DB_MAX_ENTRIES 1024
/* data/ja3.conf (format in its header). NULL with "FILE:LINE: what" in err. */
struct ja3_db *ja3_db_load(const char *path, char *err, size_t errlen);
void ja3_db_free(struct ja3_db *db);
/* $PINSPECT_JA3, else the installed data, else the source tree's data/ja3.conf. */
const char *ja3_db_default_path(void);
const struct ja3_lib *ja3_db_lookup(const struct ja3_db *db, const char *ja3);

/* The TLS library a ClientHello's JA3 suggests ("Go (crypto/tls)"), or NULL
 * if db does not know it. *platforms (may be NULL) gets the lint platforms
 * to apply: the stack's, or LINT_ALL when unknown. *general (may be NULL):
 * a general-purpose library stack. */
const char *certdiag_library_guess(const struct ja3_db *db, const char *ja3, unsigned *platforms, int *general);

/* ---- 4. the decision ---------------------------------------------------- */

enum accept_evidence {
	ACCEPT_NONE = 0,   /* nothing says the client trusts the interception CA */
	ACCEPT_HINT,       /* the same client address with the same JA3 completed handshakes
	                      for other names, certificates not visible (TLS 1.3) */
	ACCEPT_PROVEN,     /* the same client address with the same JA3 accepted a chain from
	                      the same interception issuer for another name */
};

struct diag_input {
	const char *name;
	uint64_t failures, successes;
	enum accept_evidence accepts_other;
	const char *accepted_example;      /* another name it accepted, or NULL */
	unsigned accepted_names;           /* how many other names (saturating) */
	const struct kb_entry *tool;       /* [tool] covering the name, or NULL */
	const char *tool_pattern;          /* its matching domain pattern */
	const struct kb_entry *app;        /* [app] covering the name or its nDPI app, or NULL */
	const char *app_match;             /* the pattern or nDPI application that matched */
	const struct lint_finding *lint;   /* worst finding for the rejecting client's platforms, or NULL;
	                                      rules the same client accepts elsewhere are left out */
	const char *tolerated_rule;        /* such a left-out error rule, or NULL */
	unsigned platforms;                /* those platforms (LINT_MASK bits) */
	enum icpt_how interception;        /* how the failing chain was recognised (ICPT_NONE: not / not seen) */
	const char *interception_label;
	const char *ja3;                   /* a JA3 of the failing connections, or NULL */
	const char *library;               /* its library guess, or NULL */
	int library_general;               /* the guess is a general-purpose stack */
	const struct kb_entry *library_tool; /* the [tool] that library suggests, or NULL */
	const struct kb_entry *bundle;     /* the [tool ca-bundle] entry (how to build one), or NULL */
};

/* Not decided by the diagnosis: the ranking's score decides bypass versus
 * inconclusive (step 4 with too little client evidence). why still says
 * what was checked; fix is left "". */
#define CERTDIAG_UNDECIDED ((enum category)CAT_COUNT)

/* Steps 1-4 of issue #5, in that order:
 *  1. in->lint is an error (the certificate breaks a rule of the rejecting
 *     client's platforms)                                  -> CAT_CERTIFICATE
 *  2. in->tool (a developer-tool / runtime endpoint)       -> CAT_TRUST_STORE
 *  3. in->app (a known pinning app)                        -> CAT_BYPASS
 *  4. ACCEPT_PROVEN                                        -> CAT_BYPASS
 *     a general-purpose library stack (in->library_general) -> CAT_TRUST_STORE
 *     (bypass named as the alternative in fix)
 *     otherwise                                            -> CERTDIAG_UNDECIDED
 * Only called for names with failures. why: one sentence naming the step
 * and the evidence; fix: what to do (tool fixes come from kb.conf). */
enum category certdiag_decide(const struct diag_input *in, char *why, size_t wl, char *fix, size_t fl);

/* ---- the engine's state -------------------------------------------------- */

#define CERTDIAG_MAX_NAMES 16384     /* failing names tracked */
#define CERTDIAG_MAX_CLIENTS 4096    /* (client address, JA3) pairs tracked */
#define CERTDIAG_NAME_CLIENTS 8      /* failing (client, JA3) pairs kept per name */
#define CERTDIAG_CLIENT_ACCEPTS 8    /* accepted (issuer, name) kept per client */
#define CERTDIAG_NAME_FINDINGS 12    /* distinct lint findings kept per failing name */

struct certdiag;

/* cas, kb, db: borrowed, may be NULL, must outlive the certdiag. */
struct certdiag *certdiag_new(const struct inspect_cas *cas, const struct kb *kb, const struct ja3_db *db);
void certdiag_free(struct certdiag *cd);

/* One finished TLS connection. */
struct certdiag_conn {
	const char *name;         /* what the client asked for (the evidence key) */
	const char *sni;          /* "" or NULL if none */
	const char *client;       /* the client's address as text, without port */
	const char *ja3;          /* "" or NULL if no ClientHello */
	int rejected;             /* verdict_is_rejection(verdict) */
	int healthy;              /* verdict == V_HEALTHY */
	int64_t ts;               /* capture time of the connection, seconds */
	const uint8_t *const *der; /* the server chain, leaf first (NULL / 0: not visible) */
	const size_t *der_len;
	size_t nder;
};
void certdiag_observe(struct certdiag *cd, const struct certdiag_conn *c);
/* The same, with the chain as the TLS dissector keeps it (may be NULL). */
void certdiag_observe_tls(struct certdiag *cd, const struct certdiag_conn *c, const struct tls_certs *certs);

/* The decision input for a name (its failures / successes from the
 * evidence, app: its nDPI application or NULL). The pointers in *in stay
 * valid until the next certdiag_input for the same name, certdiag_observe
 * or certdiag_free. Returns 1 if the
 * certdiag saw failing connections for the name, 0 otherwise (in is still
 * filled from the knowledge base). */
int certdiag_input(const struct certdiag *cd, const char *name, uint64_t failures, uint64_t successes,
                   const char *app, struct diag_input *in);

/* Counters, for the report. */
struct certdiag_stats {
	uint64_t conns, chains, interception_chains, names, names_dropped, clients_dropped;
	uint64_t alloc_failures;  /* chains not diagnosed: out of memory (JSON limits.alloc_failures) */
};
const struct certdiag_stats *certdiag_stats(const struct certdiag *cd);

/* ---- the command ------------------------------------------------------- */

/* pinspect lint-cert [options] FILE... (src/cmd_lint.c): argv[0] is
 * "lint-cert". Exit status 0 no error finding, 1 error findings, 2 usage,
 * 3 a file unreadable. */
int cmd_lint_cert(int argc, char **argv);

#endif
