/*
 * Whether the broker disables Nagle's algorithm (set_tcp_nodelay). The
 * plugin interface of Mosquitto 2.0 shows a plugin neither the broker's
 * configuration nor a client's socket, but the plugin runs inside the
 * broker's process: the broker's sockets are its file descriptors. A
 * connection the broker accepted is a TCP socket whose local port is the
 * port of one of its listening sockets (outgoing bridge connections use
 * other ports); Mosquitto sets TCP_NODELAY on such a socket right after
 * accept() when set_tcp_nodelay is true, and never otherwise.
 *
 * So once a client is connected, the answer can be read with getsockopt.
 * Until then the plugin looks once a second, and it answers once.
 *
 * Websockets listeners are left out: libwebsockets accepts their
 * connections itself and sets TCP_NODELAY on them whatever the option says
 * (seen with the libwebsockets 4.1.6 built into Debian 12's mosquitto). It
 * sets it on its listening socket too, which Mosquitto never does on its
 * own, so a listening socket with TCP_NODELAY is a websockets listener and
 * its connections prove nothing. With only websockets clients connected,
 * no answer is given.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "plugin.h"

#define NODELAY_RETRY_MS 1000
#define NODELAY_ASKED_MAX 64 /* looks asked for by requests, at most */
#define MAX_LISTENERS 64
#define MAX_FDS_LOOKED_AT 4096 /* bound on one look, however many connections there are */

enum { VERDICT_NONE, VERDICT_ON, VERDICT_OFF };

/*
 * The local port of stream socket fd (IPv4 or IPv6: TCP, as far as Mosquitto
 * is concerned), or -1 when fd is not one.
 */
static int tcp_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0;
	socklen_t olen = sizeof(type);

	if(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) != 0 || type != SOCK_STREAM){
		return -1;
	}
	if(getsockname(fd, (struct sockaddr *)&ss, &len) != 0){
		return -1;
	}
	if(ss.ss_family == AF_INET){
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if(ss.ss_family == AF_INET6){
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return -1;
}

static bool listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on != 0;
}

/* Calls fn(fd, arg) for each socket among the process's descriptors, at most MAX_FDS_LOOKED_AT. */
static void each_socket(void (*fn)(int fd, void *arg), void *arg)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t seen = 0;
	int dfd;

	if(d == NULL){
		return;
	}
	dfd = dirfd(d);
	while((de = readdir(d)) != NULL && seen++ < MAX_FDS_LOOKED_AT){
		struct stat sb;
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if(de->d_name[0] == '.' || *end != '\0' || fd < 0 || fd == dfd){
			continue;
		}
		if(fstat((int)fd, &sb) == 0 && S_ISSOCK(sb.st_mode)){
			fn((int)fd, arg);
		}
	}
	closedir(d);
}

struct look {
	int ports[MAX_LISTENERS];
	size_t nports;
	int verdict;
};

static bool has_nodelay(int fd, bool *on)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0){
		return false;
	}
	*on = v != 0;
	return true;
}

/* Records the port of a listening socket of Mosquitto's own (not libwebsockets'). */
static void collect_listener(int fd, void *arg)
{
	struct look *lk = arg;
	bool lws = true;
	int port;

	if(lk->nports == MAX_LISTENERS || !listening(fd)){
		return;
	}
	port = tcp_local_port(fd);
	if(port > 0 && has_nodelay(fd, &lws) && !lws){
		lk->ports[lk->nports++] = port;
	}
}

/* Reads TCP_NODELAY of a connection accepted on one of the recorded ports. */
static void judge_connection(int fd, void *arg)
{
	struct look *lk = arg;
	bool nodelay = false;
	int port;

	if(lk->verdict != VERDICT_NONE || listening(fd)){
		return;
	}
	port = tcp_local_port(fd);
	if(port <= 0){
		return;
	}
	for(size_t i = 0; i < lk->nports; i++){
		if(lk->ports[i] == port){
			if(has_nodelay(fd, &nodelay)){
				lk->verdict = nodelay ? VERDICT_ON : VERDICT_OFF;
			}
			return;
		}
	}
}

void plugin__nodelay_check(struct plugin__data *data, int64_t now_ms)
{
	struct plugin__nodelay_state *ns = &data->nodelay;
	struct look lk = {.nports = 0, .verdict = VERDICT_NONE};

	if(ns->decided || now_ms < ns->next_ms){
		return;
	}
	ns->next_ms = now_ms + NODELAY_RETRY_MS;
	each_socket(collect_listener, &lk);
	if(lk.nports == 0){
		return;
	}
	each_socket(judge_connection, &lk);
	if(lk.verdict == VERDICT_NONE){
		return;
	}
	ns->decided = true;
	if(lk.verdict == VERDICT_OFF){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: set_tcp_nodelay is off: each reply after the first in a row waits for the "
				"terminal's delayed ACK (up to 40 ms), which slows every exchange. "
				"Add \"set_tcp_nodelay true\" to the broker's configuration");
	}else{
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: set_tcp_nodelay is on");
	}
}

void plugin__nodelay_soon(struct plugin__data *data)
{
	struct plugin__nodelay_state *ns = &data->nodelay;

	if(!ns->decided && ns->next_ms != 0 && ns->asked < NODELAY_ASKED_MAX){
		ns->asked++;
		ns->next_ms = 0;
	}
}
