/* The server: libmicrohttpd runs one thread per connection, so a stalled
 * or delayed answer only holds its own thread; every wait goes through
 * s->wake so sim_stop() and DELETE /_sim/faults can release it at once.
 * All state lives in struct sim behind one mutex. This file routes
 * requests, dispatches them, and starts and stops the server. */
#include "sim_internal.h"

#include <ctype.h>
#include <netdb.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

void sim_options_init(struct sim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->listen_host = "127.0.0.1";
	o->port = 0;
	o->duration = 20;
}


static enum route route_v1(struct req *r, const char *path, const char *method)
{
	bool get = method_is(method, "GET") || method_is(method, "HEAD");
	size_t len;

	if (*path == '\0' || strcmp(path, "/") == 0) {
		if (method_is(method, "POST"))
			return R_CREATE;
		return get ? R_LIST : R_BAD_METHOD;
	}
	if (*path != '/')
		return R_NOT_FOUND;
	path++;
	/* Ids may hold '/' (litellm's base64, sent as %2F and decoded by
	 * the server), so only a trailing "/content" names the download. */
	len = strlen(path);
	if (len > 8 && strcmp(path + len - 8, "/content") == 0) {
		if (!copy_id(r->id, path, len - 8))
			return R_NOT_FOUND;
		return get ? R_CONTENT : R_BAD_METHOD;
	}
	if (!copy_id(r->id, path, len))
		return R_NOT_FOUND;
	if (get)
		return R_POLL;
	return method_is(method, "DELETE") ? R_DELETE : R_BAD_METHOD;
}

static enum route route_sim(struct req *r, const char *path, const char *method)
{
	bool get = method_is(method, "GET") || method_is(method, "HEAD");
	size_t len;

	if (strcmp(path, "/stats") == 0)
		return get ? R_STATS : R_BAD_METHOD;
	if (strncmp(path, "/jobs/", 6) == 0) {
		if (!copy_id(r->id, path + 6, strlen(path + 6)))
			return R_NOT_FOUND;
		return get ? R_SIM_JOB : R_BAD_METHOD;
	}
	if (strcmp(path, "/files") == 0 || strcmp(path, "/files/") == 0)
		return get ? R_FILES_INDEX : R_BAD_METHOD;
	if (strncmp(path, "/files/", 7) == 0) {
		path += 7;
		len = strlen(path);
		/* ID.webp: the preview the chat protocol's text links to */
		if (len > 5 && strcmp(path + len - 5, ".webp") == 0) {
			r->webp = true;
			len--;
		}
		if (len < 5 || strncmp(path + len - 4, r->webp ? ".web" : ".mp4", 4) != 0 ||
		    !copy_id(r->id, path, len - 4))
			return R_NOT_FOUND;
		return get ? R_FILE : R_BAD_METHOD;
	}
	if (strcmp(path, "/faults") == 0) {
		if (get)
			return R_FAULTS_LIST;
		if (method_is(method, "POST"))
			return R_FAULTS_ADD;
		return method_is(method, "DELETE") ? R_FAULTS_CLEAR : R_BAD_METHOD;
	}
	return R_NOT_FOUND;
}

int sim_protocol_parse(const char *name, enum sim_protocol *out)
{
	if (!name || !strcmp(name, "openai"))
		*out = SIM_PROTO_OPENAI;
	else if (!strcmp(name, "gemini"))
		*out = SIM_PROTO_GEMINI;
	else if (!strcmp(name, "openrouter"))
		*out = SIM_PROTO_OPENROUTER;
	else if (!strcmp(name, "chat"))
		*out = SIM_PROTO_CHAT;
	else
		return -1;
	return 0;
}

const char *sim_api_path(const char *protocol)
{
	return protocol && !strcmp(protocol, "gemini") ? "/v1beta" : "/v1";
}

