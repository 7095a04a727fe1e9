/* verify.c: intercept, then splice, each name; the engine's verdicts
 * decide (the rules are in verify.h). */
#include "proxy/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "dissectors/tls.h"
#include "proxy/rules.h"

struct verify {
	struct rules *rules;  /* rule index == names index */
	struct vname *v;
	size_t n;
	unsigned rounds;
};

const char *verify_result_name(enum vresult r)
{
	switch (r) {
	case VR_CONFIRMED:
		return "confirmed";
	case VR_REFUTED:
		return "refuted";
	case VR_INCONCLUSIVE:
		return "inconclusive";
	default:
		return "pending";
	}
}

struct verify *verify_new(char *const *names, int n, unsigned rounds, char *err, size_t errlen)
{
	struct verify *v;
	if (n < 1 || n > VERIFY_MAX_NAMES) {
		snprintf(err, errlen, "give 1 to %d names to verify", VERIFY_MAX_NAMES);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v || !(v->rules = rules_new()) || !(v->v = calloc((size_t)n, sizeof(*v->v)))) {
		snprintf(err, errlen, "out of memory");
		verify_free(v);
		return NULL;
	}
	v->rounds = rounds ? rounds : VERIFY_DEFAULT_ROUNDS;
	for (int i = 0; i < n; i++) {
		char why[128];
		size_t before = rules_count(v->rules);
		if (rules_add(v->rules, names[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "'%s': %s", names[i], why);
			verify_free(v);
			return NULL;
		}
		if (rules_count(v->rules) == before)
			continue; /* listed twice */
		pi_strlcpy(v->v[v->n].rule, rules_entry(v->rules, (long)v->n), sizeof(v->v[0].rule));
		v->v[v->n].rounds = v->rounds;
		v->n++;
	}
	return v;
}

void verify_free(struct verify *v)
{
	if (!v)
		return;
	rules_free(v->rules);
	free(v->v);
	free(v);
}

static struct vname *lookup(struct verify *v, const char *name)
{
	long i = rules_match(v->rules, name);
	return i >= 0 && (size_t)i < v->n ? &v->v[i] : NULL;
}

enum px_mode verify_decide(struct verify *v, const char *name)
{
	struct vname *x = lookup(v, name);
	if (!x || x->phase != VP_INTERCEPT) {
		if (x)
			x->routed_s++;
		return PX_SPLICE;
	}
	x->routed_i++;
	return PX_INTERCEPT;
}

/* "cert-alert x2, server-abort x1" */
static void verdict_list(const uint64_t *counts, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int k = 1; k < V_COUNT && o < len; k++) {
		int w;
		if (!counts[k])
			continue;
		w = snprintf(buf + o, len - o, "%s%s x%llu", o ? ", " : "", verdict_name((enum verdict)k),
		             (unsigned long long)counts[k]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (!o)
		pi_strlcpy(buf, "none", len);
}

/* The proxy's own account of an intercepted failure, if any (the first). */
static const char *proxy_note(const struct vname *x)
{
	for (int i = 0; i < x->nex; i++)
		if (x->ex[i].mode == PX_INTERCEPT && x->ex[i].note[0] && x->ex[i].verdict != V_HEALTHY)
			return x->ex[i].note;
	return NULL;
}

static void settle(struct vname *x, enum vresult r, const char *why)
{
	char iv[160], sv[160];
	verdict_list(x->verdicts_i, iv, sizeof(iv));
	verdict_list(x->verdicts_s, sv, sizeof(sv));
	x->result = r;
	x->phase = VP_DONE;
	snprintf(x->evidence, sizeof(x->evidence), "%s; intercepted: %llu (%s); bypassed: %llu (%s)", why,
	         (unsigned long long)x->i_total, iv, (unsigned long long)x->s_total, sv);
}

static void add_example(struct vname *x, const struct px_conn_info *ci, const struct conn_out *o)
{
	struct vexample *e;
	const struct conn *c = o->c;
	if (x->nex >= VERIFY_MAX_EXAMPLES)
		return;
	e = &x->ex[x->nex++];
	memset(e, 0, sizeof(*e));
	e->id = ci->id;
	e->stream = c->stream;
	e->mode = ci->mode;
	e->verdict = c->verdict;
	if (c->has_alert)
		pi_strlcpy(e->alert, tls_alert_name(c->alert_desc), sizeof(e->alert));
	pi_strlcpy(e->sni, c->sni, sizeof(e->sni));
	pi_strlcpy(e->client, o->client, sizeof(e->client));
	pi_strlcpy(e->server, o->server, sizeof(e->server));
	pi_strlcpy(e->reason, c->reason ? c->reason : "", sizeof(e->reason));
	pi_strlcpy(e->note, ci->note ? ci->note : "", sizeof(e->note));
}

const struct vname *verify_record(struct verify *v, const struct px_conn_info *ci, const struct conn_out *o,
                                  int *changed)
{
	struct vname *x = lookup(v, ci->name);
	enum verdict vd = o->c->verdict;
	enum vphase was;
	enum vresult wasr;

	*changed = 0;
	if (!x)
		return NULL;
	was = x->phase;
	wasr = x->result;
	add_example(x, ci, o);
	if (ci->mode == PX_INTERCEPT) {
		x->i_total++;
		x->verdicts_i[vd]++;
		if (vd == V_HEALTHY) {
			x->i_ok++;
			if (x->phase != VP_DONE)
				settle(x, VR_REFUTED,
				       "works intercepted: the client accepted the interception certificate and sent data");
		} else if (vd != V_INCOMPLETE && vd != V_NONE) {
			x->i_fail++;
			if (verdict_is_rejection(vd))
				x->i_reject++;
			if (x->phase == VP_INTERCEPT && x->i_fail >= x->rounds)
				x->phase = VP_SPLICE;
		}
	} else {
		x->s_total++;
		x->verdicts_s[vd]++;
		if (vd == V_HEALTHY) {
			x->s_ok++;
			if (x->phase == VP_SPLICE) {
				if (x->i_reject)
					settle(x, VR_CONFIRMED,
					       "fails intercepted (the client rejects the interception certificate) and works "
					       "bypassed");
				else {
					char why[400];
					const char *n = proxy_note(x);
					snprintf(why, sizeof(why),
					         "works bypassed, but the intercepted failures were not client rejections%s%s%s",
					         n ? " (" : "", n ? n : "", n ? ")" : "");
					settle(x, VR_INCONCLUSIVE, why);
				}
			}
		} else if (vd != V_INCOMPLETE && vd != V_NONE) {
			x->s_fail++;
			if (x->phase == VP_SPLICE && x->s_fail >= x->rounds)
				settle(x, VR_INCONCLUSIVE, "fails intercepted and bypassed: not an inspection problem");
		}
	}
	*changed = x->phase != was || x->result != wasr;
	return x;
}

int verify_all_done(const struct verify *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].phase != VP_DONE)
			return 0;
	return 1;
}

void verify_expire(struct verify *v)
{
	for (size_t i = 0; i < v->n; i++) {
		struct vname *x = &v->v[i];
		char why[200];
		if (x->phase == VP_DONE)
			continue;
		if (!x->i_total && !x->s_total)
			snprintf(why, sizeof(why), "no traffic for this name before the timeout%s",
			         x->routed_i + x->routed_s ? " (connections came but no TLS verdict)" : "");
		else if (x->phase == VP_INTERCEPT)
			snprintf(why, sizeof(why), "timed out intercepting: %llu of %u failures needed to try it bypassed",
			         (unsigned long long)x->i_fail, x->rounds);
		else
			snprintf(why, sizeof(why), "timed out bypassed: no connection to it worked bypassed");
		settle(x, VR_INCONCLUSIVE, why);
	}
}

size_t verify_count(const struct verify *v)
{
	return v->n;
}

const struct vname *verify_get(const struct verify *v, size_t i)
{
	return i < v->n ? &v->v[i] : NULL;
}
