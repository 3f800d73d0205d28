/* veofs-sim: the provider simulator as a standalone server. */
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VEOFS_VERSION
#define VEOFS_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: veofs-sim [options]\n"
		"Serve an OpenAI-compatible video API on loopback for tests.\n"
		"\n"
		"  --listen HOST:PORT        address to listen on (default 127.0.0.1:0,\n"
		"                            port 0 picks a free port)\n"
		"  --duration SECONDS        time from create to completed (default 20)\n"
		"  --latency MS              added to every answer\n"
		"  --video-bytes N[K|M|G]    pad each video to about N bytes\n"
		"  --no-range                ignore Range headers\n"
		"  --protocol NAME           openai (default), gemini (Google's Gemini API\n"
		"                            under /v1beta), openrouter or chat (Veo\n"
		"                            through POST /v1/chat/completions, an SSE\n"
		"                            stream of text ending in the video link)\n"
		"  --chat-style NAME         chat: the router's text: flow2api (default),\n"
		"                            sora2api, markdown, tasklink (a polling link\n"
		"                            at /source/ID) or json (one answer, no stream)\n"
		"  --chat-silence SECONDS    chat: how long the silence fault sends\n"
		"                            nothing (default 30)\n"
		"  --dialect NAME            speak a gateway's dialect: openai (default),\n"
		"                            newapi, newapi-gemini, taskdto, litellm,\n"
		"                            redirect, json-url, url-in-status\n"
		"  --progress MODE           smooth (default), coarse (0, 50, 100) or none\n"
		"                            (no progress field)\n"
		"  --jitter PCT              vary each job's duration by up to +-PCT\n"
		"                            percent, the same for the same job id\n"
		"  --url-field NAME          url-in-status: name the video under NAME\n"
		"                            only (video_url, data.result_url,\n"
		"                            data.videos[].url, unsigned_urls[],\n"
		"                            download_url, content_url)\n"
		"  --fault ENDPOINT=KIND[xN] misbehave on the first N requests to ENDPOINT\n"
		"                            (every request without xN); repeatable\n"
		"      ENDPOINT: create, poll, content\n"
		"      KIND: 429, 429-retry-after, 429-retry-after-ms, 500, 502, 503,\n"
		"            reset-before-body, reset-after-body, stall, bad-json,\n"
		"            truncated-json, json-body, json-url, html-body, short-body,\n"
		"            long-body, gateway-spelling, upper-case, fail-error-object,\n"
		"            fail-error-string, fail-no-error, never-finish,\n"
		"            inline-video (gemini), expired (openrouter),\n"
		"            drop-after-headers, drop-mid-progress, drop-before-link,\n"
		"            stream-error, silence (chat, create only)\n"
		"  -v, --verbose             log each request on stderr\n"
		"  -h, --help                show this help\n"
		"  -V, --version             show the version\n"
		"\n"
		"Test hooks beside /v1: GET /_sim/stats, GET /_sim/jobs/ID,\n"
		"GET /_sim/files/, GET|POST|DELETE /_sim/faults.\n");
}

static int bad_arg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_arg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "veofs-sim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'veofs-sim --help'.\n");
	return 2;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT". host points into buf. */
static int parse_listen(const char *arg, char *buf, size_t buflen,
			const char **host, int *port)
{
	const char *colon;
	char *end;
	long p;

	if (strlen(arg) >= buflen)
		return -1;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			return -1;
		memcpy(buf, arg + 1, close - arg - 1);
		buf[close - arg - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon)
			return -1;
		memcpy(buf, arg, colon - arg);
		buf[colon - arg] = '\0';
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
		return -1;
	*host = buf[0] ? buf : "127.0.0.1";
	*port = (int)p;
	return 0;
}

static int parse_size(const char *arg, int64_t *out)
{
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || v < 0)
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	else if (*end != '\0')
		return -1;
	if (shift && end[1] != '\0' && strcmp(end + 1, "iB") != 0)
		return -1;
	if (v > (INT64_MAX >> shift))
		return -1;
	*out = (int64_t)v << shift;
	return 0;
}

enum {
	OPT_LISTEN = 256, OPT_DURATION, OPT_LATENCY, OPT_VIDEO_BYTES,
	OPT_NO_RANGE, OPT_FAULT, OPT_DIALECT, OPT_PROGRESS, OPT_JITTER,
	OPT_URL_FIELD, OPT_PROTOCOL, OPT_CHAT_STYLE, OPT_CHAT_SILENCE,
};

