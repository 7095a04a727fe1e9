/* resolve.c: getaddrinfo() on worker threads, results through an eventfd. */
#include "proxy/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RESOLVE_MAX_THREADS 8

struct resolve_req {
	struct resolve_req *next;
	char host[256];
	uint16_t port;
	void *cookie; /* NULL once cancelled */
	struct resolve_result res;
};

struct resolver {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct resolve_req *queue, *queue_tail, *done;
	size_t outstanding, max_pending;
	int stop;
	int efd;
	int nthreads;
	pthread_t th[RESOLVE_MAX_THREADS];
};

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

int resolve_literal(const char *host, uint16_t port, struct resolve_result *out)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr[0];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr[0];
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		out->len[0] = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		out->len[0] = sizeof(*s6);
	} else {
		return 0;
	}
	set_port(&out->addr[0], port);
	out->n = 1;
	return 1;
}

static void do_resolve(struct resolve_req *q)
{
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	q->res.gai_err = getaddrinfo(q->host, NULL, &hints, &ai);
	if (q->res.gai_err)
		return;
	for (struct addrinfo *a = ai; a && q->res.n < RESOLVE_MAX_ADDRS; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		memcpy(&q->res.addr[q->res.n], a->ai_addr, a->ai_addrlen);
		q->res.len[q->res.n] = a->ai_addrlen;
		set_port(&q->res.addr[q->res.n], q->port);
		q->res.n++;
	}
	freeaddrinfo(ai);
	if (!q->res.n)
		q->res.gai_err = EAI_NONAME;
}

static void *worker(void *arg)
{
	struct resolver *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct resolve_req *q;
		while (!r->stop && !r->queue)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop)
			break;
		q = r->queue;
		r->queue = q->next;
		if (!r->queue)
			r->queue_tail = NULL;
		if (q->cookie) {
			pthread_mutex_unlock(&r->mu);
			do_resolve(q);
			pthread_mutex_lock(&r->mu);
		}
		q->next = r->done;
		r->done = q;
		{
			uint64_t one = 1;
			ssize_t w = write(r->efd, &one, sizeof(one));
			(void)w; /* the counter saturating is harmless: it is already readable */
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct resolver *resolver_new(int nthreads, size_t max_pending)
{
	struct resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > RESOLVE_MAX_THREADS)
		nthreads = RESOLVE_MAX_THREADS;
	r->max_pending = max_pending;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0 || pthread_mutex_init(&r->mu, NULL) != 0) {
		if (r->efd >= 0)
			close(r->efd);
		free(r);
		return NULL;
	}
	if (pthread_cond_init(&r->cv, NULL) != 0) {
		pthread_mutex_destroy(&r->mu);
		close(r->efd);
		free(r);
		return NULL;
	}
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&r->th[i], NULL, worker, r) != 0)
			break;
		r->nthreads++;
	}
	if (!r->nthreads) {
		resolver_free(r);
		return NULL;
	}
	return r;
}

static void free_list(struct resolve_req *q)
{
	while (q) {
		struct resolve_req *n = q->next;
		free(q);
		q = n;
	}
}

void resolver_free(struct resolver *r)
{
	int joined = 1;
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->nthreads; i++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(r->th[i], NULL, &ts) != 0)
			joined = 0;
	}
	if (!joined)
		return; /* a thread is still inside getaddrinfo: leave r to it */
	free_list(r->queue);
	free_list(r->done);
	close(r->efd);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int resolver_fd(const struct resolver *r)
{
	return r->efd;
}

struct resolve_req *resolver_submit(struct resolver *r, const char *host, uint16_t port, void *cookie)
{
	struct resolve_req *q;
	size_t n = strlen(host);
	if (n == 0 || n >= sizeof(q->host) || !cookie)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	memcpy(q->host, host, n + 1);
	q->port = port;
	q->cookie = cookie;
	pthread_mutex_lock(&r->mu);
	if (r->outstanding >= r->max_pending) {
		pthread_mutex_unlock(&r->mu);
		free(q);
		return NULL;
	}
	r->outstanding++;
	if (r->queue_tail)
		r->queue_tail->next = q;
	else
		r->queue = q;
	r->queue_tail = q;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return q;
}

void resolver_cancel(struct resolver *r, struct resolve_req *q)
{
	pthread_mutex_lock(&r->mu);
	q->cookie = NULL;
	pthread_mutex_unlock(&r->mu);
}

void resolver_collect(struct resolver *r, void (*cb)(void *cookie, const struct resolve_result *res, void *ctx),
                      void *ctx)
{
	struct resolve_req *list, *rev = NULL;
	uint64_t v;
	ssize_t rd = read(r->efd, &v, sizeof(v));
	(void)rd;
	pthread_mutex_lock(&r->mu);
	list = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->mu);
	while (list) { /* oldest first */
		struct resolve_req *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct resolve_req *n = rev->next;
		void *cookie;
		pthread_mutex_lock(&r->mu);
		cookie = rev->cookie;
		r->outstanding--;
		pthread_mutex_unlock(&r->mu);
		if (cookie)
			cb(cookie, &rev->res, ctx);
		free(rev);
		rev = n;
	}
}
