/* Preloaded into Bun by clients/bun-sql/adapter.js (LD_PRELOAD): libpq's hostaddr
 * for Bun.SQL, which has none. Bun resolves a PostgreSQL host with the C
 * library's getaddrinfo (measured: Bun 1.4.5 calls it from its DNS thread
 * pool); this getaddrinfo answers the one name the adapter mapped for the
 * current case with its address, as an /etc/hosts entry would, and passes
 * every other name to the real getaddrinfo (dlsym(RTLD_NEXT)). The TLS code
 * still sees the name (SNI, host-name check). The adapter sets the mapping
 * through pgtls_hostaddr_map(), called with bun:ffi. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
                      struct addrinfo **);

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static char map_host[256];
static char map_addr[64];

/* host/addr NULL or "" clears the mapping. Returns 0, or -1 when a name or
 * an address is too long to keep (then nothing is mapped). */
int pgtls_hostaddr_map(const char *host, const char *addr);
int pgtls_hostaddr_map(const char *host, const char *addr) {
  int rc = 0;
  pthread_mutex_lock(&map_lock);
  map_host[0] = map_addr[0] = '\0';
  if (host && addr && host[0] && addr[0]) {
    if (strlen(host) < sizeof map_host && strlen(addr) < sizeof map_addr) {
      strcpy(map_host, host);
      strcpy(map_addr, addr);
    } else {
      rc = -1;
    }
  }
  pthread_mutex_unlock(&map_lock);
  return rc;
}

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res) {
  /* ISO C cannot cast dlsym's void * to a function pointer; POSIX says the
   * representations agree, so copy the bytes. */
  void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
  gai_fn real = NULL;
  memcpy(&real, &sym, sizeof real);
  if (!real) return EAI_SYSTEM;
  char addr[sizeof map_addr] = "";
  if (node) {
    pthread_mutex_lock(&map_lock);
    if (map_host[0] && strcasecmp(node, map_host) == 0) strcpy(addr, map_addr);
    pthread_mutex_unlock(&map_lock);
  }
  if (!addr[0]) return real(node, service, hints, res);
  struct addrinfo h = {0};
  if (hints) h = *hints;
  h.ai_flags |= AI_NUMERICHOST;
  return real(addr, service, &h, res);
}
