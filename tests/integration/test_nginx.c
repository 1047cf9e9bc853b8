/*
 * The sample nginx configuration (packaging/nginx/cardex.conf) in front of
 * the real Mosquitto with the plugin: a real nginx, run as the test's user
 * with everything in a directory of its own under the build tree, a
 * certificate made for the run, and free loopback ports. The sample is used
 * as shipped, with only its ports, paths and server name replaced.
 * tests/js/nginx-check.mjs checks what nginx sends (types, security
 * headers, caching, gzip, the redirect from plain HTTP), then claims an
 * offer of the cardex CLI over MQTT over WebSockets over TLS through nginx,
 * the cards cross, and last it runs into nginx's per-address limit on
 * /mqtt. With Debian's chromium and playwright-core, the page (the built one
 * when build/web/www has it) is also loaded in Chromium through nginx: no
 * CSP violation, nothing from another host, and page open to key shown under
 * 1 s (best of three). Skipped when nginx, node or the
 * mqtt package (web/node_modules) is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "cli_run.h"

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
};

struct fx {
	cxb_broker b;
	char dir[1024];  /* nginx's prefix: configuration, certificate, page, logs, temp files */
	char nginx[PATH_MAX];
	char node[PATH_MAX];
	char web[PATH_MAX];  /* web/, whose node_modules hold mqtt */
	char sample[PATH_MAX];
	char script[PATH_MAX];
	int https_port, http_port, ws_port;
	cxr_proc *nginx_proc;
	cxr_proc *procs[4];
};