static const struct option long_options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "latency", required_argument, NULL, OPT_LATENCY },
	{ "video-bytes", required_argument, NULL, OPT_VIDEO_BYTES },
	{ "no-range", no_argument, NULL, OPT_NO_RANGE },
	{ "fault", required_argument, NULL, OPT_FAULT },
	{ "dialect", required_argument, NULL, OPT_DIALECT },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "chat-style", required_argument, NULL, OPT_CHAT_STYLE },
	{ "chat-silence", required_argument, NULL, OPT_CHAT_SILENCE },
	{ "progress", required_argument, NULL, OPT_PROGRESS },
	{ "jitter", required_argument, NULL, OPT_JITTER },
	{ "url-field", required_argument, NULL, OPT_URL_FIELD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* 0 to run, 1 to exit 0 (help, version), 2 on a bad argument. */
static int parse_args(int argc, char **argv, struct sim_options *o,
		      char *host_buf, size_t host_len)
{
	char err[256];
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVv", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (parse_listen(optarg, host_buf, host_len,
					 &o->listen_host, &o->port) < 0)
				return bad_arg("bad --listen '%s': %s", optarg,
					       "expected HOST:PORT");
			break;
		case OPT_DURATION:
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end != '\0' ||
			    !isfinite(o->duration) || o->duration < 0)
				return bad_arg("bad --duration '%s': %s", optarg,
					       "expected seconds, 0 or more");
			break;
		case OPT_LATENCY: {
			long ms;

			errno = 0;
			ms = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' || ms < 0 ||
			    ms > 3600 * 1000)
				return bad_arg("bad --latency '%s': %s", optarg,
					       "expected milliseconds, 0 to 3600000");
			o->latency_ms = (int)ms;
			break;
		}
		case OPT_VIDEO_BYTES:
			if (parse_size(optarg, &o->video_bytes) < 0)
				return bad_arg("bad --video-bytes '%s': %s", optarg,
					       "expected a byte count such as 5000000 or 1G");
			break;
		case OPT_NO_RANGE:
			o->no_range = true;
			break;
		case OPT_FAULT:
			if (sim_parse_fault(o, optarg, err, sizeof(err)) < 0)
				return bad_arg("%s", err);
			break;
		case OPT_PROTOCOL: {
			enum sim_protocol p;
			if (sim_protocol_parse(optarg, &p) < 0)
				return bad_arg("bad --protocol '%s': expected openai, gemini, openrouter or chat",
					       optarg);
			o->protocol = optarg;
			break;
		}
		case OPT_CHAT_STYLE:
			if (!sim_chat_style_valid(optarg))
				return bad_arg("bad --chat-style '%s': expected %s", optarg,
					       sim_chat_style_list());
			o->chat_style = optarg;
			break;
		case OPT_CHAT_SILENCE: {
			long secs;

			errno = 0;
			secs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' || secs < 1 ||
			    secs > 86400)
				return bad_arg("bad --chat-silence '%s': %s", optarg,
					       "expected seconds, 1 to 86400");
			o->chat_silence_s = (int)secs;
			break;
		}
		case OPT_DIALECT:
			if (!sim_dialect_valid(optarg))
				return bad_arg("bad --dialect '%s': expected %s", optarg,
					       sim_dialect_list());
			o->dialect = optarg;
			break;
		case OPT_PROGRESS:
			if (sim_progress_parse(optarg, &o->progress) < 0)
				return bad_arg("bad --progress '%s': %s", optarg,
					       "expected smooth, coarse or none");
			break;
		case OPT_JITTER: {
			long pct;

			errno = 0;
			pct = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' || pct < 0 ||
			    pct > 100)
				return bad_arg("bad --jitter '%s': %s", optarg,
					       "expected a percentage, 0 to 100");
			o->jitter_pct = (int)pct;
			break;
		}
		case OPT_URL_FIELD:
			if (!sim_url_field_valid(optarg))
				return bad_arg("bad --url-field '%s': expected %s",
					       optarg, sim_url_field_list());
			o->url_field = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("veofs-sim %s\n", VEOFS_VERSION);
			return 1;
		case ':':
			return bad_arg("option '%s' needs a value",
				       argv[optind - 1]);
		default:
			return bad_arg("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_arg("unexpected argument '%s'", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_options opt;
	char host[256], err[256];
	struct sim *s;
	sigset_t stop_signals;
	int rc, sig;

	sim_options_init(&opt);
	rc = parse_args(argc, argv, &opt, host, sizeof(host));
	if (rc)
		return rc == 1 ? 0 : 2;

	/* Block the stop signals before the server threads start so they
	 * inherit the mask and only sigwait() below sees them. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	s = sim_start(&opt, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "veofs-sim: %s\n", err);
		return 1;
	}
	printf("veofs-sim: listening on %s (API at %s%s)\n", sim_root_url(s),
	       sim_root_url(s), sim_api_path(opt.protocol));
	fflush(stdout);

	while (sigwait(&stop_signals, &sig) != 0)
		;
	sim_stop(s);
	return 0;
}
