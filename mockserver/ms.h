/* pgtls mockserver: public API (contract; the runner embeds the server with it).
 *
 * A server holds many listeners (one per scenario per runner worker), all
 * loopback by default, served by background threads. Every connection ends in
 * exactly one event: a JSON object (see docs/event-log.md) written as one line
 * to opts.event_fd (if >= 0) and handed to opts.on_event (if set).
 *
 * Threads: one acceptor thread plus one thread per connection (small
 * stacks). SIGPIPE, SIGHUP, SIGINT and SIGTERM are blocked in the server's
 * threads, so the embedding program receives them on its own threads. */
#ifndef PGTLS_MS_H
#define PGTLS_MS_H

#include "err.h"

typedef struct ms_server ms_server;

typedef struct ms_options {
    const char *fixtures_dir; /* folder holding index.json (pgtls ca gen --out) */
    const char *bind_addr;    /* default "127.0.0.1"; anything else must be asked for */
    int event_fd;             /* -1: no log file */
    /* Called from a server thread once per finished connection; json_line has
     * no trailing newline and is valid only during the call. */
    void (*on_event)(void *userdata, int listener_id, const char *json_line);
    void *userdata;
    int max_connections; /* 0: default 4096; over it: FATAL 53300 */
    int timeout_ms;      /* every read (startup, handshake, idle); 0: default 10000 */
} ms_options;

/* Loads the fixtures index. Returns NULL with a message in err. */
ms_server *ms_server_new(const ms_options *opts, pgtls_err *err);

/* Adds a listener serving `scenario` on port (0: a free port). Returns the
 * listener id (>= 0) and the bound port in *out_port, or -1 with a message
 * in err (unknown scenario, port in use, bad files...). May be called before
 * or after ms_server_start. */
int ms_server_listen(ms_server *s, const char *scenario, int port, int *out_port, pgtls_err *err);

/* Like ms_server_listen, with overrides of the scenario's server settings:
 * a NULL-terminated list of "key=value" with the names of index.json's
 * `server` object (ssl, require_secure_transport, ssl_min_protocol_version,
 * ssl_max_protocol_version, ssl_ciphers, ssl_tls13_ciphers, ssl_groups, auth,
 * user, password, client_cert, server_version, direct_tls) plus chain_pem and
 * key_pem (absolute paths). settings may be NULL. The overrides stay with the
 * listener across ms_server_reload. Same return contract. */
int ms_server_listen_ex(ms_server *s, const char *scenario, int port, const char *const *settings,
                        int *out_port, pgtls_err *err);

/* Starts serving in background threads. Returns 0 if OK, -1 with err. */
int ms_server_start(ms_server *s, pgtls_err *err);

/* Waits until listener_id has no open connection and every event of its
 * closed connections has been delivered, or timeout_ms passes. Returns 0 when
 * idle, -1 on timeout. */
int ms_server_wait_idle(ms_server *s, int listener_id, int timeout_ms);

/* Re-reads every scenario's files (SIGHUP): new connections get the new chain,
 * open ones keep theirs. Returns 0 if OK, -1 with err (old config kept). */
int ms_server_reload(ms_server *s, pgtls_err *err);

/* Number of connections of listener_id open right now (-1: no such
 * listener). For tests and the CLI's status. */
int ms_server_open_connections(ms_server *s, int listener_id);

/* Stops accepting, closes connections (each still gets its event), joins the
 * threads. Safe to call twice. */
void ms_server_stop(ms_server *s);

/* Frees everything; accepts NULL; stops first if needed. */
void ms_server_free(ms_server *s);

/* Prints, for a listener of `pgtls mock`, a ready-to-paste psql connection line
 * (host name, hostaddr, port, user, database, and the fixtures' root file that
 * verifies the scenario's chain) and where its password is, never the password
 * itself. Settings are the --set key=value list (NULL-terminated, may be NULL).
 * Prints nothing when the fixtures cannot be read. */
#include <stdio.h>
void ms_print_connect_hint(FILE *f, const char *fixtures_dir, const char *scenario,
                           const char *addr, int port, const char *const *settings);

/* ---- Command entry point (the pgtls binary calls it) ---- */

/* `pgtls mock ...`: argv[0] is the subcommand name; returns the exit status
 * (0 ok, 1 findings or failures, 2 usage or input error). */
int ms_cli_main(int argc, char **argv);

/* `pgtls mock --cert FILE --key FILE [--ca FILE]`: writes a one-scenario
 * ("own") fixtures index into a new private temporary folder that names the
 * user's files by absolute path (the key is never copied). Returns the folder
 * (heap; remove it with ms_userfiles_remove) or NULL with err. */
char *ms_userfiles_fixtures(const char *cert, const char *key, const char *ca, pgtls_err *err);
void ms_userfiles_remove(char *dir);

#endif
