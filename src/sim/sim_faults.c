/* Faults: the table of kinds, "ENDPOINT=KIND[xN]" specs, and the live
 * list consumed in order as requests arrive. */
#include "sim_internal.h"


static const struct {
	const char *name;
	enum fault_kind kind;
	unsigned endpoints;	/* where the kind means something */
} fault_table[] = {
	{ "429", FK_429, EP_ALL },
	{ "429-retry-after", FK_429_RETRY_AFTER, EP_ALL },
	{ "429-retry-after-ms", FK_429_RETRY_AFTER_MS, EP_ALL },
	{ "500", FK_500, EP_ALL },
	{ "502", FK_502, EP_ALL },
	{ "503", FK_503, EP_ALL },
	{ "reset-before-body", FK_RESET_BEFORE_BODY, EP_ALL },
	{ "reset-after-body", FK_RESET_AFTER_BODY, EP_ALL },
	{ "stall", FK_STALL, EP_ALL },
	{ "bad-json", FK_BAD_JSON, EP_ALL },
	{ "truncated-json", FK_TRUNCATED_JSON, EP_ALL },
	{ "json-body", FK_JSON_BODY, EP_ALL },
	{ "json-url", FK_JSON_URL, EP_CONTENT },
	{ "html-body", FK_HTML_BODY, EP_ALL },
	{ "short-body", FK_SHORT_BODY, EP_ALL },
	{ "long-body", FK_LONG_BODY, EP_ALL },
	{ "gateway-spelling", FK_GATEWAY_SPELLING, EP_CREATE | EP_POLL },
	{ "upper-case", FK_UPPER_CASE, EP_CREATE | EP_POLL },
	{ "fail-error-object", FK_FAIL_ERROR_OBJECT, EP_CREATE | EP_POLL },
	{ "fail-error-string", FK_FAIL_ERROR_STRING, EP_CREATE | EP_POLL },
	{ "fail-no-error", FK_FAIL_NO_ERROR, EP_CREATE | EP_POLL },
	{ "never-finish", FK_NEVER_FINISH, EP_CREATE | EP_POLL },
	{ "inline-video", FK_INLINE_VIDEO, EP_CREATE },
	{ "expired", FK_EXPIRED, EP_CREATE },
	{ "drop-after-headers", FK_DROP_AFTER_HEADERS, EP_CREATE },
	{ "drop-mid-progress", FK_DROP_MID_PROGRESS, EP_CREATE },
	{ "drop-before-link", FK_DROP_BEFORE_LINK, EP_CREATE },
	{ "stream-error", FK_STREAM_ERROR, EP_CREATE },
	{ "silence", FK_SILENCE, EP_CREATE },
};

static const char *const endpoint_names[SIM_EP_COUNT] = {
	[SIM_EP_CREATE] = "create",
	[SIM_EP_POLL] = "poll",
	[SIM_EP_CONTENT] = "content",
};


static int kind_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++)
		if (strlen(fault_table[i].name) == len &&
		    strncmp(fault_table[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

const char *kind_name(enum fault_kind kind)
{
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++)
		if (fault_table[i].kind == kind)
			return fault_table[i].name;
	return "none";
}

/* "ENDPOINT=KIND[xN]" with optional blanks around it. */
static int parse_spec(const char *spec, struct sim_fault *f, char *err,
		      size_t errlen)
{
	const char *start = spec, *end, *eq, *kind, *x;
	size_t kind_len;
	int ep, k;
	long count = -1;

	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
			       end[-1] == '\r' || end[-1] == '\n'))
		end--;
	eq = memchr(start, '=', end - start);
	if (!eq) {
		set_err(err, errlen, "bad fault '%.*s': expected ENDPOINT=KIND[xN]",
			(int)(end - start), start);
		return -1;
	}
	for (ep = 0; ep < SIM_EP_COUNT; ep++)
		if (strlen(endpoint_names[ep]) == (size_t)(eq - start) &&
		    strncmp(endpoint_names[ep], start, eq - start) == 0)
			break;
	if (ep == SIM_EP_COUNT) {
		set_err(err, errlen,
			"bad fault '%.*s': unknown endpoint '%.*s' (create, poll or content)",
			(int)(end - start), start, (int)(eq - start), start);
		return -1;
	}
	kind = eq + 1;
	kind_len = end - kind;
	k = kind_lookup(kind, kind_len);
	if (k < 0) {
		/* No kind name contains an 'x', so the last one starts the count. */
		x = NULL;
		for (const char *p = kind; p < end; p++)
			if (*p == 'x')
				x = p;
		if (x && (k = kind_lookup(kind, x - kind)) >= 0) {
			char digits[24];
			size_t n = end - x - 1;
			char *stop;

			if (n == 0 || n >= sizeof(digits) ||
			    strspn(x + 1, "0123456789") < n)
				count = 0;
			else {
				memcpy(digits, x + 1, n);
				digits[n] = '\0';
				errno = 0;
				count = strtol(digits, &stop, 10);
				if (errno)
					count = 0;
			}
			if (count <= 0) {
				set_err(err, errlen,
					"bad fault '%.*s': the count after 'x' must be a positive number",
					(int)(end - start), start);
				return -1;
			}
		}
	}
	if (k < 0) {
		set_err(err, errlen, "bad fault '%.*s': unknown kind '%.*s'",
			(int)(end - start), start, (int)kind_len, kind);
		return -1;
	}
	if (!(fault_table[k].endpoints & (1u << ep))) {
		set_err(err, errlen, "bad fault '%.*s': %s does not apply to %s",
			(int)(end - start), start, fault_table[k].name,
			endpoint_names[ep]);
		return -1;
	}
	memset(f, 0, sizeof(*f));
	f->endpoint = ep;
	snprintf(f->kind, sizeof(f->kind), "%s", fault_table[k].name);
	f->count = count;
	return 0;
}