static enum route route_of(struct req *r, const char *url, const char *method)
{
	if (r->s->protocol == SIM_PROTO_GEMINI && strncmp(url, "/_sim", 5))
		return gemini_route(r, url, method);
	if (r->s->protocol == SIM_PROTO_CHAT && strncmp(url, "/_sim", 5))
		return chat_route(r, url, method);
	if (strncmp(url, "/v1/videos", 10) == 0)
		return route_v1(r, url + 10, method);
	if (strncmp(url, "/_sim/", 6) == 0 || strcmp(url, "/_sim") == 0)
		return route_sim(r, url + 5, method);
	return R_NOT_FOUND;
}
static struct req *req_new(struct sim *s, struct MHD_Connection *c,
			   const char *url, const char *method)
{
	struct req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->s = s;
	r->method = method;
	r->head = method_is(method, "HEAD");
	snprintf(r->url, sizeof(r->url), "%s", url);
	r->route = route_of(r, url, method);
	switch (r->route) {
	case R_CREATE:
		count_locked(s, &s->count.create_requests);
		r->fault = take_fault(s, SIM_EP_CREATE);
		setup_create_body(r, c);
		break;
	case R_POLL:
		count_locked(s, &s->count.polls);
		r->fault = take_fault(s, SIM_EP_POLL);
		break;
	case R_CONTENT:
		count_locked(s, &s->count.content_requests);
		r->fault = take_fault(s, SIM_EP_CONTENT);
		break;
	case R_DELETE:
		count_locked(s, &s->count.deletes);
		break;
	case R_LIST:
		count_locked(s, &s->count.lists);
		break;
	case R_FILE:
		count_locked(s, &s->count.file_requests);
		break;
	case R_FAULTS_ADD:
		r->body_raw = true;
		break;
	default:
		break;
	}
	return r;
}

static bool provider_route(enum route route)
{
	switch (route) {
	case R_CREATE:
	case R_LIST:
	case R_POLL:
	case R_CONTENT:
	case R_DELETE:
	case R_FILES_INDEX:
	case R_FILE:
		return true;
	default:
		return false;
	}
}

static void route_answer(struct sim *s, struct MHD_Connection *c,
			 struct req *r, struct answer *a)
{
	if (s->protocol == SIM_PROTO_GEMINI && gemini_answer(s, c, r, a))
		return;
	if (s->protocol == SIM_PROTO_OPENROUTER && openrouter_answer(s, c, r, a))
		return;
	if (s->protocol == SIM_PROTO_CHAT && chat_answer(s, c, r, a))
		return;
	switch (r->route) {
	case R_CREATE: do_create(s, r, a); break;
	case R_LIST: do_list(s, c, a); break;
	case R_POLL: do_poll(s, r, a); break;
	case R_CONTENT: do_content(s, c, r, a); break;
	case R_DELETE: do_delete(s, r, a); break;
	case R_STATS: do_stats(s, a); break;
	case R_SIM_JOB: do_sim_job(s, r, a); break;
	case R_FILES_INDEX: do_files_index(s, a); break;
	case R_FILE: do_file(s, c, r, a); break;
	case R_FAULTS_LIST: do_faults_list(s, a); break;
	case R_FAULTS_ADD: do_faults_add(s, r, a); break;
	case R_FAULTS_CLEAR:
		sim_clear_faults(s);
		answer_json(a, 200, json_pack("{s:b}", "cleared", 1));
		break;
	case R_BAD_METHOD:
		answer_error(a, 405, "invalid_request_error", NULL, NULL,
			     "method %s is not allowed here", r->method);
		a->allow = "GET, HEAD, POST, DELETE";
		break;
	case R_SIGNED:	/* only on the second listener (sim_signed.c) */
	case R_NOT_FOUND:
		answer_error(a, 404, "invalid_request_error", "unknown_url", NULL,
			     "unknown URL %s", r->url);
		break;
	}
}

static enum MHD_Result dispatch(struct sim *s, struct MHD_Connection *c,
				struct req *r)
{
	struct answer a = { 0 };

	if (provider_route(r->route) && !delay(s, s->opt.latency_ms)) {
		log_answer(s, r, "closed (stopping)");
		return MHD_NO;
	}
	if (r->fault == FK_STALL) {
		if (!stall(s)) {
			log_answer(s, r, "closed (stopping)");
			return MHD_NO;
		}
		r->fault = FK_NONE;
	}
	if (fault_answer(r, &a))
		return send_answer(s, c, r, &a);
	/* The chat create answers by itself: a stream, or a held answer. */
	if (s->protocol == SIM_PROTO_CHAT && r->route == R_CREATE)
		return chat_create(s, c, r);
	route_answer(s, c, r, &a);
	return send_answer(s, c, r, &a);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct sim *s = cls;
	struct req *r = *con_cls;

