/* Create request bodies: multipart, urlencoded or JSON fields, and their
 * validation against what the API accepts. */
#include "sim_internal.h"


static const char *const valid_seconds[] = { "4", "6", "8", "12" };
static const char *const valid_sizes[] = {
	"16x9", "9x16", "1280x720", "720x1280", "1024x1792", "1792x1024",
};

static struct sbuf *field_slot(struct create_fields *f, const char *key)
{
	if (strcmp(key, "model") == 0)
		return &f->model;
	if (strcmp(key, "prompt") == 0)
		return &f->prompt;
	if (strcmp(key, "seconds") == 0)
		return &f->seconds;
	if (strcmp(key, "size") == 0)
		return &f->size;
	if (strcmp(key, "watermark") == 0)
		return &f->watermark;
	return NULL;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *filename,
				  const char *content_type,
				  const char *transfer_encoding,
				  const char *data, uint64_t off, size_t size)
{
	struct req *r = cls;
	struct create_fields *f = &r->in;
	struct sbuf *slot;

	if (!key)
		return MHD_YES;
	if (strcmp(key, "input_reference") == 0 && filename) {
		if (f->ref_kind != REF_FILE) {
			f->ref_kind = REF_FILE;
			f->ref_hash = 0xcbf29ce484222325ULL;
			if (sbuf_set(&f->ref_filename, filename) < 0 ||
			    sbuf_set(&f->ref_type, content_type ?
				     content_type : "") < 0)
				goto too_large;
		}
		f->ref_bytes += size;
		f->ref_hash = fnv1a_update(f->ref_hash, data, size);
		return MHD_YES;
	}
	if (strcmp(key, "input_reference") == 0) {
		f->ref_kind = REF_URL;
		slot = &f->ref_url;
	} else {
		slot = field_slot(f, key);
	}
	if (!slot)
		return MHD_YES;	/* unknown fields are ignored, as providers do */
	if (off == 0)
		slot->len = 0;
	if (sbuf_append(slot, data, size, FIELD_MAX) < 0)
		goto too_large;
	return MHD_YES;
too_large:
	r->too_large = true;
	return MHD_NO;
}

static bool content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

void setup_create_body(struct req *r, struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);

	r->in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
	if (content_type_is(ct, "application/json")) {
		r->body_json = r->body_raw = true;
		r->in.format = "json";
		return;
	}
	if (content_type_is(ct, "multipart/form-data"))
		r->in.format = "multipart";
	else if (content_type_is(ct, "application/x-www-form-urlencoded"))
		r->in.format = "urlencoded";
	else {
		r->bad_body = true;
		return;
	}
	r->pp = MHD_create_post_processor(c, 16 * 1024, form_field, r);
	if (!r->pp)
		r->bad_body = true;
}
void req_body(struct req *r, const char *data, size_t len)
{
	r->body_seen += len;
	if (r->too_large || r->bad_body)
		return;
	if (r->body_seen > BODY_MAX) {
		r->too_large = true;
		return;
	}
	if (r->pp) {
		if (MHD_post_process(r->pp, data, len) != MHD_YES && !r->too_large)
			r->bad_body = true;
	} else if (r->body_raw) {
		if (sbuf_append(&r->raw, data, len, BODY_MAX) < 0)
			r->too_large = true;
	}
}

void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	sbuf_free(&r->raw);
	fields_free(&r->in);
	free(r);
}

static int json_field(struct sbuf *slot, json_t *v, const char *key,
		      char *err, size_t errlen)
{
	char num[64];

	if (json_is_string(v))
		return sbuf_set(slot, json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return sbuf_set(slot, num);
	}
	if (json_is_boolean(v))
		return sbuf_set(slot, json_is_true(v) ? "true" : "false");
	set_err(err, errlen, "%s must be a string", key);
	return -1;
}

int fields_from_json(struct create_fields *f, const struct sbuf *raw,
			    const char **param, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"model", "prompt", "seconds", "size", "watermark",
		"input_reference",
	};
	json_error_t jerr;
	json_t *root = json_loadb(raw->p ? raw->p : "", raw->len, 0, &jerr);
	int rc = 0;

	if (!json_is_object(root)) {
		set_err(err, errlen, "the body is not a JSON object");
		json_decref(root);
		return -1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && rc == 0; i++) {
		json_t *v = json_object_get(root, keys[i]);
		struct sbuf *slot = field_slot(f, keys[i]);

		if (!v || json_is_null(v))
			continue;
		if (!slot) {
			f->ref_kind = REF_URL;
			slot = &f->ref_url;
		}
		*param = keys[i];
		rc = json_field(slot, v, keys[i], err, errlen);
	}
	json_decref(root);
	return rc;
}

/* 0, or -1 with the message and the offending parameter. */
int validate(const struct create_fields *f, const char **param,
		    char *err, size_t errlen)
{
	*param = "model";
	if (!f->model.p || blank(f->model.p)) {
		set_err(err, errlen, "model is required");
		return -1;
	}
	*param = "prompt";
	if (!f->prompt.p) {
		set_err(err, errlen, "prompt is required");
		return -1;
	}
	if (blank(f->prompt.p)) {
		set_err(err, errlen, "prompt must not be empty");
		return -1;
	}
	size_t chars = 0;
	for (size_t i = 0; i < f->prompt.len; i++)
		if (((unsigned char)f->prompt.p[i] & 0xc0) != 0x80)
			chars++; /* UTF-8: count characters, not bytes */
	if (chars > PROMPT_MAX) {
		set_err(err, errlen, "prompt is longer than %d characters",
			PROMPT_MAX);
		return -1;
	}
	*param = "seconds";
	if (f->seconds.p && !in_list(f->seconds.p, valid_seconds,
				     sizeof(valid_seconds) / sizeof(valid_seconds[0]))) {
		set_err(err, errlen, "seconds must be one of 4, 6, 8, 12 (got '%.40s')",
			f->seconds.p);
		return -1;
	}
	*param = "size";
	if (f->size.p && !in_list(f->size.p, valid_sizes,
				  sizeof(valid_sizes) / sizeof(valid_sizes[0]))) {
		set_err(err, errlen,
			"size must be one of 16x9, 9x16, 1280x720, 720x1280, 1024x1792, 1792x1024 (got '%.40s')",
			f->size.p);
		return -1;
	}
	if (f->ref_kind == REF_URL && f->ref_url.p && blank(f->ref_url.p)) {
		*param = "input_reference";
		set_err(err, errlen, "input_reference must not be empty");
		return -1;
	}
	return 0;
}