int sim_parse_fault(struct sim_options *o, const char *spec, char *err,
		    size_t errlen)
{
	struct sim_fault f;

	if (parse_spec(spec, &f, err, errlen) < 0)
		return -1;
	if (o->n_faults >= SIM_MAX_FAULTS) {
		set_err(err, errlen, "too many faults (at most %d)", SIM_MAX_FAULTS);
		return -1;
	}
	o->faults[o->n_faults++] = f;
	return 0;
}

const char *endpoint_name(enum sim_endpoint ep)
{
	return endpoint_names[ep];
}

/* Caller holds s->lock. */
int add_fault_locked(struct sim *s, const struct sim_fault *f)
{
	int k = kind_lookup(f->kind, strlen(f->kind));

	if (k < 0 || f->endpoint < 0 || f->endpoint >= SIM_EP_COUNT)
		return -1;
	if (s->n_faults == s->cap_faults) {
		size_t cap = s->cap_faults ? 2 * s->cap_faults : 16;
		struct live_fault *p = realloc(s->faults, cap * sizeof(*p));

		if (!p)
			return -1;
		s->faults = p;
		s->cap_faults = cap;
	}
	s->faults[s->n_faults++] = (struct live_fault){
		.endpoint = f->endpoint,
		.kind = fault_table[k].kind,
		.left = f->count > 0 ? f->count : -1,
	};
	return 0;
}

int sim_add_faults(struct sim *s, const char *text, char *err, size_t errlen)
{
	struct sim_fault parsed[SIM_MAX_FAULTS];
	int n = 0, rc = 0;
	const char *line = text;

	/* Parse everything first so a bad line adds nothing. */
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char one[256];

		if (len >= sizeof(one)) {
			set_err(err, errlen, "bad fault '%.40s...': too long", line);
			return -1;
		}
		memcpy(one, line, len);
		one[len] = '\0';
		line = nl ? nl + 1 : NULL;
		if (blank(one))
			continue;
		if (n == SIM_MAX_FAULTS) {
			set_err(err, errlen, "too many faults at once (at most %d)",
				SIM_MAX_FAULTS);
			return -1;
		}
		if (parse_spec(one, &parsed[n], err, errlen) < 0)
			return -1;
		n++;
	}
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < n && rc == 0; i++)
		rc = add_fault_locked(s, &parsed[i]);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		set_err(err, errlen, "out of memory");
	return rc < 0 ? -1 : n;
}

void sim_clear_faults(struct sim *s)
{
	pthread_mutex_lock(&s->lock);
	s->n_faults = 0;
	s->fault_epoch++;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* Take the first fault for ep that has requests left. */
enum fault_kind take_fault(struct sim *s, enum sim_endpoint ep)
{
	enum fault_kind kind = FK_NONE;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_faults; i++) {
		struct live_fault *f = &s->faults[i];

		if (f->endpoint != ep || f->left == 0)
			continue;
		if (f->left > 0)
			f->left--;
		kind = f->kind;
		s->count.faults_applied++;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return kind;
}