/* name as a path when it has a '/', else the first executable on PATH; false when none. */
static bool find_exe(const char *name, char *out, size_t cap)
{
	const char *p = getenv("PATH");

	if(strchr(name, '/') != NULL){
		snprintf(out, cap, "%s", name);
		return access(out, X_OK) == 0;
	}
	while(p != NULL && *p != '\0'){
		size_t n = strcspn(p, ":");

		snprintf(out, cap, "%.*s/%s", (int)n, p, name);
		if(n > 0 && access(out, X_OK) == 0){
			return true;
		}
		p += n + (p[n] == ':');
	}
	/* nginx lives in /usr/sbin, which a user's PATH may lack. */
	snprintf(out, cap, "/usr/sbin/%s", name);
	return access(out, X_OK) == 0;
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/*
 * Replaces every occurrence of from in *text (a malloc'ed string) with to,
 * and asserts that there were exactly want of them: a sample that changed
 * shape fails here rather than starting nginx on a port of the host.
 */
static void replace(char **text, const char *from, const char *to, int want)
{
	size_t flen = strlen(from), tlen = strlen(to);
	char *out, *o;
	const char *p;
	int n = 0;

	for(p = strstr(*text, from); p != NULL; p = strstr(p + flen, from)){
		n++;
	}
	if(n != want){
		fail_msg("the sample has %d of \"%s\", expected %d", n, from, want);
	}
	out = malloc(strlen(*text) + (size_t)n * tlen + 1);
	assert_non_null(out);
	o = out;
	for(p = *text;;){
		const char *q = strstr(p, from);

		if(q == NULL){
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tlen);
		o += tlen;
		p = q + flen;
	}
	free(*text);
	*text = out;
}

/* The sample with this run's ports, paths and name, as <dir>/cardex.conf. */
static void render_sample(struct fx *fx)
{
	char *text = cxb_read_file(fx->sample, NULL);
	char buf[PATH_MAX + 64];

	assert_non_null(text);
	snprintf(buf, sizeof(buf), "listen 127.0.0.1:%d;", fx->http_port);
	replace(&text, "listen 80;", buf, 1);
	replace(&text, "\tlisten [::]:80;\n", "", 1);
	snprintf(buf, sizeof(buf), "listen 127.0.0.1:%d ssl http2;", fx->https_port);
	replace(&text, "listen 443 ssl http2;", buf, 1);
	replace(&text, "\tlisten [::]:443 ssl http2;\n", "", 1);
	replace(&text, "server_name cardex.example.org;", "server_name 127.0.0.1;", 2);
	snprintf(buf, sizeof(buf), "%s/cert.pem", fx->dir);
	replace(&text, "/etc/letsencrypt/live/cardex.example.org/fullchain.pem", buf, 1);
	snprintf(buf, sizeof(buf), "%s/key.pem", fx->dir);
	replace(&text, "/etc/letsencrypt/live/cardex.example.org/privkey.pem", buf, 1);
	snprintf(buf, sizeof(buf), "%s/www", fx->dir);
	replace(&text, "/usr/share/cardex/www", buf, 1);
	snprintf(buf, sizeof(buf), "server 127.0.0.1:%d;", fx->ws_port);
	replace(&text, "server 127.0.0.1:9001;", buf, 1);
	write_text(fx->dir, "cardex.conf", text);
	free(text);
}

/*
 * nginx's main configuration: what Debian's /etc/nginx/nginx.conf sets
 * around the sites it includes, with this run's files. One process (no
 * master), so that stopping it by its PID leaves no worker behind.
 */
static void write_main_conf(struct fx *fx)
{
	char text[16384];
	const char *d = fx->dir;

	snprintf(text, sizeof(text),
			"%s"
			"daemon off;\n"
			"master_process off;\n"
			"pid %s/nginx.pid;\n"
			"error_log %s/error.log info;\n"
			"events { worker_connections 256; }\n"
			"http {\n"
			"\tsendfile on;\n"
			"\ttcp_nopush on;\n"
			"\ttypes_hash_max_size 2048;\n"
			"\tinclude /etc/nginx/mime.types;\n"
			"\tdefault_type application/octet-stream;\n"
			"\tssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n"
			"\tssl_prefer_server_ciphers on;\n"
			"\taccess_log %s/access.log;\n"
			"\tgzip on;\n"
			"\tclient_body_temp_path %s/tmp/body;\n"
			"\tproxy_temp_path %s/tmp/proxy;\n"
			"\tfastcgi_temp_path %s/tmp/fastcgi;\n"
			"\tuwsgi_temp_path %s/tmp/uwsgi;\n"
			"\tscgi_temp_path %s/tmp/scgi;\n"
			"\tinclude %s/cardex.conf;\n"
			"}\n",
			geteuid() == 0 ? "user root root;\n" : "", d, d, d, d, d, d, d, d, d);
	write_text(fx->dir, "nginx.conf", text);
}

/* The files nginx serves: the built page when there is one, and files of each type the sample names. */
static void write_page(struct fx *fx)
{
	const char *built = getenv("CARDEX_WEB_ROOT");
	char www[PATH_MAX], path[PATH_MAX], js[4096];
	size_t n = 0;

	snprintf(www, sizeof(www), "%s/www", fx->dir);
	snprintf(path, sizeof(path), "%s/index.html", built != NULL ? built : "");
	if(built != NULL && access(path, R_OK) == 0){
		const char *args[] = {"-a", "--", built, www, NULL};
		cxr_opts o = {.exe = "/bin/cp"};

		cxr_proc *cp = cxr_spawn(&o, args);
		int rc = cxr_finish(cp);

		cxr_free(cp);
		assert_int_equal(rc, 0);
		fprintf(stderr, "serving the built page from %s\n", built);
	}else{
		assert_int_equal(mkdir(www, 0755), 0);
		write_text(www, "index.html", "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
				"<title>cardex</title><link rel=\"stylesheet\" href=\"cardex-test.css\">"
				"<link rel=\"manifest\" href=\"cardex-test.webmanifest\"></head>"
				"<body><script src=\"cardex-test.js\"></script></body></html>\n");
	}
	/* Large enough for gzip (gzip_min_length) and compressible, as scripts are. */
	while(n + 64 < sizeof(js)){
		n += (size_t)snprintf(js + n, sizeof(js) - n, "function f%zu(){return document.title+%zu;}\n", n, n);
	}
	write_text(www, "cardex-test.js", js);
	write_text(www, "cardex-test.0123abcd.js", js);
	write_text(www, "cardex-test.css", "body{margin:0}\n");
	write_text(www, "cardex-test.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"/>\n");
	write_text(www, "cardex-test.webmanifest", "{\"name\":\"cardex\",\"start_url\":\"/\"}\n");
	write_text(www, "cardex-test.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n");
}

/* A self-signed certificate for 127.0.0.1, made for this run. */
static void make_certificate(struct fx *fx)
{
	char key[PATH_MAX], cert[PATH_MAX], openssl[PATH_MAX];
	const char *args[] = {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
		"-keyout", key, "-out", cert, NULL};
	cxr_opts o = {.exe = openssl};
	cxr_proc *p;

	assert_true(find_exe("openssl", openssl, sizeof(openssl)));
	snprintf(key, sizeof(key), "%s/key.pem", fx->dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", fx->dir);
	p = cxr_spawn(&o, args);
	if(cxr_finish(p) != 0){
		fprintf(stderr, "openssl: %s\n", p->ebuf);
		cxr_free(p);
		fail();
	}
	cxr_free(p);
}

/* True when something accepts TCP connections on 127.0.0.1:port. */
static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static char *error_log(const struct fx *fx)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/error.log", fx->dir);
	return cxb_read_file(path, NULL);
}

/* Starts nginx on the rendered configuration and waits (10 s at most) until both its ports accept. */
static void start_nginx(struct fx *fx)
{
	char conf[PATH_MAX], prefix[PATH_MAX], elog[PATH_MAX];
	const char *args[] = {"-p", prefix, "-c", conf, "-e", elog, NULL};
	cxr_opts o = {.exe = fx->nginx};
	long long deadline = cxb_now_ms() + 10000;

	snprintf(conf, sizeof(conf), "%s/nginx.conf", fx->dir);
	snprintf(prefix, sizeof(prefix), "%s/", fx->dir);
	snprintf(elog, sizeof(elog), "%s/error.log", fx->dir);
	fx->nginx_proc = cxr_spawn(&o, args);
	while(!(port_open(fx->https_port) && port_open(fx->http_port))){
		if(!cxr_pump(fx->nginx_proc, 50) || cxb_now_ms() > deadline){
			char *log = error_log(fx);

			fprintf(stderr, "nginx did not start: %s%s\n", fx->nginx_proc->ebuf, log != NULL ? log : "");
			free(log);
			fail();
		}
	}
}

/* Stops nginx by its PID (SIGTERM, then SIGKILL after 5 s) and reaps it. */
static void stop_nginx(struct fx *fx)
{
	long long deadline = cxb_now_ms() + 5000;

	if(fx->nginx_proc == NULL){
		return;
	}
	if(fx->nginx_proc->status == -1){
		kill(fx->nginx_proc->pid, SIGTERM);
		while(fx->nginx_proc->status == -1 && cxb_now_ms() < deadline){
			if(!cxr_pump(fx->nginx_proc, 50)){
				break;
			}
		}
	}
	cxr_free(fx->nginx_proc);
	fx->nginx_proc = NULL;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *src = getenv("CARDEX_SOURCE_DIR");
	const char *web = getenv("CARDEX_WEB_DIR");
	char extra[256], mqtt[PATH_MAX + 64];
	cxb_config cfg;

	if(fx == NULL || src == NULL || web == NULL){
		free(fx);
		return -1;
	}
	*state = fx;
	snprintf(fx->web, sizeof(fx->web), "%s", web);
	snprintf(mqtt, sizeof(mqtt), "%s/node_modules/mqtt/package.json", web);
	if(!find_exe("nginx", fx->nginx, sizeof(fx->nginx)) || !find_exe("node", fx->node, sizeof(fx->node))
			|| access(mqtt, R_OK) != 0){
		fprintf(stderr, "skipped: needs nginx, node and %s (scripts/deps installs them)\n", mqtt);
		return 0;
	}
	snprintf(fx->sample, sizeof(fx->sample), "%s/packaging/nginx/cardex.conf", src);
	snprintf(fx->script, sizeof(fx->script), "%s/tests/js/nginx-check.mjs", src);
	/* Under the build tree (ctest's working directory), not in /tmp: its own prefix. */
	assert_non_null(getcwd(fx->dir, sizeof(fx->dir) - 32));
	strcat(fx->dir, "/nginx-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(chmod(fx->dir, 0755), 0);
	snprintf(mqtt, sizeof(mqtt), "%s/tmp", fx->dir);
	assert_int_equal(mkdir(mqtt, 0700), 0);

	fx->ws_port = cxb_free_port();
	fx->https_port = cxb_free_port();
	fx->http_port = cxb_free_port();
	assert_true(fx->ws_port > 0 && fx->https_port > 0 && fx->http_port > 0);
	assert_true(fx->ws_port != fx->https_port && fx->https_port != fx->http_port && fx->ws_port != fx->http_port);
	/* The listener of docs/operations.md: loopback websockets beside the plain one, nginx a proxy. */
	snprintf(extra, sizeof(extra), "listener %d 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n"
			"websockets_headers_size 4096\n", fx->ws_port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = "plugin_opt_proxy_addresses 127.0.0.1 ::1\n";
	cfg.extra_conf = extra;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	assert_int_equal(cxb_start(&fx->b, &cfg), 0);

	make_certificate(fx);
	write_page(fx);
	render_sample(fx);
	write_main_conf(fx);
	start_nginx(fx);
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(fx == NULL){
		return 0;
	}
	cxr_free_all(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]));
	stop_nginx(fx);
	if(fx->b.pid > 0){
		cxb_stop(&fx->b);
	}
	if(fx->dir[0] != '\0' && getenv("CARDEX_KEEP_NGINX_DIR") == NULL){
		cxr_remove_tree(fx->dir);
	}
	free(fx);
	return 0;
}

/*
 * The page and its files through nginx, then the cardex CLI offers on the
 * plain listener and a WebSocket client claims through nginx: both cards
 * arrive whole.
 */
static void test_nginx_exchange(void **state)
{
	struct fx *fx = *state;
	char port[16], card[PATH_MAX], home[PATH_MAX + 32], data[PATH_MAX + 48], config[PATH_MAX + 48];
	char https[64], http[64], ca[PATH_MAX + 16], web[PATH_MAX + 16], key_line[64];
	const char *dir = getenv("CARDEX_TEST_DATA");
	const char *offer_args[] = {"offer", "--json", "--allow-plain", "--host", "127.0.0.1", "--port", port,
		"--id", "A", "--card", card, "--timeout", "60", NULL};
	const char *node_args[] = {fx->script, NULL};
	cxr_opts oo = {.password = "pw-a-secret", .env = {data, config}};
	cxr_opts no = {.exe = fx->node, .stdin_data = key_line,
		.env = {https, http, ca, web, "CX_ID=B", "CX_PASSWORD=pw-b-secret", "CX_PEER=A"}};
	cxr_proc *offerer, *client;
	cJSON *ev, *lines;
	const cJSON *line;
	bool got_card = false, sent = false, limited = false, browser = false;
	char *log;

	if(fx->nginx_proc == NULL){
		skip();
	}
	snprintf(port, sizeof(port), "%d", fx->b.port);
	snprintf(card, sizeof(card), "%s/ada.json", dir != NULL ? dir : "tests/data");
	snprintf(home, sizeof(home), "%s/home", fx->dir);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(data, sizeof(data), "XDG_DATA_HOME=%s", home);
	snprintf(config, sizeof(config), "XDG_CONFIG_HOME=%s", home);
	snprintf(https, sizeof(https), "CX_HTTPS=https://127.0.0.1:%d", fx->https_port);
	snprintf(http, sizeof(http), "CX_HTTP=http://127.0.0.1:%d", fx->http_port);
	snprintf(ca, sizeof(ca), "CX_CA=%s/cert.pem", fx->dir);
	snprintf(web, sizeof(web), "CX_WEB_DIR=%s", fx->web);

	offerer = cxr_spawn(&oo, offer_args);
	cxr_track(fx->procs, 4, offerer);
	cxr_offer_key(offerer, key_line, sizeof(key_line));
	client = cxr_spawn(&no, node_args);
	cxr_track(fx->procs, 4, client);
	if(cxr_finish(client) != 0){
		log = error_log(fx);
		fprintf(stderr, "nginx-check.mjs failed:\n%s%s\nnginx error.log:\n%s\n", client->obuf, client->ebuf,
				log != NULL ? log : "");
		free(log);
		fail();
	}
	assert_int_equal(cxr_finish(offerer), 0);

	/* The web terminal got A's card whole, and its own was sent. */
	lines = cxr_json_lines(client);
	cJSON_ArrayForEach(line, lines) {
		const char *event = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(line, "event"));
		char *text = cJSON_PrintUnformatted(line);

		assert_non_null(event);
		if(strcmp(event, "card") == 0){
			assert_string_equal(cxr_jstr(line, "from"), "A");
			assert_non_null(strstr(text, "[\"fn\",{},\"text\",\"Ada Lovelace\"]"));
			got_card = true;
		}else if(strcmp(event, "sent") == 0){
			assert_string_equal(cxr_jstr(line, "to"), "A");
			sent = true;
		}else if(strcmp(event, "limit") == 0){
			fprintf(stderr, "%s\n", text);
			limited = true;
		}else if(strcmp(event, "browser") == 0){
			/* Chromium loaded the page under the CSP (or says why it could not be run). */
			fprintf(stderr, "%s\n", text);
			browser = true;
		}
		free(text);
	}
	cJSON_Delete(lines);
	assert_true(got_card && sent && limited && browser);
	/* The CLI got the web terminal's card. */
	ev = cxr_json_event(offerer, "card", NULL);
	assert_non_null(ev);
	assert_string_equal(cxr_jstr(ev, "from"), "B");
	assert_non_null(strstr(offerer->obuf, "Web Phone"));
	cJSON_Delete(ev);

	/* Mosquitto saw the WebSocket client come from nginx, which the plugin knows as a proxy. */
	assert_true(cxb_log_contains(&fx->b, "cardex: proxy_addresses | 2 networks"));
	assert_true(cxb_log_contains(&fx->b, "as B:web"));
	/* nginx logged nothing worse than errors (the handshakes it limited). */
	log = error_log(fx);
	assert_non_null(log);
	assert_null(strstr(log, "[emerg]"));
	assert_null(strstr(log, "[alert]"));
	assert_null(strstr(log, "[crit]"));
	assert_non_null(strstr(log, "limiting requests"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nginx_exchange, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
