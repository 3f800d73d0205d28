/* api.protocol and sim.protocol (contract section 2): validation, the
 * gemini default base_url, each protocol's key variables, and the embedded
 * simulator following the mount's protocol. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "test_support.h"

static char *dir;
static char home_env[300];
static char err[1024];

static void setup(void)
{
	dir = test_tmpdir();
	snprintf(home_env, sizeof(home_env), "HOME=%s", dir);
}

static void teardown(void)
{
	test_tmpdir_remove(dir);
	dir = NULL;
}

TestSuite(config_protocol, .init = setup, .fini = teardown);

static int load(struct config *c, const char *const *env,
		const struct config_option *opts, size_t n_opts)
{
	char *environ_arr[8], nofile[400];
	size_t n = 0;

	snprintf(nofile, sizeof(nofile), "%s/no-such.conf", dir);
	environ_arr[n++] = home_env;
	for (size_t i = 0; env && env[i] && n < 7; i++)
		environ_arr[n++] = (char *)env[i];
	environ_arr[n] = NULL;
	struct config_sources src = {
		.options = opts,
		.n_options = n_opts,
		.system_file = nofile,
		.environ = environ_arr,
	};
	return config_load(c, &src, err, sizeof(err));
}

Test(config_protocol, openai_is_the_default)
{
	struct config c;

	cr_assert_eq(load(&c, NULL, NULL, 0), 0, "%s", err);
	cr_assert_str_eq(c.protocol, "openai");
	cr_assert_str_eq(c.sim_protocol, "openai");
	cr_assert_str_eq(c.base_url, "https://api.applerouter.ai/v1");
	config_free(&c);
}

Test(config_protocol, unknown_protocol_names_the_key)
{
	struct config c;
	struct config_option o[] = { { "protocol", "grpc" } };

	cr_assert_eq(load(&c, NULL, o, 1), -1);
	cr_assert(strstr(err, "api.protocol"), "%s", err);
	cr_assert(strstr(err, "gemini"), "%s", err);
	config_free(&c);
}

Test(config_protocol, gemini_moves_the_default_base_url_and_reads_its_keys)
{
	struct config c;
	struct config_option o[] = { { "protocol", "gemini" } };
	const char *env[] = { "VEOFS_API_KEY=usual", "GOOGLE_API_KEY=google", NULL };

	cr_assert_eq(load(&c, env, o, 1), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "https://generativelanguage.googleapis.com/v1beta");
	cr_assert_str_eq(c.api_key, "google");
	cr_assert_str_eq(c.sim_protocol, "gemini");
	config_free(&c);

	const char *env2[] = { "GEMINI_API_KEY=gem", "GOOGLE_API_KEY=google", NULL };
	cr_assert_eq(load(&c, env2, o, 1), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "gem");
	config_free(&c);

	const char *env3[] = { "OPENAI_API_KEY=usual", NULL };
	cr_assert_eq(load(&c, env3, o, 1), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "usual");
	config_free(&c);
}

Test(config_protocol, a_base_url_set_anywhere_wins)
{
	struct config c;
	struct config_option o[] = { { "protocol", "gemini" },
				     { "base_url", "http://127.0.0.1:9/v1beta" } };

	cr_assert_eq(load(&c, NULL, o, 2), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "http://127.0.0.1:9/v1beta");
	config_free(&c);
}

Test(config_protocol, openrouter_key_and_gemini_keys_only_for_their_protocol)
{
	struct config c;
	struct config_option o[] = { { "api.protocol", "openrouter" } };
	const char *env[] = { "OPENROUTER_API_KEY=or", "VEOFS_API_KEY=usual",
			      "GEMINI_API_KEY=gem", NULL };

	cr_assert_eq(load(&c, env, o, 1), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "or");
	cr_assert_str_eq(c.base_url, "https://api.applerouter.ai/v1");
	config_free(&c);

	cr_assert_eq(load(&c, env, NULL, 0), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "usual");
	config_free(&c);
}

Test(config_protocol, sim_protocol_set_on_its_own)
{
	struct config c;
	struct config_option o[] = { { "protocol", "gemini" },
				     { "sim.protocol", "openrouter" } };

	cr_assert_eq(load(&c, NULL, o, 2), 0, "%s", err);
	cr_assert_str_eq(c.protocol, "gemini");
	cr_assert_str_eq(c.sim_protocol, "openrouter");
	config_free(&c);
}

Test(config_protocol, protocol_in_either_section_of_a_file)
{
	struct config c;
	char path[400], opt[420];
	FILE *f;

	snprintf(path, sizeof(path), "%s/p.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("[api]\nprotocol = openrouter\n[sim]\nprotocol = gemini\n", f);
	fclose(f);
	snprintf(opt, sizeof(opt), "%s", path);
	char *environ_arr[] = { home_env, NULL };
	struct config_sources src = { .config_file = opt, .system_file = path,
				      .environ = environ_arr };
	cr_assert_eq(config_load(&c, &src, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.protocol, "openrouter");
	cr_assert_str_eq(c.sim_protocol, "gemini");
	config_free(&c);
}

/* The chat route's reply is one request for the whole generation: its
 * own bounds, checked like every other number, and the simulator's
 * router style beside it. */
Test(config_protocol, chat_takes_its_limits_and_the_sims_style)
{
	struct config c;
	struct config_option o[] = { { "protocol", "chat" }, { "silence_limit", "30" },
				     { "chat.total_limit", "600" }, { "chat_style", "tasklink" } };

	cr_assert_eq(load(&c, NULL, NULL, 0), 0, "%s", err);
	cr_assert_eq(c.chat_silence_limit, 120);
	cr_assert_eq(c.chat_total_limit, 900);
	cr_assert_str_eq(c.sim_chat_style, "flow2api");
	config_free(&c);
	cr_assert_eq(load(&c, NULL, o, 4), 0, "%s", err);
	cr_assert_str_eq(c.protocol, "chat");
	cr_assert_str_eq(c.sim_protocol, "chat");
	cr_assert_eq(c.chat_silence_limit, 30);
	cr_assert_eq(c.chat_total_limit, 600);
	cr_assert_str_eq(c.sim_chat_style, "tasklink");
	config_free(&c);

	struct config_option bad[] = { { "silence_limit", "0" } };
	cr_assert_eq(load(&c, NULL, bad, 1), -1);
	cr_assert(strstr(err, "chat.silence_limit"), "%s", err);
	config_free(&c);
	struct config_option style[] = { { "sim.chat_style", "openai" } };
	cr_assert_eq(load(&c, NULL, style, 1), -1);
	cr_assert(strstr(err, "flow2api"), "%s", err);
	config_free(&c);
}