	if (!r) {
		r = req_new(s, c, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (r->fault == FK_RESET_BEFORE_BODY) {
			log_answer(s, r, "closed before the body");
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		req_body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return dispatch(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	req_free(*con_cls);
	*con_cls = NULL;
}

/* ---- start and stop ---- */

static int resolve(const char *host, int port, struct sockaddr_storage *ss,
		   char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char service[16];
	int rc;

	snprintf(service, sizeof(service), "%d", port);
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		set_err(err, errlen, "cannot resolve '%s': %s", host,
			gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->n_jobs; i++) {
		fields_free(&s->jobs[i]->in);
		free(s->jobs[i]);
	}
	free(s->jobs);
	free(s->faults);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int sim_init(struct sim *s, const struct sim_options *o)
{
	pthread_condattr_t attr;

	if (o)
		s->opt = *o;
	else
		sim_options_init(&s->opt);
	if (!s->opt.listen_host || !*s->opt.listen_host)
		s->opt.listen_host = "127.0.0.1";
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (getrandom(&s->id_seed, sizeof(s->id_seed), 0) != sizeof(s->id_seed))
		s->id_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	s->sign_key = splitmix64(s->id_seed ^ 0x5349474eULL);
	s->d = dialect_find(s->opt.dialect);
	sim_protocol_parse(s->opt.protocol, &s->protocol);
	chat_set_style(s);
	for (int i = 0; i < s->opt.n_faults; i++)
		if (add_fault_locked(s, &s->opt.faults[i]) < 0)
			return -1;
	return 0;
}

struct sim *sim_start(const struct sim_options *o, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	unsigned int flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
	struct sim *s = calloc(1, sizeof(*s));
	const char *host;

	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	enum sim_protocol proto;
	if (o && sim_protocol_parse(o->protocol, &proto) < 0) {
		set_err(err, errlen, "unknown protocol '%.60s' (openai, gemini, openrouter, chat)",
			o->protocol);
		free(s);
		return NULL;
	}
	if (o && o->chat_style && !sim_chat_style_valid(o->chat_style)) {
		set_err(err, errlen, "unknown chat style '%.60s' (%s)", o->chat_style,
			sim_chat_style_list());
		free(s);
		return NULL;
	}
	if (o && o->dialect && !sim_dialect_valid(o->dialect)) {
		set_err(err, errlen, "unknown dialect '%.60s' (%s)", o->dialect,
			sim_dialect_list());
		free(s);
		return NULL;
	}
	if (o && o->url_field && !sim_url_field_valid(o->url_field)) {
		set_err(err, errlen, "unknown url field '%.60s' (%s)", o->url_field,
			sim_url_field_list());
		free(s);
		return NULL;
	}
	if (o && (o->jitter_pct < 0 || o->jitter_pct > 100)) {
		set_err(err, errlen, "jitter %d%% is not from 0 to 100", o->jitter_pct);
		free(s);
		return NULL;
	}
	if (sim_init(s, o) < 0) {
		set_err(err, errlen, "bad fault list");
		sim_free(s);
		return NULL;
	}
	host = s->opt.listen_host;
	if (resolve(host, s->opt.port, &ss, err, errlen) < 0) {
		sim_free(s);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (s->opt.verbose)
		flags |= MHD_USE_ERROR_LOG;
	errno = 0;
	/* The address is set before the server's threads start: they read
	 * s->root without a lock. */
	int lfd = sim_listen(&ss, &s->port);
	if (lfd >= 0)
		snprintf(s->root, sizeof(s->root), strchr(host, ':') ?
			 "http://[%s]:%d" : "http://%s:%d", host, s->port);
	if (lfd >= 0 && (s->d->content == CONTENT_REDIRECT || s->protocol == SIM_PROTO_GEMINI ||
			  s->protocol == SIM_PROTO_CHAT) &&
	    signed_start(s, err, errlen) < 0) {
		close(lfd);
		sim_free(s);
		return NULL;
	}
	s->daemon = lfd < 0 ? NULL :
		    MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_LISTEN_SOCKET, lfd,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_END);
	if (!s->daemon) {
		int e = errno;
		if (lfd >= 0)
			close(lfd);
		if (s->signed_daemon)
			MHD_stop_daemon(s->signed_daemon);
		s->signed_daemon = NULL;
		errno = e;
		char why[128];

		snprintf(why, sizeof(why), "%s",
			 errno ? strerror(errno) : "the server did not start");
		why[0] = (char)tolower((unsigned char)why[0]);
		set_err(err, errlen, "cannot listen on %s:%d: %s", host,
			s->opt.port, why);
		sim_free(s);
		return NULL;
	}
	return s;
}

const char *sim_root_url(const struct sim *s)
{
	return s->root;
}

int sim_port(const struct sim *s)
{
	return s->port;
}

void sim_stop(struct sim *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	MHD_stop_daemon(s->daemon);
	signed_stop(s);
	sim_free(s);
}
